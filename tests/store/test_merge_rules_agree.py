"""One merge rule, four mergers: the SQL store, the ClickHouse merge, the domain functions and the
parsers' in-batch merges pick the same copy of a call.

For arbitrary sequences of copies of one LLM call (usage or none, ties on the total with and
without the 1-hour split, sidechain and main-thread copies, priced and unpriced) and of one tool
call (statuses in every order, unknown ones, NULLs), the row the real store holds after one write
per copy (SQLite, and PostgreSQL when its server is there), the fold of
store.clickhouse.merge.MERGERS and the fold of domain.merge_rules agree; so does the transcript
parser fed the copies as streamed lines of one message, and the OTLP builder fed them as one
request's records.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_trace.domain import merge_rules as mr
from agent_trace.domain.prompts import HUMAN_PROMPT_KINDS
from agent_trace.domain.records import LlmCall, RecordBatch, Session, ToolCall, Usage
from agent_trace.sources.claude_transcript import TranscriptParser
from agent_trace.sources.claude_transcript_lines import describe_path
from agent_trace.sources.otlp_build import Builder
from agent_trace.store.clickhouse.merge import MERGERS
from agent_trace.store.factory import open_store
from agent_trace.store.sql import statements as sql_statements
from agent_trace.store.sql.rows import call_row, tool_row
from tests.backends import POSTGRES, SQLITE, Backend, backend_params
from tests.fixtures.transcripts import Transcript, text_block, usage

SESSION = "s-merge"
_ids = itertools.count()

USAGE_RESULT = (*sql_statements.USAGE_COLUMNS, *mr.USAGE_FOLLOWERS, "cost_nusd", "unpriced_reason")

_usages = st.one_of(
    st.none(),
    st.builds(
        lambda inp, write, one_hour: Usage(
            inp, 10, write, write - min(one_hour, write), min(one_hour, write)
        ),
        # Few values, so equal totals (where the tie-breaks decide) are common.
        st.sampled_from([1, 2]),
        st.sampled_from([0, 10]),
        st.sampled_from([0, 5]),
    ),
)
_call_copies = st.lists(
    st.tuples(
        _usages,
        st.booleans(),
        st.sampled_from([None, 100, 200]),
        st.sampled_from([None, "unknown model", "no price"]),
    ),
    min_size=1,
    max_size=6,
)
_statuses = st.lists(
    st.sampled_from([None, "success", "error", "denied", "interrupted", "cancelled"]), min_size=1, max_size=6
)


def _calls(call_id: str, copies: list[tuple[Usage | None, bool, int | None, str | None]]) -> list[LlmCall]:
    return [
        LlmCall(
            call_id,
            SESSION,
            message_id=call_id,
            usage=u,
            is_sidechain=side,
            cost_nusd=cost,
            unpriced_reason=why,
        )
        for u, side, cost, why in copies
    ]


def domain_fold(calls: list[LlmCall]) -> LlmCall:
    merged = replace(calls[0])
    for call in calls[1:]:
        mr.merge_call_usage(merged, call)
    return merged


def clickhouse_fold(rows: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    merged = rows[0]
    for row in rows[1:]:
        merged = MERGERS[kind](merged, row)
    return merged


def _pick(row: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
    return {c: row[c] for c in columns}


@pytest.fixture
def sql_store(backend: Backend) -> Iterator[Any]:
    store = open_store(backend.settings.database_url)
    store.write(RecordBatch(sessions=[Session(SESSION, started_ms=1_770_000_000_000)]))
    yield store
    store.close()


def _stored(store: Any, table: str, key: str, value: str, columns: tuple[str, ...]) -> dict[str, Any]:
    rows = store.runner.query(f"SELECT {', '.join(columns)} FROM {table} WHERE {key} = :v", {"v": value})
    assert len(rows) == 1
    return dict(zip(columns, rows[0], strict=True))


@pytest.mark.parametrize("backend", backend_params(SQLITE, POSTGRES), indirect=True)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(call_copies=_call_copies, statuses=_statuses)
def test_the_store_the_clickhouse_merge_and_the_domain_pick_the_same_copy(
    sql_store: Any,
    call_copies: list[tuple[Usage | None, bool, int | None, str | None]],
    statuses: list[str | None],
) -> None:
    n = next(_ids)
    calls = _calls(f"msg:m{n}", call_copies)
    tools = [ToolCall(f"toolu_{n}", SESSION, status=s) for s in statuses]
    for call in calls:  # one write per copy: each merges into what the store holds
        sql_store.write(RecordBatch(llm_calls=[call]))
    for tool in tools:
        sql_store.write(RecordBatch(tool_calls=[tool]))

    want = _pick(call_row(domain_fold(calls)), USAGE_RESULT)
    assert _pick(clickhouse_fold([call_row(c) for c in calls], "llm_call"), USAGE_RESULT) == want
    assert _stored(sql_store, "llm_calls", "call_id", calls[0].call_id, USAGE_RESULT) == want

    status: str | None = None
    for s in statuses:
        status = mr.merged_status(status, s)
    assert clickhouse_fold([tool_row(t) for t in tools], "tool_call")["status"] == status
    assert _stored(sql_store, "tool_calls", "tool_use_id", tools[0].tool_use_id, ("status",)) == {
        "status": status
    }


def _anthropic_usage(u: Usage) -> dict[str, Any]:
    return usage(u.input_tokens, u.output_tokens, u.cache_5m_tokens, u.cache_1h_tokens, u.cache_read_tokens)


@settings(max_examples=150, deadline=None)
@given(
    copies=st.lists(st.tuples(_usages.filter(lambda u: u is not None), st.booleans()), min_size=1, max_size=6)
)
def test_the_transcript_parser_keeps_the_copy_the_store_keeps(copies: list[tuple[Usage, bool]]) -> None:
    """A streamed response's lines (each repeating a usage) in one file: the parser's call is
    the domain's fold of the same copies, whatever their order."""
    t = Transcript("s-stream")
    for u, side in copies:
        # One line per copy; `isSidechain` as the copy says (a subagent's lines in the main file).
        t.assistant([text_block("x")], u=_anthropic_usage(u), message_id="msg_1", request_id="req_1")
        t.lines[-1]["isSidechain"] = side
    parser = TranscriptParser(describe_path("/p/-home-dev-proj/s-stream.jsonl"))
    for line in t.text().splitlines(keepends=True):
        parser.feed(line)
    (got,) = parser.take_batch().llm_calls
    want = domain_fold(_calls("msg:msg_1", [(u, side, None, None) for u, side in copies]))
    assert (got.usage, got.is_sidechain) == (want.usage, want.is_sidechain)


