"""The ClickHouse writer merges copies of a record exactly as the SQL upserts do.

Random streams of copies - streaming duplicates with growing usage, ties on usage with and
without the 1-hour split, sidechain and main-thread copies, statuses in every order, NULLs,
texts of equal length, records copied into other sessions - go through SQLite's
`INSERT … ON CONFLICT` statements and through store.clickhouse.merge; the stored rows must be
equal. Then the same streams go through the SQL store and the hybrid store (SQLite + chdb), and
every answer must be equal.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain.records import (
    FileTouch,
    LlmCall,
    Prompt,
    RecordBatch,
    Session,
    Subagent,
    ToolCall,
    Usage,
)
from agent_trace.store.clickhouse.client import ChdbClient
from agent_trace.store.clickhouse.events import KIND_COLUMNS, event_key
from agent_trace.store.clickhouse.hybrid import HybridStore, _incoming
from agent_trace.store.clickhouse.merge import MERGERS
from agent_trace.store.port import Filters, SessionQuery
from agent_trace.store.sql.adapter import SqlStore
from agent_trace.store.sql.runner import SqlAlchemyRunner
from tests.fixtures.stores import sqlite_store_at

TEXTS = [None, "", "a", "b", "ab", "ba", "abc", "ünï"]
TIMES = [None, 1_770_000_000_000, 1_770_000_000_500, 1_770_000_900_000, 1_770_003_600_000]
SESSIONS = ["s1", "s2", "s3"]


def _maybe(rng: random.Random, values: list[Any]) -> Any:
    return rng.choice(values)


def _usage(rng: random.Random) -> Usage | None:
    if rng.random() < 0.2:
        return None
    write_1h = rng.choice([0, 0, 5])
    write_5m = rng.choice([0, 5, 10]) - (write_1h if rng.random() < 0.3 else 0)
    write_5m = max(write_5m, 0)
    return Usage(
        input_tokens=rng.choice([1, 2, 3]),
        output_tokens=rng.choice([10, 20, 30]),
        cache_creation_tokens=write_5m + write_1h,
        cache_5m_tokens=write_5m,
        cache_1h_tokens=write_1h,
        cache_read_tokens=rng.choice([0, 100]),
        web_search_requests=rng.choice([0, 1]),
    )


def random_batch(rng: random.Random, size: int) -> RecordBatch:
    batch = RecordBatch()
    for _ in range(size):
        sid = rng.choice(SESSIONS)
        kind = rng.randrange(6)
        if kind == 0:
            batch.prompts.append(
                Prompt(
                    f"p{rng.randrange(3)}",
                    sid,
                    ts_ms=_maybe(rng, TIMES),
                    kind=_maybe(rng, [None, "prompt", "command", "task_notification"]),
                    text=_maybe(rng, TEXTS),
                    line_uuid=_maybe(rng, [None, "u1", "u2"]),
                    duration_ms=_maybe(rng, [None, 5, 50]),
                    interrupted=_maybe(rng, [None, True, False]),
                    api_errors=_maybe(rng, [None, 0, 1, 2]),
                )
            )
        elif kind == 1:
            message_id = _maybe(rng, [None, "m1", "m2"])
            batch.llm_calls.append(
                LlmCall(
                    f"c{rng.randrange(4)}",
                    sid,
                    message_id=message_id,
                    # Only with a message id: a request id alone is resolved to the call holding
                    # it before the merge (store/sql/call_keys.py, tested in tests/ingest).
                    request_id=_maybe(rng, [None, "r1"]) if message_id else None,
                    agent_id=_maybe(rng, [None, "a1"]),
                    prompt_id=_maybe(rng, [None, "p0", "p1"]),
                    model=_maybe(rng, [None, "claude-opus-4-6", "claude-haiku-4-5", "x"]),
                    ts_ms=_maybe(rng, TIMES),
                    usage=_usage(rng),
                    is_sidechain=rng.random() < 0.4,
                    cost_nusd=_maybe(rng, [None, 100, 200, 300]),
                    reported_cost_nusd=_maybe(rng, [None, 150]),
                    speed=_maybe(rng, [None, "fast"]),
                    stop_reason=_maybe(rng, [None, "end_turn", "tool_use"]),
                    duration_ms=_maybe(rng, [None, 900]),
                    ttft_ms=_maybe(rng, [None, 90]),
                    response_text=_maybe(rng, TEXTS),
                    thinking=_maybe(rng, TEXTS),
                    tool_use_ids=tuple(rng.sample(["t0", "t1", "t2"], rng.randrange(3))),
                )
            )
        elif kind == 2:
            batch.tool_calls.append(
                ToolCall(
                    f"t{rng.randrange(3)}",
                    sid,
                    tool_name=_maybe(rng, [None, "Bash", "Edit", "Read"]),
                    agent_id=_maybe(rng, [None, "a1"]),
                    prompt_id=_maybe(rng, [None, "p1"]),
                    call_id=_maybe(rng, [None, "c1"]),
                    started_ms=_maybe(rng, TIMES),
                    ended_ms=_maybe(rng, TIMES),
                    duration_ms=_maybe(rng, [None, 7]),
                    status=_maybe(rng, [None, "success", "error", "denied", "interrupted"]),
                    error=_maybe(rng, TEXTS),
                    input_json=_maybe(
                        rng, [None, '{"file_path": "/a"}', '{"old_string": "x", "new_string": "yy"}']
                    ),
                    output_text=_maybe(rng, TEXTS),
                    subagent_id=_maybe(rng, [None, "a1"]),
                )
            )
        elif kind == 3:
            batch.file_touches.append(
                FileTouch(
                    f"t{rng.randrange(3)}",
                    _maybe(rng, ["/a", "/b"]),
                    _maybe(rng, ["read", "write"]),
                    sid,
                    ts_ms=_maybe(rng, TIMES),
                )
            )
        elif kind == 4:
            batch.subagents.append(
                Subagent(
                    sid,
                    f"a{rng.randrange(2)}",
                    agent_type=_maybe(rng, [None, "Explore"]),
                    description=_maybe(rng, TEXTS),
                    parent_tool_use_id=_maybe(rng, [None, "t1"]),
                    prompt_id=_maybe(rng, [None, "p1"]),
                    model=_maybe(rng, [None, "m"]),
                    started_ms=_maybe(rng, TIMES),
                    ended_ms=_maybe(rng, TIMES),
                    is_compaction=_maybe(rng, [None, True, False]),
                )
            )
        else:
            batch.sessions.append(
                Session(
                    sid,
                    agent=_maybe(rng, [None, "claude-code"]),
                    project=_maybe(rng, [None, "/w/alpha", "/w/beta"]),
                    user_id=_maybe(rng, [None, "ann", "bob"]),
                    started_ms=_maybe(rng, TIMES),
                    ended_ms=_maybe(rng, TIMES),
                    title=_maybe(rng, TEXTS),
                )
            )
    return batch


_TABLES = {
    "prompt": "prompts",
    "llm_call": "llm_calls",
    "tool_call": "tool_calls",
    "file_touch": "file_touches",
    "subagent": "subagents",
}


@pytest.mark.parametrize("seed", range(40))
def test_python_merges_equal_sqlite_upserts(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    runner = SqlAlchemyRunner(url)
    store = SqlStore(runner, url)
    store.migrate()
    folded: dict[tuple[str, str], dict[str, Any]] = {}
    try:
        for _ in range(rng.randrange(1, 6)):
            batch = random_batch(rng, rng.randrange(1, 25))
            store.write(batch)
            for kind, key, row in _incoming(batch):
                folded[key] = MERGERS[kind](folded[key], row) if key in folded else row
        for (kind, _), row in folded.items():
            table = _TABLES[kind]
            columns = KIND_COLUMNS[kind]
            where = " AND ".join(f"{c} = :{c}" for c in _key_columns(kind))
            stored = runner.query(
                f"SELECT {', '.join(columns)} FROM {table} WHERE {where}",
                {c: row[c] for c in _key_columns(kind)},
            )
            assert len(stored) == 1
            got = dict(zip(columns, stored[0], strict=True))
            if kind == "llm_call":
                # A call's session is its owner, decided from its holders (call_keys.owners),
                # not by a merge rule.
                got.pop("session_id")
                row = {k: v for k, v in row.items() if k != "session_id"}
            assert got == row, (kind, event_key(kind, row))
    finally:
        runner.close()


def _key_columns(kind: str) -> tuple[str, ...]:
    return {
        "prompt": ("prompt_id",),
        "llm_call": ("call_id",),
        "tool_call": ("tool_use_id",),
        "file_touch": ("tool_use_id", "path", "op"),
        "subagent": ("session_id", "agent_id"),
    }[kind]


@pytest.fixture
def sql_and_hybrid(tmp_path: Path) -> Iterator[tuple[SqlStore, HybridStore]]:
    ref = sqlite_store_at(tmp_path / "ref.db")
    hyb_url = f"sqlite:///{tmp_path / 'hyb.db'}"
    hybrid = HybridStore(
        SqlAlchemyRunner(hyb_url), hyb_url, ChdbClient(str(tmp_path / "chdb"), "merge_rules")
    )
    hybrid.migrate()
    yield ref, hybrid
    ref.close()
    hybrid.close()


def answers(store: Any) -> dict[str, Any]:
    """Everything the store answers, minus the write clock (updated_ms)."""
    store.refresh_derived()
    page = store.list_sessions(SessionQuery(limit=100))
    details = {}
    for s in page.sessions:
        detail = store.session_detail(s.session_id)
        details[s.session_id] = {
            "session": {k: v for k, v in detail.session.items() if k != "updated_ms"},
            "prompts": detail.prompts,
            "llm_calls": detail.llm_calls,
            "tool_calls": detail.tool_calls,
            "file_touches": detail.file_touches,
            "subagents": detail.subagents,
        }
    return {
        "usage": store.usage_buckets(Filters()),
        "activity": store.activity_buckets(Filters()),
        "tools": store.tool_buckets(Filters()),
        "usage_alpha": store.usage_buckets(Filters(project="alpha", model="OPUS")),
        "sessions": [s.__class__(**{**_fields(s), "updated_ms": 0}) for s in page.sessions],
        "details": details,
        "counts": store.counts(),
        "users": store.users(),
    }


def _fields(obj: Any) -> dict[str, Any]:
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


@pytest.mark.parametrize("seed", range(12))
def test_hybrid_store_answers_like_the_sql_store(
    sql_and_hybrid: tuple[SqlStore, HybridStore], seed: int
) -> None:
    ref, hybrid = sql_and_hybrid
    rng = random.Random(1000 + seed)
    batches = [random_batch(rng, rng.randrange(1, 30)) for _ in range(rng.randrange(2, 7))]
    for batch in batches:
        ref.write(batch)
        hybrid.write(batch)
        if rng.random() < 0.5:  # refresh sometimes between writes, as readers do
            assert answers(ref) == answers(hybrid)
    assert answers(ref) == answers(hybrid)
    # Everything delivered again, late (so "latest" fields move back): both still agree.
    for batch in batches:
        ref.write(batch)
        hybrid.write(batch)
    assert answers(ref) == answers(hybrid)
