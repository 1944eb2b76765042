"""Inputs the sample data never showed (issue 10), each from a hand-made fixture, on every backend:
a complete last line without its newline, calls without a usable timestamp, a call without a
model, a file holding only a summary line, fast mode and long-context requests through import."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from agent_trace.domain.pricing import UNPRICED_NO_MODEL, PriceBook
from agent_trace.domain.records import NO_MODEL_LABEL
from agent_trace.hook.transcript import read_deltas
from agent_trace.ingest.deltas import Delta, DeltaParser
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from agent_trace.reports.usage import period_report
from agent_trace.store.port import Filters, SessionQuery
from tests.fixtures.transcripts import Transcript, text_block, uid, usage


def run_import(store: Any, paths: list[Path]) -> Any:
    return Importer(Writer(store, PriceBook(), 2, "dev")).run(paths)


def usage_totals(store: Any) -> tuple[int, int, int, int]:
    calls = inp = out = cost = 0
    for b in store.usage_buckets(Filters()):
        calls += b.calls
        inp += b.input_tokens
        out += b.output_tokens
        cost += b.cost_nusd
    return calls, inp, out, cost


def sessions(store: Any) -> list[Any]:
    return store.list_sessions(SessionQuery(filters=Filters(), limit=100)).sessions


# -- class 3: a complete last line without a newline ---------------------------------------------


def test_a_complete_last_line_without_newline_is_imported_once(store: Any, tmp_path: Path) -> None:
    t = Transcript(uid())
    t.prompt("go", prompt_id=uid())
    t.assistant([text_block("a")], u=usage(1, 2))
    t.assistant([text_block("b")], u=usage(3, 508))
    data = t.text()
    path = tmp_path / "p" / f"{t.session_id}.jsonl"
    path.parent.mkdir()
    path.write_bytes(data[:-1])  # the final streamed copy, complete, without its newline
    first = run_import(store, [tmp_path])
    assert first.stats.incomplete_tail == 0
    assert usage_totals(store)[:3] == (2, 4, 510)
    # The newline arrives later, then more lines: nothing counts twice.
    path.write_bytes(data)
    run_import(store, [tmp_path])
    assert usage_totals(store)[:3] == (2, 4, 510)
    t2 = Transcript(t.session_id, clock=t.clock)
    t2.assistant([text_block("c")], u=usage(5, 6))
    path.write_bytes(data + t2.text())
    run_import(store, [tmp_path])
    assert usage_totals(store)[:3] == (3, 9, 516)


def test_a_half_written_last_line_still_waits(store: Any, tmp_path: Path) -> None:
    t = Transcript(uid())
    t.assistant([text_block("a")], u=usage(1, 2))
    t.assistant([text_block("b")], u=usage(3, 4))
    data = t.text()
    path = tmp_path / "p" / f"{t.session_id}.jsonl"
    path.parent.mkdir()
    path.write_bytes(data[:-20])
    assert run_import(store, [tmp_path]).stats.incomplete_tail == 1
    assert usage_totals(store)[0] == 1


def test_hook_deltas_ship_a_complete_last_line_and_never_parse_it_twice(store: Any, tmp_path: Path) -> None:
    t = Transcript(uid())
    t.prompt("go", prompt_id=uid())
    t.assistant([text_block("a")], u=usage(1, 2))
    t.assistant([text_block("b")], u=usage(3, 508))
    data = t.text()
    path = tmp_path / f"{t.session_id}.jsonl"
    path.write_bytes(data[:-1])
    deltas, offsets = read_deltas([path], {}, lambda line: line)
    assert offsets[str(path)] == len(data) - 1
    parser = DeltaParser(store)
    writer = Writer(store, PriceBook(), 2, "dev")

    def ship(items: list[dict[str, Any]]) -> None:
        batch, cursors = parser.parse([Delta(t.session_id, d["path"], d["offset"], d["text"]) for d in items])
        writer.write(batch)
        parser.commit(cursors)

    ship(deltas)
    writer.refresh()
    assert usage_totals(store)[:3] == (2, 4, 510)
    path.write_bytes(data)  # the newline comes
    more, offsets = read_deltas([path], offsets, lambda line: line)
    assert [d["text"] for d in more] == ["\n"] and offsets[str(path)] == len(data)
    ship(more)
    writer.refresh()
    assert usage_totals(store)[:3] == (2, 4, 510)


# -- class 4: calls without a usable timestamp ----------------------------------------------------


def test_undated_calls_take_the_neighbouring_time_and_land_in_every_report(
    store: Any, tmp_path: Path
) -> None:
    t = Transcript(uid())
    t.prompt("go", prompt_id=uid())
    t.assistant([text_block("dated")], u=usage(10, 20))
    t.assistant([text_block("undated")], u=usage(250_000, 1000), model="claude-opus-4-6")
    t.lines[-1]["timestamp"] = "not a time"
    prompt_time = t.lines[0]["timestamp"]
    path = t.write(tmp_path / "p" / f"{t.session_id}.jsonl")
    summary = run_import(store, [tmp_path])
    assert summary.stats.estimated_times == 1
    # Every call is in a day: the daily report and the session agree.
    calls, inp, out, cost = usage_totals(store)
    assert (calls, inp, out) == (2, 250_010, 1020)
    (session,) = sessions(store)
    assert (session.llm_calls, session.input_tokens, session.cost_nusd) == (2, 250_010, cost)
    report = period_report("daily", store.usage_buckets(Filters()), [], UTC, "UTC")
    assert list(report.rows) == [prompt_time[:10]]
    # Priced as of its neighbour's date (Feb 2026: Opus 4.6 long-context tier), not 1970.
    dated = (10 * 5 + 20 * 25) * 1000
    assert cost == dated + (250_000 * 10 + 1000 * 37_500_000 // 1_000_000) * 1000
    assert path.exists()


def test_a_file_with_no_times_at_all_uses_its_mtime(store: Any, tmp_path: Path) -> None:
    t = Transcript(uid())
    t.assistant([text_block("x")], u=usage(10, 20))
    for line in t.lines:
        del line["timestamp"]
    path = t.write(tmp_path / "p" / f"{t.session_id}.jsonl")
    mtime = datetime(2026, 5, 17, 8, 30, tzinfo=UTC).timestamp()
    os.utime(path, (mtime, mtime))
    assert run_import(store, [tmp_path]).stats.estimated_times == 1
    (bucket,) = store.usage_buckets(Filters())
    assert bucket.bucket_ms == int(mtime * 1000) - int(mtime * 1000) % (15 * 60_000)
    (session,) = sessions(store)
    assert session.started_ms == int(mtime * 1000)


# -- smaller items ------------------------------------------------------------------------------


def test_a_call_without_a_model_is_unpriced_and_named(store: Any, tmp_path: Path) -> None:
    t = Transcript(uid())
    t.assistant([text_block("x")], u=usage(10, 20))
    del t.lines[-1]["message"]["model"]
    t.write(tmp_path / "p" / f"{t.session_id}.jsonl")
    summary = run_import(store, [tmp_path])
    assert summary.unpriced_reasons == {NO_MODEL_LABEL: UNPRICED_NO_MODEL}
    (bucket,) = store.usage_buckets(Filters())
    assert (bucket.calls, bucket.unpriced_calls, bucket.cost_nusd) == (1, 1, 0)
    report = period_report("daily", store.usage_buckets(Filters()), [], UTC, "UTC")
    assert report.totals.as_json()["unpriced_models"] == [NO_MODEL_LABEL]
    (session,) = sessions(store)
    assert list(session.unpriced_models) == [NO_MODEL_LABEL]


def test_a_summary_only_file_is_no_session(store: Any, tmp_path: Path) -> None:
    sid = uid()
    path = tmp_path / "p" / f"{sid}.jsonl"
    path.parent.mkdir()
    path.write_bytes(orjson.dumps({"type": "summary", "summary": "Old work", "leafUuid": uid()}) + b"\n")
    run_import(store, [tmp_path])
    assert sessions(store) == []
    # A summary heading a file with content still titles that session.
    t = Transcript(uid())
    t.prompt("hello", prompt_id=uid())
    other = tmp_path / "p" / f"{t.session_id}.jsonl"
    other.write_bytes(
        orjson.dumps({"type": "summary", "summary": "Fixing the login", "leafUuid": uid()}) + b"\n" + t.text()
    )
    run_import(store, [tmp_path])
    (session,) = sessions(store)
    assert (session.session_id, session.title) == (t.session_id, "Fixing the login")


def test_fast_mode_and_long_context_through_import(store: Any, tmp_path: Path) -> None:
    t = Transcript(uid())
    fast = usage(100_000, 10_000)
    fast["speed"] = "fast"
    t.assistant([text_block("fast")], u=fast, model="claude-opus-4-6")
    t.assistant([text_block("long")], u=usage(250_000, 10_000), model="claude-sonnet-4-20250514")
    t.write(tmp_path / "p" / f"{t.session_id}.jsonl")
    run_import(store, [tmp_path])
    assert usage_totals(store)[3] == 4_500_000_000 + 1_725_000_000


def test_sidechain_lines_in_the_main_file_and_a_subagent_file_are_one_subagent(
    store: Any, tmp_path: Path
) -> None:
    sid = uid()
    main = Transcript(sid)
    main.prompt("delegate", prompt_id=uid())
    main.assistant([text_block("on it")], u=usage(10, 20))
    sub = Transcript(sid, agent_id="a1b2c3d4e5f6a7b8c")
    sub.prompt("the subtask")
    sub.assistant([text_block("sub work")], u=usage(30, 40))
    for line in sub.lines:  # pre-2.0: the sidechain lines are in the main file too, without agentId
        main.raw({k: v for k, v in line.items() if k != "agentId"})
    main.write(tmp_path / "p" / f"{sid}.jsonl")
    sub.write(tmp_path / "p" / sid / "subagents" / "agent-a1b2c3d4e5f6a7b8c.jsonl")
    run_import(store, [tmp_path])
    (session,) = sessions(store)
    assert (session.subagents, session.llm_calls, session.input_tokens) == (1, 2, 40)
