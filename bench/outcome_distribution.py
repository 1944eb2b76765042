"""The outcome rules on a real history: labels, scores and how often each signal fires.

    .venv/bin/python bench/outcome_distribution.py [PATH…]   # default: ../shared/corpus/claude-code

Imports the transcripts into a temporary home (SQLite), then prints the distribution of labels,
of scores (by tens) and, per signal, the sessions it fired in and its mean value: the table in
docs/outcomes.md.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = Path(os.environ.get("AGENT_TRACE_SHARED", REPO.parent / "shared")) / "corpus" / "claude-code"


def main() -> int:
    paths = [Path(p) for p in sys.argv[1:]] or [DEFAULT]
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "AGENT_TRACE_HOME": str(Path(tmp) / "home"), "HOME": tmp, "TZ": "UTC"}
        cli = [sys.executable, "-m", "agent_trace.cli.main"]
        subprocess.run([*cli, "import", "--quiet", *map(str, paths)], env=env, check=True)
        from agent_trace.config import load_settings
        from agent_trace.store.factory import open_store

        opened = load_settings(env)
        store = open_store(opened.database_url, opened.events_url)
        try:
            store.refresh_derived()
            ids = [
                str(r[0]) for r in store.runner.query("SELECT session_id FROM sessions ORDER BY session_id")
            ]
            details = [store.session_detail(sid) for sid in ids]
        finally:
            store.close()
    labels: Counter[str] = Counter()
    scores: Counter[int] = Counter()
    fired: dict[str, list[float]] = defaultdict(list)
    for d in details:
        assert d is not None
        s = d.session
        labels[str(s["outcome_label"])] += 1
        scores[min(90, int(s["outcome_score"] or 0) // 10 * 10)] += 1
        for signal in json.loads(str(s["outcome_signals"] or "[]")):
            fired[signal["name"]].append(float(signal["value"]))
    n = len(details)
    print(f"{n} sessions from {', '.join(map(str, paths))}\n")
    print("| label | sessions |\n|---|---:|")
    for label in ("shipped", "committed", "no-commit", "spun"):
        print(f"| {label} | {labels.get(label, 0)} |")
    print("\n| score | sessions |\n|---|---:|")
    for low in range(0, 100, 10):
        print(f"| {low}–{low + 9 if low < 90 else 100} | {scores.get(low, 0)} |")
    print("\n| signal | sessions where it fired | mean value |\n|---|---:|---:|")
    for name, values in sorted(fired.items()):
        print(f"| {name} | {len(values)} ({100 * len(values) / n:.0f}%) | {statistics.mean(values):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
