"""SQL whose meaning differs between dialects, pinned down: the same answer on every backend.

Each case here is one that SQLite, PostgreSQL and ClickHouse would answer differently if the
store left the choice to the database (NULL ordering, LIKE case rules, collation, NUL bytes).
"""

from __future__ import annotations

from typing import Any

import pytest

from agent_trace.domain.records import LlmCall, Prompt, RecordBatch, Session, ToolCall, Usage
from agent_trace.store.port import Filters, SessionQuery

T0 = 1_770_000_000_000


def _write(store: Any, batch: RecordBatch) -> None:
    store.write(batch)
    store.refresh_derived()


def test_unknown_times_sort_first_in_a_session(store: Any) -> None:
    batch = RecordBatch(
        sessions=[Session("s1", project="/w/p", started_ms=T0)],
        prompts=[
            Prompt("p-late", "s1", ts_ms=T0 + 10, kind="prompt", text="late"),
            Prompt("p-none", "s1", ts_ms=None, kind="prompt", text="unknown time"),
            Prompt("p-early", "s1", ts_ms=T0 + 1, kind="prompt", text="early"),
        ],
        tool_calls=[
            ToolCall("t2", "s1", tool_name="Bash", started_ms=T0 + 5),
            ToolCall("t1", "s1", tool_name="Read"),
        ],
    )
    _write(store, batch)
    detail = store.session_detail("s1")
    assert [p["prompt_id"] for p in detail.prompts] == ["p-none", "p-early", "p-late"]
    assert [t["tool_use_id"] for t in detail.tool_calls] == ["t1", "t2"]
    # The first prompt of the session list is the earliest by time, unknown times first.
    page = store.list_sessions(SessionQuery())
    assert page.sessions[0].first_prompt == "unknown time"


def test_ties_sort_by_key_in_code_point_order(store: Any) -> None:
    # Mixed case, punctuation and non-ASCII: a linguistic collation would order these differently.
    ids = ["b", "B", "a-b", "ab", "Ä", "a_b", "a.b"]
    batch = RecordBatch(
        sessions=[Session("s1", started_ms=T0)],
        prompts=[Prompt(pid, "s1", ts_ms=T0, kind="prompt", text=pid) for pid in ids],
    )
    _write(store, batch)
    detail = store.session_detail("s1")
    assert [p["prompt_id"] for p in detail.prompts] == sorted(ids)


def test_project_filter_matches_the_last_folder_case_sensitively(store: Any) -> None:
    usage = Usage(input_tokens=1, output_tokens=1)
    batch = RecordBatch(
        sessions=[
            Session("s1", project="/work/beta", started_ms=T0),
            Session("s2", project="/work/Beta", started_ms=T0),
            Session("s3", project="/work/alphabeta", started_ms=T0),
            Session("s4", project="/work/be%a", started_ms=T0),
        ],
        llm_calls=[
            LlmCall(f"c{i}", f"s{i}", model="m", ts_ms=T0, usage=usage, cost_nusd=i) for i in range(1, 5)
        ],
    )
    _write(store, batch)

    def projects(name: str) -> set[str]:
        return {b.project for b in store.usage_buckets(Filters(project=name))}

    assert projects("beta") == {"/work/beta"}
    assert projects("Beta") == {"/work/Beta"}
    assert projects("/work/beta") == {"/work/beta"}
    assert projects("be%a") == {"/work/be%a"}  # a LIKE wildcard in a name is just a character
    page = store.list_sessions(SessionQuery(filters=Filters(project="beta")))
    assert [s.session_id for s in page.sessions] == ["s1"]


def test_session_id_prefix_is_case_sensitive(store: Any) -> None:
    _write(store, RecordBatch(sessions=[Session("abc-1"), Session("ABC-2"), Session("a_c-3")]))
    assert store.find_session_ids("abc") == ["abc-1"]
    assert store.find_session_ids("ABC") == ["ABC-2"]
    assert store.find_session_ids("a_c") == ["a_c-3"]  # '_' is not a wildcard


def test_text_search_folds_ascii_case_only(store: Any) -> None:
    batch = RecordBatch(
        sessions=[Session("s1", started_ms=T0), Session("s2", started_ms=T0 + 1)],
        prompts=[
            Prompt("p1", "s1", ts_ms=T0, kind="prompt", text="Fix the Parser"),
            Prompt("p2", "s2", ts_ms=T0 + 1, kind="prompt", text="Über alles 100%"),
        ],
    )
    _write(store, batch)

    def found(text: str) -> list[str]:
        return [s.session_id for s in store.list_sessions(SessionQuery(text=text)).sessions]

    assert found("parser") == ["s1"]
    assert found("PARSER") == ["s1"]
    assert found("100%") == ["s2"]
    assert found("Über") == ["s2"]
    assert found("0%a") == []  # '%' in the search text is literal


def test_nul_characters_are_kept_as_replacement_characters(store: Any) -> None:
    # PostgreSQL cannot store U+0000 in text; every backend stores U+FFFD instead, so all agree.
    batch = RecordBatch(
        sessions=[Session("s1", started_ms=T0, title="a\x00title")],
        prompts=[Prompt("p1", "s1", ts_ms=T0, kind="prompt", text="bin\x00ary")],
        tool_calls=[ToolCall("t1", "s1", tool_name="Read", started_ms=T0, output_text="\x00\x00x")],
    )
    _write(store, batch)
    detail = store.session_detail("s1")
    assert detail.prompts[0]["text"] == "bin\ufffdary"
    assert detail.tool_calls[0]["output_text"] == "\ufffd\ufffdx"
    assert detail.session["title"] == "a\ufffdtitle"


def test_bucket_rows_come_in_a_stable_order(store: Any) -> None:
    usage = Usage(input_tokens=1, output_tokens=1)
    models = ["zeta", "Alpha", "alpha", "beta"]
    batch = RecordBatch(
        sessions=[Session("s1", project="/p", started_ms=T0)],
        llm_calls=[LlmCall(f"c-{m}", "s1", model=m, ts_ms=T0, usage=usage) for m in models],
    )
    _write(store, batch)
    got = [b.model for b in store.usage_buckets(Filters())]
    assert got == sorted(models)


@pytest.mark.parametrize("copies", [2, 3])
def test_redelivered_batches_change_nothing(store: Any, copies: int) -> None:
    def batch() -> RecordBatch:
        return RecordBatch(
            sessions=[Session("s1", project="/p", user_id="u", started_ms=T0)],
            prompts=[Prompt("p1", "s1", ts_ms=T0, kind="prompt", text="go")],
            llm_calls=[
                LlmCall("c1", "s1", model="m", ts_ms=T0 + 1, usage=Usage(5, 7), cost_nusd=12),
            ],
            tool_calls=[ToolCall("t1", "s1", tool_name="Bash", started_ms=T0 + 2, status="error")],
        )

    _write(store, batch())
    first = (store.usage_buckets(Filters()), store.activity_buckets(Filters()), store.tool_buckets(Filters()))
    for _ in range(copies):
        _write(store, batch())
    assert (
        store.usage_buckets(Filters()),
        store.activity_buckets(Filters()),
        store.tool_buckets(Filters()),
    ) == first
    summary = store.list_sessions(SessionQuery()).sessions[0]
    assert (summary.llm_calls, summary.prompts, summary.tool_calls, summary.tool_errors) == (1, 1, 1, 1)
