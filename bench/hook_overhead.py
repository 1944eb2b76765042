"""Hook overhead: the same scripted real-CLI session with agent-trace installed and without it.

    .venv/bin/python bench/hook_overhead.py [--pairs 9] [--scenario tools] [--no-write]

Runs the real Claude Code CLI (tests/e2e harness: pinned 2.1.331, fake Messages API) through one
scenario in a fresh HOME and git repository per run. A real `agent-trace serve --role collector`
runs for BOTH variants, so the only difference is `agent-trace init` in the installed one (its
hooks and OpenTelemetry export). Runs are interleaved in pairs, alternating which goes first, and
before every timed run the previous run's detached hook workers are waited for (untimed), so
neither variant pays for the other's background work. Reports the median of the per-pair ratios
and of the raw times.

Then the handler itself:
  - Claude Code's own timing of each of our hooks in those sessions (its OTLP
    `hook_execution_complete` events, as stored by the collector);
  - foreground: what Claude Code waits for on a command hook, as a whole process: the installed
    shell line (starts the handler in the background), and the handler run directly (fork);
  - worker: the detached part at Stop (git state, the whole session transcript as a delta, tier +
    redaction, spool, delivery to the collector), run inline;
  - http: one hook POST answered by the collector (what Claude Code waits for on an http hook).

Prints a table and writes it to docs/benchmarks.md under "## Hook overhead".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.e2e.support.claude_cli import ClaudeSession, install_claude_cli  # noqa: E402
from tests.e2e.support.fake_anthropic import FakeAnthropic  # noqa: E402
from tests.e2e.support.scenarios import ALL_SCENARIOS  # noqa: E402

AGENT_TRACE = [sys.executable, "-m", "agent_trace.cli.main"]
HOOK_SCRIPT = REPO / "src" / "agent_trace" / "hook" / "__main__.py"
SECTION = "## Hook overhead"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class Collector:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(home),
            "AGENT_TRACE_HOME": str(home / "server"),
            "COLLECTOR_PORT": str(self.port),
            "OTEL_GRPC_ADDRESS": "off",
        }
        self.log = open(home / "collector.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [*AGENT_TRACE, "serve", "--role", "collector"], env=env, stdout=self.log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("collector did not start; see collector.log")

    def cpu_s(self) -> float:
        """User + system CPU seconds of the collector process so far (Linux /proc)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


def client_env(home: Path, at_home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AGENT_TRACE_HOME": str(at_home),
        "USER": "bench",
    }


def install(session: ClaudeSession, collector: Collector, at_home: Path, only: str | None = None) -> None:
    subprocess.run(
        [*AGENT_TRACE, "init", "--collector-url", collector.url],
        env=client_env(session.home, at_home),
        check=True,
        capture_output=True,
    )
    if only:  # a breakdown: keep just the hooks, or just the OpenTelemetry env keys
        settings = json.loads(session.settings_path.read_text())
        settings.pop("env" if only == "hooks" else "hooks")
        session.settings_path.write_text(json.dumps(settings, indent=2))


def wait_idle(home: Path, at_home: Path) -> None:
    """Let earlier runs' detached hook workers finish (they would compete for the CPU)."""
    if (home / ".claude" / "agent-trace.json").is_file():
        subprocess.run(
            [*AGENT_TRACE, "hook-handler", "--flush", "--wait", "30", "--quiet"],
            env=client_env(home, at_home),
            capture_output=True,
        )


def session_runs(
    scenario_name: str,
    pairs: int,
    collector: Collector,
    fake: FakeAnthropic,
    binary: Path,
    work: Path,
    only: str | None = None,
) -> tuple[list[float], list[float], ClaudeSession, set[str]]:
    scenario = ALL_SCENARIOS[scenario_name]
    at_home = work / "client"
    times: dict[str, list[float]] = {"bare": [], "installed": []}
    last_installed: ClaudeSession | None = None
    installed_ids: set[str] = set()
    previous_home: Path | None = None
    for i in range(pairs + 1):  # pair 0 warms caches and is not counted
        order = ("bare", "installed") if i % 2 else ("installed", "bare")
        for variant in order:
            session = ClaudeSession(fake.url, work / f"{i}-{variant}", binary=binary)
            if variant == "installed":
                install(session, collector, at_home, only)
            if previous_home is not None:
                wait_idle(previous_home, at_home)
            elapsed = 0.0
            for prompt in scenario.prompts:
                elapsed += session.run(prompt).duration_s
            if i:
                times[variant].append(elapsed)
            previous_home = session.home
            if variant == "installed":
                last_installed = session
                installed_ids.update(r.session_id for r in session.runs if r.session_id)
            print(f"  pair {i} {variant:<9} {elapsed:.3f} s", file=sys.stderr)
    assert last_installed is not None and previous_home is not None
    wait_idle(previous_home, at_home)
    return times["bare"], times["installed"], last_installed, installed_ids


