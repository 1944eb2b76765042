"""Scale: millions of LLM and tool-call records per backend, then the reads a team makes most.

    .venv/bin/python bench/scale.py                               # the docs/benchmarks.md table
    .venv/bin/python bench/scale.py --backend chdb --records 2000000
    .venv/bin/python bench/scale.py --backend sqlite --backend postgres --records 100000

Backends: `chdb` = PostgreSQL (sessions) + ClickHouse in-process through chdb (records and
rollups), the hybrid store a team deployment runs on a ClickHouse server; `postgres` = the SQL
store on the PostgreSQL server at AGENT_TRACE_BENCH_PG (default postgresql://postgres@127.0.0.1/
postgres; a fresh database, dropped afterwards); `sqlite` = the embedded default.
Default sizes: 10,000,000 records on chdb, 1,000,000 on PostgreSQL and SQLite.

Records are synthetic but shaped like real sessions: ~400 records per session (an LLM call, then
usually a tool call), a prompt every ~20 records, 40 developers, 60 projects, 4 models (one
unpriced), 90 days; 5% of LLM calls are delivered a second time with larger usage (streaming
duplicates, so the merge path runs). Ingest goes through Store.write in batches of --batch
records (what the collector's writer does) plus the final refresh of derived data; the rate
counts distinct LLM + tool-call records per second of wall time.

Reads, each warmed up once then timed --runs times as the API computes them (server/api/service.py,
JSON included, without the API's answer cache, so every run reads the store): the session list
(GET /v1/sessions: the 50 latest with summaries), cost per day (GET /v1/analytics/cost/daily:
30 days, split by model), one session's replay (GET /v1/sessions/{id}: a session of median
size) and the outcomes page's data (GET /v1/analytics/outcomes: the same 30 days). Prints p50 and p95 per read, and the table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from agent_trace.domain.records import LlmCall, Prompt, RecordBatch, Session, ToolCall, Usage  # noqa: E402

PG_ADMIN = os.environ.get("AGENT_TRACE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
END = datetime(2026, 2, 11, tzinfo=UTC)
DAYS = 90
RECORDS_PER_SESSION = 400
MODELS = (
    ("claude-opus-4-6", 15_000, 75_000),
    ("claude-sonnet-4-5", 3_000, 15_000),
    ("claude-haiku-4-5", 1_000, 5_000),
)
UNPRICED = "claude-internal-preview"
TOOLS = ("Bash", "Read", "Edit", "Grep", "Write", "Glob")
DEFAULT_RECORDS = {"chdb": 10_000_000, "postgres": 1_000_000, "sqlite": 1_000_000}


# --- synthetic sessions -----------------------------------------------------------------------


@dataclass
class Generator:
    """Deterministic sessions, yielded as write batches of about `batch` records."""

    records: int
    batch: int
    seed: int = 7
    sessions: list[str] = field(default_factory=list)
    llm_calls: int = 0
    tool_calls: int = 0
    prompts: int = 0
    redelivered: int = 0

    def batches(self) -> Iterator[RecordBatch]:
        rng = random.Random(self.seed)
        current = RecordBatch()
        pending_copies: list[LlmCall] = []
        made = 0
        while made < self.records:
            session = self._session(rng)
            current.sessions.append(session)
            ts = session.started_ms or 0
            prompt_id: str | None = None
            for n in range(min(RECORDS_PER_SESSION, self.records - made)):
                ts += rng.randrange(2_000, 30_000)
                if n % 20 == 0:
                    prompt_id = f"prompt-{rng.getrandbits(64):016x}"
                    current.prompts.append(
                        Prompt(
                            prompt_id,
                            session.session_id,
                            ts_ms=ts,
                            kind="prompt",
                            text=f"task {n} for {session.project}",
                        )
                    )
                    self.prompts += 1
                if n % 2 == 0 or rng.random() < 0.3:
                    call = self._llm_call(rng, session.session_id, prompt_id, ts)
                    current.llm_calls.append(call)
                    self.llm_calls += 1
                    if rng.random() < 0.05:
                        pending_copies.append(call)
                else:
                    current.tool_calls.append(self._tool_call(rng, session.session_id, prompt_id, ts))
                    self.tool_calls += 1
                made += 1
                if len(current) >= self.batch:
                    current.llm_calls.extend(_grown(c) for c in pending_copies)
                    self.redelivered += len(pending_copies)
                    pending_copies = []
                    yield current
                    current = RecordBatch(sessions=[session])
            session.ended_ms = ts
        current.llm_calls.extend(_grown(c) for c in pending_copies)
        self.redelivered += len(pending_copies)
        if len(current):
            yield current

    def _session(self, rng: random.Random) -> Session:
        sid = f"{rng.getrandbits(32):08x}-{rng.getrandbits(16):04x}-4000-8000-{rng.getrandbits(48):012x}"
        self.sessions.append(sid)
        start = END - timedelta(days=DAYS) + timedelta(seconds=rng.randrange(DAYS * 86_400))
        user = rng.randrange(40)
        return Session(
            sid,
            agent="claude-code",
            project=f"/home/dev{user:02d}/work/project-{rng.randrange(60):02d}",
            cwd=None,
            user_id=f"dev{user:02d}@example.com",
            version="2.1.331",
            started_ms=int(start.timestamp() * 1000),
            git_branch="main",
        )

    @staticmethod
    def _llm_call(rng: random.Random, sid: str, prompt_id: str | None, ts: int) -> LlmCall:
        if rng.random() < 0.02:
            model, in_rate, out_rate = UNPRICED, 0, 0
        else:
            model, in_rate, out_rate = rng.choice(MODELS)
        usage = Usage(
            input_tokens=rng.randrange(1, 400),
            output_tokens=rng.randrange(20, 3_000),
            cache_creation_tokens=(write := rng.randrange(0, 20_000)),
            cache_5m_tokens=write,
            cache_1h_tokens=0,
            cache_read_tokens=rng.randrange(0, 200_000),
        )
        cost = None
        if model != UNPRICED:  # nano-dollars per token: $ per MTok x 1000 / 1e6 ... kept integral
            cost = (
                usage.input_tokens * in_rate + usage.output_tokens * out_rate
            ) // 1_000 + usage.cache_read_tokens * 30
        return LlmCall(
            f"req_{rng.getrandbits(64):016x}",
            sid,
            message_id=f"msg_{rng.getrandbits(64):016x}",
            request_id=None,
            prompt_id=prompt_id,
            model=model,
            ts_ms=ts,
            usage=usage,
            cost_nusd=cost,
            stop_reason=rng.choice(("end_turn", "tool_use")),
            duration_ms=rng.randrange(500, 30_000),
            response_text="Done. " * rng.randrange(1, 12),
        )

    @staticmethod
    def _tool_call(rng: random.Random, sid: str, prompt_id: str | None, ts: int) -> ToolCall:
        tool = rng.choice(TOOLS)
        duration = rng.randrange(5, 4_000)
        return ToolCall(
            f"toolu_{rng.getrandbits(64):016x}",
            sid,
            tool_name=tool,
            prompt_id=prompt_id,
            started_ms=ts,
            ended_ms=ts + duration,
            duration_ms=duration,
            status="error" if rng.random() < 0.03 else "success",
            input_json=f'{{"file_path": "/home/dev/work/src/module_{rng.randrange(500)}.py"}}',
            output_text="ok\n" * rng.randrange(1, 20),
        )


def _grown(call: LlmCall) -> LlmCall:
    """A later copy of the same request with more output (the streaming-duplicate rule keeps it)."""
    assert call.usage is not None
    usage = replace(call.usage, output_tokens=call.usage.output_tokens + 17)
    return LlmCall(
        call.call_id,
        call.session_id,
        message_id=call.message_id,
        prompt_id=call.prompt_id,
        model=call.model,
        ts_ms=call.ts_ms,
        usage=usage,
        cost_nusd=None if call.cost_nusd is None else call.cost_nusd + 17,
    )


# --- backends ---------------------------------------------------------------------------------


@dataclass
class Opened:
    name: str
    store: Any
    settings: Any
    cleanup: list[Any] = field(default_factory=list)


def _pg_database() -> tuple[str, Any]:
    import psycopg

    name = f"at_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", drop


def open_backend(name: str, workdir: Path) -> Opened:
    from agent_trace.config import load_settings
    from agent_trace.store.factory import open_store

    env = {"AGENT_TRACE_HOME": str(workdir / "home"), "HOME": str(workdir), "AGENT_TRACE_TIMEZONE": "UTC"}
    cleanup: list[Any] = []
    if name in ("postgres", "chdb"):
        url, drop = _pg_database()
        env["AGENT_TRACE_DATABASE_URL"] = url
        cleanup.append(drop)
    if name == "chdb":
        env["AGENT_TRACE_EVENTS_URL"] = f"chdb:///{workdir / 'chdb'}?database=bench"
    settings = load_settings(env)
    return Opened(name, open_store(settings.database_url, settings.events_url), settings, cleanup)


def _disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


# --- measuring --------------------------------------------------------------------------------


@dataclass
class Result:
    backend: str
    records: int
    deliveries: int
    sessions: int
    ingest_s: float
    reads: dict[str, tuple[float, float]]  # name → (p50 ms, p95 ms)
    size_mb: float

    @property
    def rate(self) -> float:
        return self.records / self.ingest_s


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _reads(store: Any, session_id: str, first: Any, last: Any) -> dict[str, Any]:
    """The three reads, as the API computes them (server/api/service.py) but without its answer
    cache (which would serve repeats of an unchanged answer from memory): every run reads the
    store."""
    from agent_trace.server.api import service
    from agent_trace.server.api.params import parse_day_range, parse_session_query

    listing = parse_session_query({"limit": "50"}, None, "UTC")
    days = parse_day_range({"since": first.isoformat(), "until": last.isoformat(), "tz": "UTC"}, "UTC")
    return {
        "session list": lambda: service.list_sessions(store, listing),
        "cost/daily": lambda: service.analytics_cost_daily_json(store, days),
        "replay": lambda: service.session_replay_json(store, session_id),
        "outcomes": lambda: service.analytics_outcomes_json(store, days),
    }


def measure(name: str, records: int, batch: int, runs: int, workdir: Path) -> Result:
    opened = open_backend(name, workdir)
    store = opened.store
    gen = Generator(records, batch)
    try:
        # Only the store's time counts: generating the synthetic records is not ingest.
        ingest_s = 0.0
        last_report = time.perf_counter()
        written = 0
        for part in gen.batches():
            t0 = time.perf_counter()
            store.write(part)
            ingest_s += time.perf_counter() - t0
            written += len(part.llm_calls) + len(part.tool_calls)
            if time.perf_counter() - last_report > 60:
                last_report = time.perf_counter()
                print(
                    f"  {name}: {written:,} deliveries, {written / ingest_s:,.0f}/s",
                    file=sys.stderr,
                    flush=True,
                )
        t0 = time.perf_counter()
        store.refresh_derived()
        ingest_s += time.perf_counter() - t0
        print(f"  {name}: ingested {records:,} records in {ingest_s:,.1f}s", file=sys.stderr, flush=True)

        settle(store)
        last = END.date()
        first = last - timedelta(days=29)
        sizes: dict[str, int] = {}
        for sid in gen.sessions[:: max(1, len(gen.sessions) // 200)]:
            detail = store.session_detail(sid)
            sizes[sid] = len(detail.llm_calls) + len(detail.tool_calls) if detail else 0
        median_sid = sorted(sizes, key=lambda s: sizes[s])[len(sizes) // 2]
        reads = _reads(store, median_sid, first, last)
        timings: dict[str, tuple[float, float]] = {}
        for label, read in reads.items():
            read()  # warm-up (and a check that it answers)
            samples = []
            for _ in range(runs):
                t0 = time.perf_counter()
                read()
                samples.append((time.perf_counter() - t0) * 1000)
            timings[label] = (statistics.median(samples), _percentile(samples, 0.95))
        size = _disk(workdir) / 1e6
        if name in ("postgres", "chdb"):
            rows = store.runner.query("SELECT pg_database_size(current_database())")
            size += int(rows[0][0]) / 1e6
        return Result(
            name,
            records,
            gen.llm_calls + gen.tool_calls + gen.redelivered,
            len(gen.sessions),
            ingest_s,
            timings,
            size,
        )
    finally:
        store.close()
        for step in opened.cleanup:
            step()


def settle(store: Any, limit_s: float = 900) -> None:
    """Reads are timed on a quiet database: ClickHouse's background merges of a bulk load done
    (a steady collector keeps few parts), PostgreSQL's statistics current (autovacuum would
    analyze the new rows within a minute)."""
    deadline = time.monotonic() + limit_s
    client = getattr(store, "client", None)
    if client is not None:
        while time.monotonic() < deadline and client.query("SELECT count() FROM system.merges")[0][0]:
            time.sleep(2)
    if getattr(store, "dialect", "") == "postgresql":
        store.runner.execute("ANALYZE")


def table(results: list[Result]) -> str:
    head = (
        "| backend | records (LLM + tool calls) | sessions | ingest | records/s | session list p50 / p95 "
        "| cost/daily p50 / p95 | replay p50 / p95 | outcomes p50 / p95 | on disk |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    )
    label = {"chdb": "PostgreSQL + ClickHouse (chdb)", "postgres": "PostgreSQL 15", "sqlite": "SQLite"}
    lines = [head]
    for r in results:
        reads = " | ".join(
            f"{r.reads[k][0]:.0f} / {r.reads[k][1]:.0f} ms"
            for k in ("session list", "cost/daily", "replay", "outcomes")
        )
        lines.append(
            f"| {label[r.backend]} | {r.records:,} | {r.sessions:,} | {r.ingest_s / 60:.1f} min | "
            f"{r.rate:,.0f} | {reads} | {r.size_mb / 1000:.1f} GB |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend", action="append", choices=sorted(DEFAULT_RECORDS), help="repeatable (default: all)"
    )
    parser.add_argument("--records", type=int, help="records per backend (default: 10M chdb, 1M others)")
    parser.add_argument(
        "--batch",
        type=int,
        default=20_000,
        help="records per Store.write (default 20,000, the collector's group commit)",
    )
    parser.add_argument("--runs", type=int, default=30, help="timed runs per read (default 30)")
    parser.add_argument("--dir", type=Path, help="work folder (default: a temporary one, deleted)")
    args = parser.parse_args()
    backends = args.backend or ["sqlite", "postgres", "chdb"]
    results = []
    for name in backends:
        workdir = Path(tempfile.mkdtemp(prefix=f"agent-trace-scale-{name}-", dir=args.dir))
        try:
            results.append(
                measure(name, args.records or DEFAULT_RECORDS[name], args.batch, args.runs, workdir)
            )
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        print(table(results), flush=True)
    print(
        f"\n{os.cpu_count()} CPUs, Python {sys.version.split()[0]}; batch {args.batch:,}; {args.runs} runs per read"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