@settings(max_examples=150, deadline=None)
@given(copies=_call_copies)
def test_the_otlp_builder_keeps_the_copy_the_store_keeps(
    copies: list[tuple[Usage | None, bool, int | None, str | None]],
) -> None:
    builder = Builder("otlp-logs", 0)
    calls = _calls("req_1", copies)
    for call in calls:
        builder.call(replace(call))
    got = builder.calls["req_1"]
    want = domain_fold(calls)
    assert _pick(call_row(got), USAGE_RESULT) == _pick(call_row(want), USAGE_RESULT)
    # And the store would keep the same: the ClickHouse fold of the rows is the SQL rule.
    assert _pick(call_row(got), USAGE_RESULT) == _pick(
        clickhouse_fold([call_row(c) for c in calls], "llm_call"), USAGE_RESULT
    )


def test_the_transcript_parser_prefers_the_copy_that_knows_the_1h_split() -> None:
    """Equal totals: the copy with the 1-hour cache-write split wins in the parser, as in the store
    (before, the parser kept whichever came first)."""
    t = Transcript("s-1h")
    no_split = usage(10, 100, write_5m=50, write_1h=0)
    with_split = usage(10, 100, write_5m=20, write_1h=30)
    t.assistant(
        [text_block("a"), text_block("b")], u=with_split, partial_usage=[no_split], message_id="msg_1h"
    )
    parser = TranscriptParser(describe_path("/p/-home-dev-proj/s-1h.jsonl"))
    for line in t.text().splitlines(keepends=True):
        parser.feed(line)
    (call,) = parser.take_batch().llm_calls
    assert call.usage is not None
    assert (call.usage.cache_5m_tokens, call.usage.cache_1h_tokens) == (20, 30)


def test_the_otlp_builder_lets_a_main_thread_copy_win_a_tie() -> None:
    """Equal totals: a main-thread copy replaces a sidechain copy (before, is_sidechain stuck
    once any copy had it); a sidechain copy with fewer tokens does not mark the call."""
    builder = Builder("otlp-logs", 0)
    builder.call(LlmCall("req_t", SESSION, usage=Usage(1, 10), is_sidechain=True))
    builder.call(LlmCall("req_t", SESSION, usage=Usage(1, 10), is_sidechain=False))
    builder.call(LlmCall("req_s", SESSION, usage=Usage(2, 10), is_sidechain=False))
    builder.call(LlmCall("req_s", SESSION, usage=Usage(1, 10), is_sidechain=True))
    assert not builder.calls["req_t"].is_sidechain
    assert not builder.calls["req_s"].is_sidechain


def test_failed_statuses_are_the_ranked_ones() -> None:
    assert set(mr.FAILED_STATUSES) == set(mr.STATUS_RANK)
    assert all(rank > mr.OTHER_STATUS_RANK for rank in mr.STATUS_RANK.values())


def test_the_clickhouse_rollup_views_use_the_domain_kinds_and_statuses() -> None:
    """The ClickHouse migrations are SQL files applied once: their literals are checked here."""
    human = "kind IN (" + ", ".join(f"'{k}'" for k in HUMAN_PROMPT_KINDS) + ")"
    failed = "status IN (" + ", ".join(f"'{s}'" for s in mr.FAILED_STATUSES) + ")"
    folder = Path(__file__).parents[2] / "src/agent_trace/store/clickhouse/migrations"
    found = [
        match.group(0)
        for path in sorted(folder.glob("*.sql"))
        for match in re.finditer(r"\b(kind|status) IN \([^)]*\)", path.read_text())
    ]
    assert found and set(found) == {human, failed}
