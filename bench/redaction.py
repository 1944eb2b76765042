"""Throughput of secret redaction (src/agent_trace/domain/redaction.py), in MB/s of text.

    .venv/bin/python bench/redaction.py [--mb 50] [--repeat 3] [--corpus DIR]

Rows:
  (a) realistic code/log text without secrets: this Python's own standard library sources
      interleaved with generated application, access and CI logs, cut into pieces of 0.5-16 kB
      (the size of tool outputs and file reads), plus the same text as one string;
  (b) the same pieces with a planted secret every ~10 kB (every detector takes its turn);
  (c) the JSON lines of the Claude Code corpus (default ../shared/corpus/claude-code/spotter;
      skipped when absent), each raw line as one string, and parsed lines through
      redact_json_value (that row includes the tree walk, not json.loads).
Each row is the best of --repeat runs, in CPU seconds of this process (`time.process_time`), so
other work on a shared machine does not skew it; MB is 10^6 characters.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import sysconfig
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from agent_trace.domain.redaction import redact, redact_json_value

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "claude-code" / "spotter"

# Fake but real-shaped secrets, one per detector (none of them is a live credential).
_SECRETS = (
    "AKIAIOSFODNN7EXAMPLE",
    "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "ANTHROPIC_API_KEY=sk-ant-api03-" + "Zx9Qw3Er7Ty1Ui5Op2As6Df4Gh8Jk0Lz" * 3 + "AbCdEfGhAA",
    "client = OpenAI(api_key='sk-proj-" + "T3BlbkFJ9a8b7C6d5E4f3G2h1" * 4 + "')",
    "git remote set-url origin https://x:ghp_R4nd0mT0k3nV4lu3F0rT3st1ngAbCdEfGh12@github.com/o/r",
    "SLACK_BOT=xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    "webhook: https://hooks.slack.com/services/T024BE7LD/B01ABCDEFGH/h7Ks9QmZp2Lx4Vb8Nc3Rt6Wy",
    "stripe.api_key = 'sk_live_51H8xYzAbCdEfGhIjKlMnOpQr'",
    "const key = 'AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY';",
    '"client_secret": "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"',
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi\n-----END RSA PRIVATE KEY-----",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "DATABASE_URL=postgres://app:Pr0d-Pa55w0rd!@db.internal:5432/app",
    "export DB_PASSWORD=hunter2hunter2",
)

_LOG_LEVELS = ("DEBUG", "INFO", "INFO", "INFO", "WARNING", "ERROR")
_PATHS = ("/api/v1/sessions", "/health", "/v1/hooks", "/static/app.css", "/v1/timeline?session_id=42")


def _log_lines(rnd: random.Random) -> Iterator[str]:
    """Application, access and CI log lines, the other half of what agents read."""
    while True:
        ts = f"2026-02-{rnd.randint(1, 28):02d}T{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:00Z"
        kind = rnd.randrange(4)
        if kind == 0:
            yield (
                f"{ts} {rnd.choice(_LOG_LEVELS)} worker-{rnd.randint(1, 8)} processed batch "
                f"id={rnd.getrandbits(32):08x} rows={rnd.randint(1, 5000)} in {rnd.random() * 900:.1f}ms"
            )
        elif kind == 1:
            yield (
                f'10.0.{rnd.randint(0, 255)}.{rnd.randint(1, 254)} - - [{ts}] "GET {rnd.choice(_PATHS)} '
                f'HTTP/1.1" {rnd.choice((200, 200, 204, 304, 404, 500))} {rnd.randint(0, 90000)} '
                f'"-" "Mozilla/5.0 (X11; Linux x86_64)"'
            )
        elif kind == 2:
            yield (
                f"tests/test_{rnd.choice(('store', 'ingest', 'api', 'cli'))}.py::test_case_{rnd.randint(1, 400)} "
                f"{rnd.choice(('PASSED', 'PASSED', 'PASSED', 'FAILED', 'SKIPPED'))} "
                f"[{rnd.randint(0, 100):3d}%]"
            )
        else:
            yield (
                f'{ts} ERROR Traceback (most recent call last): File "/srv/app/handlers.py", '
                f"line {rnd.randint(1, 900)}, in handle: KeyError: 'user_{rnd.randint(1, 99)}'"
            )


def realistic_text(mb: float, seed: int = 7) -> str:
    """About `mb` million characters of stdlib source and logs, deterministic for a Python."""
    rnd = random.Random(seed)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    sources = [p for p in sorted(stdlib.glob("*.py")) if not p.name.startswith("test")]
    logs = _log_lines(rnd)
    parts: list[str] = []
    size = 0
    target = int(mb * 1_000_000)
    while size < target:
        for path in sources:
            if size >= target:
                break
            code = path.read_text(encoding="utf-8", errors="replace")
            block = "\n".join(next(logs) for _ in range(rnd.randint(20, 200))) + "\n"
            parts += (code, block)
            size += len(code) + len(block)
    return "".join(parts)[:target]


def pieces(text: str, seed: int = 11) -> list[str]:
    """`text` cut into 0.5-16 kB pieces, the size of one tool output or file read."""
    rnd = random.Random(seed)
    out = []
    i = 0
    while i < len(text):
        n = rnd.randint(500, 16_000)
        out.append(text[i : i + n])
        i += n
    return out


def with_secrets(chunks: list[str], every: int = 10_000, seed: int = 13) -> list[str]:
    """The same pieces with one planted secret about every `every` characters."""
    rnd = random.Random(seed)
    out = []
    budget = every
    k = 0
    for chunk in chunks:
        budget -= len(chunk)
        while budget <= 0:
            at = rnd.randrange(len(chunk) + 1)
            chunk = f"{chunk[:at]}\n{_SECRETS[k % len(_SECRETS)]}\n{chunk[at:]}"
            k += 1
            budget += every
        out.append(chunk)
    return out


def best_seconds(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def run_strings(strings: list[str]) -> int:
    changed = 0
    for s in strings:
        if redact(s) is not s:
            changed += 1
    return changed


def run_json(values: list[object]) -> int:
    return sum(1 for v in values if redact_json_value(v) is not v)


def corpus_lines(root: Path) -> list[str]:
    return [
        line for p in sorted(root.rglob("*.jsonl")) for line in p.read_text(encoding="utf-8").splitlines()
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=50.0, help="size of the generated text (default 50)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per row; the best is kept (default 3)")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="Claude Code projects dir")
    args = ap.parse_args(argv)

    rows: list[tuple[str, float, float, int, int]] = []

    def measure(label: str, items: list, size: int, fn: Callable[[list], int]) -> None:
        seconds = best_seconds(lambda: fn(items), args.repeat)
        rows.append((label, size / 1e6, seconds, len(items), fn(items)))

    text = realistic_text(args.mb)
    chunks = pieces(text)
    measure("(a) code+logs, no secrets, 0.5-16 kB pieces", chunks, len(text), run_strings)
    measure("(a) code+logs, no secrets, one string", [text], len(text), run_strings)
    seeded = with_secrets(chunks)
    measure("(b) same, a secret every ~10 kB", seeded, sum(map(len, seeded)), run_strings)
    if args.corpus.is_dir():
        lines = corpus_lines(args.corpus)
        size = sum(map(len, lines))
        measure("(c) corpus JSONL, raw lines", lines, size, run_strings)
        parsed = [json.loads(line) for line in lines]
        measure("(c) corpus JSONL, parsed, redact_json_value", parsed, size, run_json)
    else:
        print(f"(c) skipped: no corpus at {args.corpus}", file=sys.stderr)

    print(f"{'input':48} {'MB':>8} {'cpu s':>8} {'MB/s':>8} {'items':>8} {'changed':>8}")
    for label, mb, seconds, n, changed in rows:
        print(f"{label:48} {mb:8.1f} {seconds:8.3f} {mb / seconds:8.0f} {n:8d} {changed:8d}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
