"""Full-text search (Store.search) on every backend: what it finds, where, ranked how, and that
only stored - tiered and redacted - text is searchable."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_trace.domain.privacy import apply_privacy
from agent_trace.domain.records import LlmCall, Prompt, RecordBatch, Session, ToolCall
from agent_trace.domain.search_text import MARK_END, MARK_START, query_terms, snippet
from agent_trace.store.port import Filters, SearchQuery
from agent_trace.store.sql.search import KINDS, index_pending_statement

T0 = 1_770_000_000_000
SECRET = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def _batch(tier: int) -> RecordBatch:
    batch = RecordBatch(
        sessions=[
            Session("s1", project="/home/dev/shop", user_id="alice", started_ms=T0),
            Session("s2", project="/home/dev/blog", user_id="bob", started_ms=T0 + 1000),
        ],
        prompts=[
            Prompt("p1", "s1", ts_ms=T0, kind="prompt", text="Fix the checkout total rounding"),
            Prompt("p2", "s2", ts_ms=T0 + 1000, kind="prompt", text="Write a post about rounding errors"),
        ],
        tool_calls=[
            ToolCall(
                "t1",
                "s1",
                tool_name="Write",
                prompt_id="p1",
                started_ms=T0 + 10,
                status="success",
                input_json='{"file_path": "/home/dev/shop/src/cart_totals.py", "content": "x = 1"}',
                output_text="File created",
            ),
            ToolCall(
                "t2",
                "s1",
                tool_name="Bash",
                prompt_id="p1",
                started_ms=T0 + 20,
                status="error",
                input_json='{"command": "pytest tests/test_cart.py -k rounding"}',
                error="AssertionError: expected 10.05 got 10.04",
                output_text=f"export TOKEN={SECRET}",
            ),
        ],
        llm_calls=[
            LlmCall(
                "c1",
                "s1",
                prompt_id="p1",
                ts_ms=T0 + 30,
                model="claude-opus-4-6",
                response_text="The CheckoutService now rounds half-even.",
            )
        ],
    )
    apply_privacy(batch, tier)
    return batch


def _found(store: Any, text: str, **kw: Any) -> set[tuple[str, str, str]]:
    return {(h.kind, h.ref_id, h.field) for h in store.search(SearchQuery(text, **kw))}


def test_finds_paths_commands_errors_prompts_and_responses(store: Any) -> None:
    store.write(_batch(3))
    assert _found(store, "src/cart_totals.py") == {("tool_call", "t1", "input")}
    assert _found(store, "cart_totals") == {("tool_call", "t1", "input")}
    assert _found(store, "pytest -k") == {("tool_call", "t2", "input")}
    assert _found(store, "expected 10.05") == {("tool_call", "t2", "error")}
    assert _found(store, "CheckoutServ") == {("response", "c1", "response")}  # a prefix
    assert _found(store, "src/cart_tot") == {("tool_call", "t1", "input")}  # the last word, as a prefix
    assert _found(store, "cart_totals.p") == set()  # but not one shorter than 3 characters
    assert _found(store, "rounding") >= {("prompt", "p1", "prompt"), ("prompt", "p2", "prompt")}
    assert _found(store, "rounding checkout") == {("prompt", "p1", "prompt")}  # every term
    assert _found(store, "total checkout") == {("prompt", "p1", "prompt")}  # terms in any order
    assert _found(store, "totals checkout") == set()  # whole words (only the last is a prefix)
    assert _found(store, "total checkout rounding nothing-like-this") == set()
    assert _found(store, "   ") == set()
    hit = store.search(SearchQuery("10.05"))[0]
    assert (hit.session_id, hit.prompt_id, hit.tool_name) == ("s1", "p1", "Bash")
    assert hit.snippet == f"AssertionError: expected {MARK_START}10.05{MARK_END} got 10.04"


def test_filters_and_kinds(store: Any) -> None:
    store.write(_batch(3))
    assert _found(store, "rounding", filters=Filters(user="bob")) == {("prompt", "p2", "prompt")}
    assert _found(store, "rounding", filters=Filters(project="shop")) == {
        ("prompt", "p1", "prompt"),
        ("tool_call", "t2", "input"),
    }
    assert _found(store, "rounding", filters=Filters(since_ms=T0 + 500)) == {("prompt", "p2", "prompt")}
    assert _found(store, "rounding", kinds=frozenset({"tool_call"})) == {("tool_call", "t2", "input")}
    assert len(store.search(SearchQuery("rounding", limit=1))) == 1


def test_only_what_the_tier_kept_and_never_a_secret(store: Any) -> None:
    store.write(_batch(2))
    assert _found(store, "CheckoutService") == set()  # tier 2 keeps no responses
    assert _found(store, SECRET) == set()
    assert _found(store, "export TOKEN") == {("tool_call", "t2", "output")}  # the rest is searchable


def test_a_merged_record_is_found_by_its_new_text_only(store: Any) -> None:
    store.write(_batch(3))
    later = RecordBatch(
        tool_calls=[ToolCall("t1", "s1", tool_name="Write", output_text="File rewritten entirely")]
    )
    store.write(later)
    assert ("tool_call", "t1", "output") in _found(store, "rewritten entirely")
    assert _found(store, "File created") == set()


def test_terms_and_snippets() -> None:
    assert query_terms("src/app.py  Auth") == [["src", "app", "py"], ["auth"]]
    assert query_terms("!!! ...") == []
    text = "a" * 300 + " see src/app.py here"
    cut = snippet(text, query_terms("app.py"))
    assert cut is not None and cut.startswith("…") and f"{MARK_START}app.py{MARK_END}" in cut
    assert snippet("happy path", query_terms("app")) is None  # words, not substrings


_TEXTS = st.one_of(st.none(), st.sampled_from(["alpha beta", "beta gamma", "gamma delta", "delta alpha"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    writes=st.lists(
        st.lists(
            st.tuples(st.sampled_from(["t1", "t2", "t3", "t4"]), _TEXTS, _TEXTS), min_size=1, max_size=4
        ),
        min_size=1,
        max_size=5,
    ),
    deletes=st.lists(st.sampled_from(["t1", "t2", "t3", "t4", None]), min_size=5, max_size=5),
)
def test_sqlite_index_follows_every_insert_merge_and_repeat(
    sqlite_store: Any, writes: list[Any], deletes: list[str | None]
) -> None:
    """Rows are indexed once per write (migration 0007_fts_pending): whatever mix
    of new rows, merges, repeats of one key inside a batch and deletes between writes (a delete
    of the newest row makes SQLite reuse its rowid), the FTS5 index holds exactly the table's
    words and finds what is stored."""
    store = sqlite_store
    run = store.runner
    run.execute("DELETE FROM tool_calls")  # Hypothesis reuses the fixture's store
    run.execute("INSERT INTO tool_calls_fts (tool_calls_fts) VALUES ('delete-all')")
    for write, delete in zip(writes, deletes, strict=False):
        if delete is not None:
            run.execute("DELETE FROM tool_calls WHERE tool_use_id = :k", {"k": delete})
        batch = RecordBatch(
            tool_calls=[
                ToolCall(key, "s1", tool_name="Bash", input_json=inp, output_text=out)
                for key, inp, out in write
            ]
        )
        store.write(batch)
    assert run.query("SELECT COUNT(*) FROM tool_calls_fts_pending") == [(0,)]
    # What the index holds, read from the index itself: every (word, row) exactly as stored.
    run.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.words USING fts5vocab(main, 'tool_calls_fts', 'instance')"
    )
    rows = run.query("SELECT rowid, tool_use_id, input_json, output_text FROM tool_calls")
    assert {(str(r[0]), int(r[1])) for r in run.query("SELECT term, doc FROM temp.words")} == {
        (word, int(rowid))
        for rowid, _key, inp, out in rows
        for text in (inp, out)
        if text
        for word in text.split()
    }
    stored = {str(r[1]): f"{r[2]} {r[3]}" for r in rows}
    for word in ("alpha", "beta", "gamma", "delta"):
        expected = {k for k, text in stored.items() if word in text.split()}
        assert {ref for _kind, ref, _field in _found(store, word)} == expected


def test_sqlite_index_flush_reads_only_the_noted_rows(sqlite_store: Any) -> None:
    """The flush at the end of every write looks up the noted rows by rowid; a plan that scans the record table made every collector write cost
    O(store size) (found by profiling the collector)."""
    run = sqlite_store.runner
    for table, _key, _time, _tool, fields in KINDS.values():
        columns = [column for _field, column in fields]
        plan = " | ".join(
            str(row[-1]) for row in run.query("EXPLAIN QUERY PLAN " + index_pending_statement(table, columns))
        )
        assert f"SCAN {table}" not in plan and "SCAN t" not in plan, plan
        assert "SEARCH t USING INTEGER PRIMARY KEY" in plan, plan
