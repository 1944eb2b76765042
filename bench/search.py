"""Full-text search (Store.search) per backend, on the same generated store as bench/dashboard.py.

    .venv/bin/python bench/search.py --backend sqlite|postgres|clickhouse [--records 1000000]
        [--sessions 10000] [--pg postgresql://127.0.0.1:5432/postgres] [--runs 30] [--keep]

Builds the plan of bench/dashboard_store.py into a fresh store of the chosen backend
(`postgres`: a new database on the server `--pg` points at; `clickhouse`: PostgreSQL +
ClickHouse in-process (chdb), the hybrid store), then times `Store.search` in-process for the
dashboard's queries (a path, a command, a common word, an error message): p50 / p95 / max over
--runs after a warm-up. bench/dashboard.py measures the same queries over HTTP on SQLite.
Also prints the build's write rate, since indexing text is paid for at write time.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from agent_trace.config import load_settings
from agent_trace.store.factory import open_store
from agent_trace.store.port import SearchQuery
from dashboard_store import SEARCHES, Plan, build, error_query

REPO = Path(__file__).resolve().parents[1]


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def _pg_database(server: str) -> tuple[str, str]:
    import psycopg

    name = f"bench_search_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = server.rsplit("/", 1)[0]
    return name, f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"


def _drop(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgres", "clickhouse"), default="sqlite")
    parser.add_argument("--sessions", type=int, default=10_000)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--pg", default="postgresql://127.0.0.1:5432/postgres")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the store (PostgreSQL database, files)")
    args = parser.parse_args()
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    plan = Plan(
        args.sessions,
        args.records,
        int((today - timedelta(days=30)).timestamp() * 1000),
        "bench-big-0000-4000-8000-000000002000",
    )
    work = Path(tempfile.mkdtemp(prefix="bench-search-"))
    pg_name = None
    events_url = None
    if args.backend == "sqlite":
        db_url = f"sqlite:///{work / 'store.db'}"
    else:
        pg_name, db_url = _pg_database(args.pg)
        if args.backend == "clickhouse":
            events_url = f"chdb:///{work / 'chdb'}"
    try:
        print(
            f"building {args.backend}: {args.sessions:,} sessions, {args.records:,} LLM + tool-call records"
        )
        started = time.perf_counter()
        build(db_url, plan, events_url)
        took = time.perf_counter() - started
        print(f"  built in {took:.0f} s ({args.records / took:,.0f} records/s, derived data included)")
        searches = [*SEARCHES, ("an error message", error_query(db_url, events_url))]
        env = {"AGENT_TRACE_DATABASE_URL": db_url, "HOME": str(work), "AGENT_TRACE_HOME": str(work)}
        if events_url:
            env["AGENT_TRACE_EVENTS_URL"] = events_url
        opened = load_settings(env)
        store = open_store(opened.database_url, opened.events_url)
        rows = []
        for label, q in searches:
            query = SearchQuery(q, limit=100)
            for _ in range(3):
                hits = store.search(query)
            times = []
            for _ in range(args.runs):
                t = time.perf_counter()
                hits = store.search(query)
                times.append((time.perf_counter() - t) * 1000)
            rows.append((label, q, len(hits), times))
        store.close()
    finally:
        if pg_name and not args.keep:
            _drop(args.pg, pg_name)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"Store.search on {args.backend}, {args.records:,} records; {args.runs} runs per query after a warm-up (ms)"
    )
    header = f"| {'query':<46} | {'hits':>5} | {'p50':>7} | {'p95':>7} | {'max':>7} | target |"
    print(header)
    print("|" + "|".join("-" * len(c) for c in header.split("|")[1:-1]) + "|")
    ok = True
    for label, q, hits, times in rows:
        p95 = _pct(times, 95)
        ok = ok and p95 < 150
        name = f"{label}: {q}"[:46]
        verdict = "✓ <150" if p95 < 150 else "✗ ≥150"
        print(
            f"| {name:<46} | {hits:>5} | {statistics.median(times):>7.1f} | {p95:>7.1f} | {max(times):>7.1f} | {verdict} |"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
