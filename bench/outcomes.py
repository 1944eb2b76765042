"""Outcomes benchmark: what scoring and provenance add to the first import of a ~1 GB history.

    .venv/bin/python bench/outcomes.py [--size-gb 1.0] [--workdir bench/.work] [--rounds 2]

Uses bench/import.py's corpus (built there if absent), then runs the first `agent-trace import`
as a whole process, alternately:
  - as shipped (the refresh of derived data computes commit links and every session's outcome),
  - with the outcome step switched off in that process (store.sql.outcomes.SqlOutcomes.
    _refresh_outcomes replaced by a no-op before the CLI runs), everything else identical;
each --rounds times, and prints the medians and the difference. On a shared machine the runs'
times swing more than the step costs, so the shipped run also times the outcome step itself
(inside the same process) and prints its share of that run's import time: the robust figure.
Then it reads the store's label distribution (`agent-trace report outcomes --json`).

The outcomes page at 1,000,000 records is measured by bench/scale.py (its "outcomes" read).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_import", REPO / "bench" / "import.py")
assert _spec is not None and _spec.loader is not None
bench_import = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_import)

OFF = (
    "import sys; from agent_trace.store.sql.outcomes import SqlOutcomes; "
    "SqlOutcomes._refresh_outcomes = lambda self, ids: None; "
    "from agent_trace.cli.main import main; sys.exit(main(sys.argv[1:]))"
)
# As shipped, with the outcome step's own wall time added up and written to $OUTCOME_TIME_FILE:
# its share of the same run's import time holds even when other work loads the machine.
TIMED = (
    "import os, sys, time, atexit; from agent_trace.store.sql.outcomes import SqlOutcomes; "
    "real = SqlOutcomes._refresh_outcomes; spent = [0.0]\n"
    "def timed(self, ids):\n"
    "    t = time.perf_counter(); real(self, ids); spent[0] += time.perf_counter() - t\n"
    "SqlOutcomes._refresh_outcomes = timed\n"
    "atexit.register(lambda: open(os.environ['OUTCOME_TIME_FILE'], 'w').write(str(spent[0])))\n"
    "from agent_trace.cli.main import main; sys.exit(main(sys.argv[1:]))"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--workdir", type=Path, default=REPO / "bench" / ".work")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    workdir: Path = args.workdir.resolve()
    corpus = workdir / f"corpus-{args.size_gb:g}gb"
    marker = corpus / ".complete"
    if not marker.exists():
        if corpus.exists():
            shutil.rmtree(corpus)
        files, size = bench_import.build_corpus(corpus, int(args.size_gb * 1e9))
        marker.write_text(f"{files} {size}\n")
    files_count, corpus_bytes = (int(x) for x in marker.read_text().split())
    projects = str(corpus / "projects")
    times: dict[str, list[float]] = {"with outcomes": [], "without": []}
    rss: dict[str, list[int]] = {"with outcomes": [], "without": []}
    shares: list[float] = []
    steps: list[float] = []
    for _ in range(args.rounds):
        for name, cmd in (
            ("with outcomes", [sys.executable, "-c", TIMED]),
            ("without", [sys.executable, "-c", OFF]),
        ):
            home = workdir / "home-outcomes"
            if home.exists():
                shutil.rmtree(home)
            home.mkdir(parents=True)
            env = {
                "PATH": os.environ.get("PATH", ""),
                "HOME": str(workdir),
                "AGENT_TRACE_HOME": str(home),
                "USER": "bench",
                "TZ": "UTC",
                "OUTCOME_TIME_FILE": str(workdir / "outcome-time.txt"),
            }
            seconds, peak, _ = bench_import.run_with_rss([*cmd, "import", "--quiet", projects], env)
            times[name].append(seconds)
            rss[name].append(peak)
            if name == "with outcomes":
                step = float((workdir / "outcome-time.txt").read_text())
                shares.append(step / seconds)
                steps.append(step)
                started = time.perf_counter()
                _s, _r, out = bench_import.run_with_rss(
                    [sys.executable, "-m", "agent_trace.cli.main", "report", "outcomes", "--json"], env
                )
                report = orjson.loads(out)
                report_s = time.perf_counter() - started
    with_s = statistics.median(times["with outcomes"])
    without_s = statistics.median(times["without"])
    print(
        f"corpus: {files_count:,} files, {corpus_bytes / 1e6:,.0f} MB; {args.rounds} round(s) each, medians"
    )
    print("| first import | time | MB/s | peak RSS |")
    print("|---|---:|---:|---:|")
    for name in times:
        t = statistics.median(times[name])
        print(f"| {name} | {t:.1f} s | {corpus_bytes / 1e6 / t:.0f} | {max(rss[name]) / 1e6:.0f} MB |")
    print(
        f"\noutcome step inside the import: {statistics.median(steps):.2f} s = "
        f"{100 * statistics.median(shares):.1f}% of the same run's import time (median; runs: "
        f"{', '.join(f'{100 * x:.1f}%' for x in shares)}); target < 10%"
    )
    print(
        f"medians with/without: {with_s - without_s:+.2f} s = {100 * (with_s - without_s) / without_s:+.1f}%"
    )
    print(f"all runs: {times}")
    totals = report["totals"]
    print(
        f"`report outcomes --json`: {report_s * 1000:.0f} ms; labels {totals['labels']} over {totals['sessions']} sessions"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
