"""Import benchmark: a ~1 GB Claude Code history, first import, re-import, report, and ccusage.

    .venv/bin/python bench/import.py [--size-gb 1.0] [--workdir bench/.work] [--no-ccusage]
    .venv/bin/python bench/import.py --mixed 0.4 ...   # 40% of the bytes from the other agents

With `--mixed F`, a fraction F of the corpus is Codex CLI rollouts (both formats), Gemini CLI
chats and Qwen Code chats, cloned with fresh ids from the files our own real runs of those
clients wrote (tests/fixtures/agents), imported in the same run as the Claude Code history.

Builds the corpus by cloning the spotter sessions of ../shared/corpus with fresh ids (sessions,
uuids, message ids, request ids, tool_use ids, agent ids), spread over 90 days and 20 projects,
then measures, each as a whole process:
  - the first `agent-trace import` (MB/s and peak RSS),
  - a re-import of the unchanged files,
  - `agent-trace report daily --json` (median of several runs),
  - `ccusage@20.0.24 daily --json --offline` on the same files (npm; re-reads every file each run).
Prints one table (and the two tools' token totals side by side).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
SPOTTER = (
    Path(os.environ.get("AGENT_TRACE_SHARED", REPO.parent / "shared")) / "corpus" / "claude-code" / "spotter"
)
CCUSAGE_VERSION = "20.0.24"

UUID_RE = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PREFIXED_RE = re.compile(rb"\b(msg|req|toolu)_[A-Za-z0-9]{8,}")
AGENT_RE = re.compile(rb'(?<=agentId":")(acompact-[0-9a-f]+|a[0-9a-f]{6,})(?=")')
TS_RE = re.compile(rb'"timestamp":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?)Z"')
CWD_RE = re.compile(rb"/home/USER/projects/spotter-worktrees/spotter-[a-z0-9]+")
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _fresh_like(token: bytes, rng: random.Random) -> bytes:
    """A new id of the same shape and length (so line lengths and the corpus size are unchanged)."""
    text = token.decode()
    if UUID_RE.fullmatch(token):
        return str(uuid.UUID(int=rng.getrandbits(128), version=4)).encode()
    prefix, _, rest = text.partition("_")
    if rest:
        return (prefix + "_" + "".join(rng.choice(ALNUM) for _ in rest)).encode()
    if text.startswith("acompact-"):
        return ("acompact-" + "".join(rng.choice("0123456789abcdef") for _ in text[9:])).encode()
    return ("a" + "".join(rng.choice("0123456789abcdef") for _ in text[1:])).encode()


def _clone_file(
    data: bytes, mapping: dict[bytes, bytes], rng: random.Random, shift: timedelta, project: bytes
) -> bytes:
    def remap(match: re.Match[bytes]) -> bytes:
        token = match.group(0)
        new = mapping.get(token)
        if new is None:
            new = mapping[token] = _fresh_like(token, rng)
        return new

    data = UUID_RE.sub(remap, data)
    data = PREFIXED_RE.sub(remap, data)
    data = AGENT_RE.sub(remap, data)

    def move(match: re.Match[bytes]) -> bytes:
        ts = datetime.fromisoformat(match.group(1).decode()).replace(tzinfo=UTC) + shift
        return b'"timestamp":"' + ts.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3].encode() + b'Z"'

    data = TS_RE.sub(move, data)
    return CWD_RE.sub(project, data)


def build_corpus(dest: Path, size_bytes: int, seed: int = 7) -> tuple[int, int]:
    """Clone spotter until `size_bytes`; returns (files, bytes)."""
    sources = sorted(p for p in SPOTTER.rglob("*.jsonl"))
    if not sources:
        sys.exit(f"no spotter corpus at {SPOTTER}")
    rng = random.Random(seed)
    base = sum(p.stat().st_size for p in sources)
    clones = max(1, round(size_bytes / base))
    files = written = 0
    projects_dir = dest / "projects"
    for clone in range(clones):
        mapping: dict[bytes, bytes] = {}
        shift = timedelta(days=-90 + 90 * clone / clones, hours=rng.randint(-6, 6))
        project_no = clone % 20
        project = f"/home/USER/projects/proj-{project_no:02d}".encode()
        folder = projects_dir / f"-home-USER-projects-proj-{project_no:02d}"
        for src in sources:
            data = _clone_file(src.read_bytes(), mapping, rng, shift, project)
            rel = src.relative_to(SPOTTER)
            parts = list(rel.parts)
            if parts[0] == "projects":
                parts = parts[2:]  # drop projects/<folder>/
            # File names carry session and agent ids: rename them like the contents.
            renamed = [_rename(part, mapping) for part in parts]
            if len(renamed) == 1 and not UUID_RE.search(renamed[0].encode()):
                # Loose files (short.jsonl, …) carry no id in their name: keep clones apart.
                renamed = [renamed[0].replace(".jsonl", f"-{clone:03d}.jsonl")]
            out = folder.joinpath(*renamed)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(data)
            files += 1
            written += len(data)
    return files, written


AGENT_FIXTURES = REPO / "tests" / "fixtures" / "agents"
AGENT_ID_RE = re.compile(
    rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\b(?:call|resp|fc|ctc|msg|rs)_[A-Za-z0-9]{16,}"
    rb"|chatcmpl-[0-9a-f]{32}|\b[0-9a-f]{8}(?=\.jsonl)"
)


def build_agent_corpus(dest: Path, size_bytes: int, seed: int = 11) -> tuple[int, int]:
    """Codex / Gemini CLI / Qwen Code session files cloned from the fixtures with fresh ids (so
    every clone is a different session with different calls), in each agent's own layout."""
    rng = random.Random(seed)
    sources = [(f, "codex") for f in sorted((AGENT_FIXTURES / "codex-0.171.0").glob("rollout-*.jsonl"))] + [
        (f, "codex") for f in sorted((AGENT_FIXTURES / "codex-0.63.0").glob("rollout-*.jsonl"))
    ]
    sources += [(f, "gemini") for f in sorted((AGENT_FIXTURES / "gemini-0.61.0").rglob("session-*.jsonl"))]
    sources += [(f, "qwen") for f in sorted((AGENT_FIXTURES / "qwen-0.24.4").rglob("*.jsonl"))]
    files = total = 0
    while total < size_bytes:
        for source, agent in sources:
            mapping: dict[bytes, bytes] = {}

            def remap(match: re.Match[bytes], mapping: dict[bytes, bytes] = mapping) -> bytes:
                token = match.group(0)
                found = mapping.get(token)
                if found is None:
                    found = mapping[token] = (
                        _fresh_like(token, rng)
                        if b"-" in token or b"_" in token
                        else ("".join(rng.choice("0123456789abcdef") for _ in token).encode())
                    )
                return found

            data = AGENT_ID_RE.sub(remap, source.read_bytes())
            name = AGENT_ID_RE.sub(remap, source.name.encode()).decode()
            project = f"p{files % 20:02d}"
            if agent == "codex":
                target = dest / "codex" / "sessions" / "2026" / "12" / f"{files % 28 + 1:02d}" / name
            elif agent == "gemini":
                target = dest / "gemini" / "tmp" / project / "chats" / name
            else:
                target = dest / "qwen" / ".qwen" / "projects" / f"-{project}" / "chats" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            files += 1
            total += len(data)
            if total >= size_bytes:
                break
    return files, total