def claude_hook_timings(collector: Collector, session_ids: set[str]) -> dict[str, list[float]]:
    """Per event, how long Claude Code itself says our hooks took (OTLP hook_execution_complete)."""
    import sqlite3

    out: dict[str, list[float]] = {}
    db = sqlite3.connect(f"file:{collector.home / 'server' / 'agent-trace.db'}?mode=ro", uri=True)
    try:
        for (payload,) in db.execute("select payload from raw_events where kind = 'hook_execution_complete'"):
            event = json.loads(payload)
            attributes = event.get("attributes", event)  # log records are stored flat
            if attributes.get("session.id") in session_ids and "total_duration_ms" in attributes:
                name = f"Claude Code's own timing of our {attributes.get('hook_event')} hook"
                out.setdefault(name, []).append(float(attributes["total_duration_ms"]))
    finally:
        db.close()
    return out


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def handler_latency(
    session: ClaudeSession, at_home: Path, collector: Collector, n: int
) -> dict[str, list[float]]:
    run = session.runs[-1]
    assert run.session_id and run.transcript_path
    base = {
        "session_id": run.session_id,
        "transcript_path": str(run.transcript_path),
        "cwd": str(session.repo),
        "permission_mode": "bypassPermissions",
    }
    env = {**client_env(session.home, at_home), "CLAUDE_PROJECT_DIR": str(session.repo)}
    from agent_trace.cli.install_files import hook_command

    shell_line = hook_command()
    results: dict[str, list[float]] = {}
    for event, extra in (
        ("SessionStart", {"source": "startup"}),
        ("Stop", {"stop_hook_active": False}),
        ("SessionEnd", {"reason": "other"}),
    ):
        payload = json.dumps({**base, "hook_event_name": event, **extra}).encode()
        for label, argv in (
            ("installed shell line", ["/bin/sh", "-c", shell_line]),
            ("direct, fork", [sys.executable, "-I", "-S", str(HOOK_SCRIPT)]),
        ):
            samples = []
            for _ in range(n):
                started = time.perf_counter()
                subprocess.run(argv, input=payload, env=env, check=True)
                samples.append((time.perf_counter() - started) * 1000)
                wait_idle(session.home, at_home)  # untimed: only what Claude Code waits for
            results[f"command hook as Claude Code waits for it: {label} ({event})"] = samples

    state_dir = at_home / "hook-state"
    stop = json.dumps({**base, "hook_event_name": "Stop", "stop_hook_active": False}).encode()

    def worker() -> None:
        shutil.rmtree(state_dir, ignore_errors=True)  # so the whole transcript is shipped each time
        subprocess.run(
            [sys.executable, "-I", "-S", str(HOOK_SCRIPT)],
            input=stop,
            env={**env, "AGENT_TRACE_HOOK_INLINE": "1"},
            check=True,
        )

    size = run.transcript_path.stat().st_size
    results[f"worker at Stop, inline ({size // 1024} KiB transcript delta, git, deliver)"] = timed(worker, n)

    post = json.dumps(
        {**base, "hook_event_name": "PostToolUse", "tool_name": "Bash", "tool_use_id": "toolu_bench"}
    )

    def http_hook(body: str) -> Callable[[], None]:
        def post_once() -> None:
            req = urllib.request.Request(
                collector.url + "/v1/hooks", data=body.encode(), headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(req, timeout=5) as resp:
                resp.read()

        return post_once

    prompt = json.dumps({**base, "hook_event_name": "UserPromptSubmit", "prompt": "bench"})
    results["http hook, one POST answered by the collector"] = timed(http_hook(post), n)
    results["http hook, UserPromptSubmit (budget decision included)"] = timed(http_hook(prompt), n)
    # The command transport's line for UserPromptSubmit/PreToolUse: the background line while
    # nothing is spent up (no state file), the foreground --decide while something is.
    from agent_trace.cli.install_files import decide_command
    from agent_trace.hook.budget import write_state

    decide_line = decide_command(at_home)
    spent_up = {"version": 1, "rules": [{"budget_id": "all/day/usd", "mode": "warn", "match": "project",
                                         "project": "elsewhere", "message": "bench"}]}  # fmt: skip
    for label, state in (("nothing spent up", None), ("a budget spent up: --decide", spent_up)):
        samples = []
        for _ in range(n):
            if state is None:
                (at_home / "budget-state.json").unlink(missing_ok=True)
            else:
                write_state(at_home, state)  # each time: the last worker removed it (nothing is spent up)
            started = time.perf_counter()
            subprocess.run(
                ["/bin/sh", "-c", decide_line],
                input=prompt.encode(),
                env=env,
                check=True,
                capture_output=True,
            )
            samples.append((time.perf_counter() - started) * 1000)
            wait_idle(session.home, at_home)
        results[f"command transport, UserPromptSubmit line ({label})"] = samples
    return results


# Configured for the runs unless --no-budgets: every scope kind, none spent up (the sessions
# must run), so the collector computes a decision on every UserPromptSubmit and PreToolUse.
BENCH_BUDGETS = (
    ("--scope", "all", "--period", "month", "--usd", "1000000", "--mode", "block"),
    ("--scope", "user:bench", "--period", "day", "--tokens", "1000000000000", "--mode", "block"),
    ("--scope", "project:repo", "--period", "week", "--usd", "100000"),
    ("--scope", "team:bench", "--period", "month", "--usd", "100000", "--mode", "block"),
    ("--scope", "session", "--usd", "10000", "--mode", "block"),
)


def configure_budgets(collector: Collector) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(collector.home),
        "AGENT_TRACE_HOME": str(collector.home / "server"),
    }
    for args in BENCH_BUDGETS:
        subprocess.run([*AGENT_TRACE, "budgets", "set", *args], env=env, check=True, capture_output=True)