def _rename(part: str, mapping: dict[bytes, bytes]) -> str:
    encoded = part.encode()
    for match in list(UUID_RE.finditer(encoded)):
        token = match.group(0)
        if token in mapping:
            encoded = encoded.replace(token, mapping[token])
    if encoded.startswith(b"agent-"):
        agent = encoded[len(b"agent-") : encoded.index(b".")]
        if agent in mapping:
            encoded = b"agent-" + mapping[agent] + encoded[encoded.index(b".") :]
    return encoded.decode()


_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss(root: int) -> int:
    """Resident bytes of a process and all its descendants (the import's parse worker too).
    Walks the tree down from `root` (/proc/PID/task/TID/children): a few small reads per sample,
    not one per process on the machine, so sampling costs the measured import little."""
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                total += int(handle.read().rsplit(b")", 1)[1].split()[21]) * _PAGE_SIZE
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", "rb") as handle:
                    stack.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError):
            continue
    return total


def run_with_rss(cmd: list[str], env: dict[str, str]) -> tuple[float, int, bytes]:
    """Wall seconds, peak RSS of the whole process tree (sampled every 20 ms, and the
    process's own kernel-recorded peak), and stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak_tree = 0
    sampling = True

    def sample() -> None:
        nonlocal peak_tree
        while sampling:
            peak_tree = max(peak_tree, _tree_rss(proc.pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    # wait4 reaps this child and returns its own rusage (not the sum of all children).
    out_chunks: list[bytes] = []
    assert proc.stdout is not None and proc.stderr is not None
    err_chunks: list[bytes] = []
    t1 = threading.Thread(target=lambda: out_chunks.append(proc.stdout.read()))  # type: ignore[union-attr]
    t2 = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()))  # type: ignore[union-attr]
    t1.start()
    t2.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    sampling = False
    sampler.join()
    t1.join()
    t2.join()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"{' '.join(cmd)} failed ({code}):\n{b''.join(err_chunks).decode(errors='replace')}")
    return elapsed, max(usage.ru_maxrss * 1024, peak_tree), b"".join(out_chunks)


def median_time(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def ensure_ccusage(workdir: Path) -> Path | None:
    prefix = workdir / f"ccusage-{CCUSAGE_VERSION}"
    binary = prefix / "node_modules" / ".bin" / "ccusage"
    if binary.exists():
        return binary
    if shutil.which("npm") is None:
        return None
    prefix.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        ["npm", "install", "--prefix", str(prefix), "--no-audit", "--no-fund", f"ccusage@{CCUSAGE_VERSION}"],
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        print(f"npm install ccusage failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    return binary if binary.exists() else None


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / ".work")
    parser.add_argument("--report-runs", type=int, default=7)
    parser.add_argument("--no-ccusage", action="store_true")
    parser.add_argument(
        "--no-growth", dest="growth", action="store_false", help="skip the report-vs-history series"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the corpus even if present")
    parser.add_argument(
        "--mixed", type=float, default=0.0, metavar="F", help="this fraction of the bytes from other agents"
    )
    args = parser.parse_args()

    workdir: Path = args.workdir.resolve()
    corpus = workdir / (f"corpus-{args.size_gb:g}gb" + (f"-mixed{args.mixed:g}" if args.mixed else ""))
    marker = corpus / ".complete"
    if args.rebuild and corpus.exists():
        shutil.rmtree(corpus)
    if not marker.exists():
        if corpus.exists():
            shutil.rmtree(corpus)
        started = time.perf_counter()
        files, size = build_corpus(corpus, int(args.size_gb * (1 - args.mixed) * 1e9))
        if args.mixed:
            more_files, more = build_agent_corpus(corpus / "agents", int(args.size_gb * args.mixed * 1e9))
            files, size = files + more_files, size + more
        marker.write_text(f"{files} {size}\n")
        print(f"built corpus: {files} files, {size / 1e6:,.0f} MB in {time.perf_counter() - started:.0f} s")
    files_count, corpus_bytes = (int(x) for x in marker.read_text().split())

    home = workdir / "home"
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(workdir),
        "AGENT_TRACE_HOME": str(home),
        "USER": "bench",
        "TZ": "UTC",
    }
    agent_trace = [sys.executable, "-m", "agent_trace.cli.main"]
    projects = str(corpus / "projects")
    roots = [projects] + ([str(corpus / "agents")] if args.mixed else [])

    # Flush what earlier runs (or the corpus build) left to write: the kernel writing back their
    # files while the import runs would be charged to the import.
    os.sync()
    first_s, first_rss, _ = run_with_rss([*agent_trace, "import", "--quiet", *roots], env)
    again_s, again_rss, _ = run_with_rss([*agent_trace, "import", "--quiet", *roots], env)
    report_cmd = [*agent_trace, "report", "daily", "--json"]
    run_with_rss(report_cmd, env)  # warm the page cache once
    report_s = median_time(lambda: run_with_rss(report_cmd, env), args.report_runs)
    _t, report_rss, report_out = run_with_rss(report_cmd, env)
    ours = orjson.loads(report_out)["totals"]

    cc_s: float | None = None
    cc_totals = None
    if not args.no_ccusage:
        binary = ensure_ccusage(workdir)
        if binary is not None:
            cc_env = {**env, "CLAUDE_CONFIG_DIR": str(corpus)}
            cc_cmd = [str(binary), "daily", "--json", "--offline"]
            run_with_rss(cc_cmd, cc_env)
            cc_s = median_time(lambda: run_with_rss(cc_cmd, cc_env), 3)
            cc_totals = orjson.loads(run_with_rss(cc_cmd, cc_env)[2]).get("totals")

    # Flat as history grows: the same report after a quarter, half, three quarters and all of the
    # history, imported incrementally into a second home.
    growth: list[tuple[int, float]] = []
    if args.growth:
        grow_home = workdir / "home-growth"
        if grow_home.exists():
            shutil.rmtree(grow_home)
        grow_home.mkdir(parents=True)
        grow_env = {**env, "AGENT_TRACE_HOME": str(grow_home)}
        folders = sorted((corpus / "projects").iterdir())
        quarter = max(1, len(folders) // 4)
        imported_bytes = 0
        grow_cmd = [*agent_trace, "report", "daily", "--json"]
        for stage in range(1, 5):
            batch = folders[(stage - 1) * quarter : stage * quarter if stage < 4 else len(folders)]
            imported_bytes += sum(f.stat().st_size for folder in batch for f in folder.rglob("*.jsonl"))
            run_with_rss([*agent_trace, "import", "--quiet", *map(str, batch)], grow_env)
            run_with_rss(grow_cmd, grow_env)
            seconds = median_time(lambda: run_with_rss(grow_cmd, grow_env), args.report_runs)
            growth.append((imported_bytes, seconds))

    mb = corpus_bytes / 1e6
    rows = [
        ("corpus", f"{files_count:,} files, {mb:,.0f} MB"),
        (
            "first import",
            f"{first_s:.1f} s = {mb / first_s:,.0f} MB/s, peak RSS {first_rss / 1e6:,.0f} MB (all processes)",
        ),
        ("re-import (unchanged)", f"{again_s:.2f} s, peak RSS {again_rss / 1e6:,.0f} MB"),
        (
            "report daily --json",
            f"{report_s * 1000:,.0f} ms (median of {args.report_runs}), peak RSS {report_rss / 1e6:,.0f} MB",
        ),
        (
            f"ccusage@{CCUSAGE_VERSION} daily --json --offline",
            "not run" if cc_s is None else f"{cc_s * 1000:,.0f} ms (median of 3)",
        ),
    ]
    for size, seconds in growth:
        rows.append(
            (
                f"report daily --json at {size / 1e6:,.0f} MB",
                f"{seconds * 1000:,.0f} ms (median of {args.report_runs})",
            )
        )
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measure'.ljust(width)} | result")
    print(f"{'-' * width}-|-{'-' * 60}")
    for name, value in rows:
        print(f"{name.ljust(width)} | {value}")
    print("\ntotals                 | agent-trace            | ccusage")
    keys = [
        ("input", "input_tokens", "inputTokens"),
        ("output", "output_tokens", "outputTokens"),
        ("cache write", "cache_creation_tokens", "cacheCreationTokens"),
        ("cache read", "cache_read_tokens", "cacheReadTokens"),
        ("cost USD", "cost_usd", "totalCost"),
    ]
    for label, ours_key, cc_key in keys:
        theirs = "" if not cc_totals else cc_totals.get(cc_key)
        print(f"{label:<22} | {ours.get(ours_key)!s:<22} | {theirs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