def table(
    scenario: str,
    bare: list[float],
    installed: list[float],
    latency: dict[str, list[float]],
    calls: int,
    load: tuple[float, float],
) -> str:
    ratios = [i / b for b, i in zip(bare, installed, strict=True)]
    lines = [
        f"Scenario `{scenario}` ({calls} API calls), {len(bare)} interleaved pairs, "
        f"Claude Code 2.1.331, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}; 1-minute load average {load[0]:.1f} before the runs, "
        f"{load[1]:.1f} after (other work on the machine shows up as noise in both variants).",
        "",
        "| session | median (s) | min (s) | max (s) |",
        "|---|---:|---:|---:|",
        f"| without agent-trace | {statistics.median(bare):.3f} | {min(bare):.3f} | {max(bare):.3f} |",
        f"| with agent-trace (init) | {statistics.median(installed):.3f} | {min(installed):.3f} | {max(installed):.3f} |",
        f"| **ratio, median of pairs** | **{statistics.median(ratios):.3f}×** | {min(ratios):.3f}× | {max(ratios):.3f}× |",
        f"| ratio of medians | {statistics.median(installed) / statistics.median(bare):.3f}× | | |",
        "",
        "| handler | p50 (ms) | p95 (ms) | n |",
        "|---|---:|---:|---:|",
    ]
    for name, samples in latency.items():
        lines.append(f"| {name} | {pct(samples, 0.5):.1f} | {pct(samples, 0.95):.1f} | {len(samples)} |")
    return "\n".join(lines) + "\n"


def write_section(path: Path, body: str) -> None:
    intro = (
        f"{SECTION}\n\n"
        "`bench/hook_overhead.py`: the same scripted real-CLI session with and without agent-trace "
        "installed (both with a collector running), then the hook handler on its own. Target: the "
        'median ratio ≤ 1.15×. `--only hooks|otel` gives a breakdown; docs/capture.md ("What it '
        'costs") explains the parts and the hook layout.\n\n'
    )
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    start = text.find(SECTION)
    if start >= 0:
        end = text.find("\n## ", start + len(SECTION))
        text = text[:start] + intro + body + ("\n" + text[end + 1 :] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + intro + body
    path.write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=9)
    parser.add_argument("--scenario", default="tools", choices=sorted(ALL_SCENARIOS))
    parser.add_argument("--samples", type=int, default=30, help="handler latency samples per row")
    parser.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    parser.add_argument(
        "--only",
        choices=("hooks", "otel"),
        help="breakdown: install only the hooks, or only the OpenTelemetry env keys (implies --no-write)",
    )
    parser.add_argument(
        "--no-budgets", action="store_true", help="run without the budgets BENCH_BUDGETS sets"
    )
    args = parser.parse_args()

    binary = install_claude_cli()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="agent-trace-hook-bench-"))
    collector = Collector(work)
    if not args.no_budgets:
        configure_budgets(collector)
    try:
        with FakeAnthropic(ALL_SCENARIOS.values()) as fake:
            cpu_before = collector.cpu_s()
            bare, installed, last, ids = session_runs(
                args.scenario, args.pairs, collector, fake, binary, work
            )
            cpu_per_session = (collector.cpu_s() - cpu_before) / (args.pairs + 1)
            latency = claude_hook_timings(collector, ids)
            latency.update(handler_latency(last, work / "client", collector, args.samples))
        calls = sum(len(t) for t in ALL_SCENARIOS[args.scenario].threads().values())
        body = table(args.scenario, bare, installed, latency, calls, (load_before, os.getloadavg()[0]))
        body += (
            f"\nThe collector's CPU (hooks, OpenTelemetry, writes{', budget snapshots' if not args.no_budgets else ''}): "
            f"{cpu_per_session * 1000:.0f} ms per installed session (user + system time of its process).\n"
        )
        if not args.no_budgets:
            body = (
                f"With {len(BENCH_BUDGETS)} budgets configured (all, user, project, team, session; "
                "none spent up), so every UserPromptSubmit and PreToolUse gets a decision computed.\n\n"
                + body
            )
    finally:
        collector.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(body)
    if not args.no_write and not args.only:
        write_section(REPO / "docs" / "benchmarks.md", body)
        print("written to docs/benchmarks.md", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
