"""Which records are one call, and which session owns it (issue 10, classes 5 and 6), on every
backend: a call copied into a forked/resumed file belongs to the earliest-starting session holding
it whatever the file names and import order; two messages sharing a requestId are two calls; an
OTLP api_request (request id only) merges into the transcript's call whichever comes first."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain.pricing import PriceBook
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from agent_trace.store.port import Filters, SessionQuery
from tests.fixtures.transcripts import Transcript, text_block, uid, usage
from tests.sources.test_otlp_decode import SID, log, logs_body, post


def run_import(store: Any, paths: list[Path]) -> Any:
    return Importer(Writer(store, PriceBook(), 2, "dev")).run(paths)


def per_session(store: Any) -> dict[str, tuple[int, int, int]]:
    page = store.list_sessions(SessionQuery(filters=Filters(), limit=100))
    return {s.session_id: (s.llm_calls, s.input_tokens, s.output_tokens) for s in page.sessions}


def call_totals(store: Any) -> tuple[int, int, int]:
    calls = inp = out = 0
    for b in store.usage_buckets(Filters()):
        calls, inp, out = calls + b.calls, inp + b.input_tokens, out + b.output_tokens
    return calls, inp, out


def original_and_fork(original_id: str, fork_id: str) -> tuple[Transcript, Transcript]:
    """A session, and a later session whose file repeats its history under its own id."""
    a = Transcript(original_id, cwd="/home/dev/alpha")
    a.prompt("first", prompt_id=uid())
    a.assistant([text_block("one")], u=usage(10, 100))
    a.assistant([text_block("two")], u=usage(20, 200))
    b = Transcript(fork_id, cwd="/home/dev/alpha", clock=3600)
    for line in a.lines:
        copy = dict(line, sessionId=fork_id)
        b.raw(copy)
    b.clock = 3600
    b.prompt("continue on a branch", prompt_id=uid())
    b.assistant([text_block("three")], u=usage(30, 300))
    # The fork's own lines come an hour later; its copied lines keep their original times, so
    # both sessions start together: the tie goes to the smaller session id ... unless the
    # fork's copies were stamped when copied (older CLIs on --resume): below, both shapes.
    return a, b


@pytest.mark.parametrize("order", ["original-first", "fork-first", "together"])
@pytest.mark.parametrize("stamped", [False, True], ids=["copies-keep-times", "copies-restamped"])
def test_ownership_does_not_depend_on_names_or_order(
    store: Any, tmp_path: Path, stamped: bool, order: str
) -> None:
    # The original sorts after the fork by file name, so "first stored" would pick the fork.
    original, fork = "ffffffff-0000-4000-8000-000000000001", "00000000-0000-4000-8000-000000000002"
    a, b = original_and_fork(original, fork)
    if stamped:
        for line in b.lines[: len(a.lines)]:
            line["timestamp"] = "2026-02-11T11:00:00.000Z"
    root = tmp_path / "-home-dev-alpha"
    files = {"a": (a, original), "b": (b, fork)}
    sequence = {"original-first": ["a", "b"], "fork-first": ["b", "a"], "together": ["ab"]}[order]
    for step in sequence:
        for name in step:
            transcript, sid = files[name]
            transcript.write(root / f"{sid}.jsonl")
        run_import(store, [tmp_path])
    got = per_session(store)
    # Copies stamped when copied: the original started first and owns the shared calls. Copies
    # keeping their times: both start together, and the smaller session id owns them.
    owner = original if stamped else min(original, fork)
    shared_to_fork = owner == fork
    assert got[original] == ((0, 0, 0) if shared_to_fork else (2, 30, 300))
    assert got[fork] == ((3, 60, 600) if shared_to_fork else (1, 30, 300))
    assert call_totals(store) == (3, 60, 600)


def test_incremental_import_where_the_earlier_session_arrives_second(store: Any, tmp_path: Path) -> None:
    a, b = original_and_fork("ffffffff-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b")
    for line in b.lines[: len(a.lines)]:
        line["timestamp"] = "2026-02-11T11:00:00.000Z"  # the fork started later
    root = tmp_path / "-home-dev-alpha"
    b.write(root / f"{b.session_id}.jsonl")
    run_import(store, [tmp_path])
    assert per_session(store)[b.session_id] == (3, 60, 600)
    a.write(root / f"{a.session_id}.jsonl")
    run_import(store, [tmp_path])
    got = per_session(store)
    assert got[a.session_id] == (2, 30, 300)
    assert got[b.session_id] == (1, 30, 300)
    assert call_totals(store) == (3, 60, 600)


def test_two_messages_sharing_a_request_id_are_two_calls(store: Any, tmp_path: Path) -> None:
    t = Transcript(uid())
    t.prompt("go", prompt_id=uid())
    t.assistant([text_block("first")], u=usage(10, 100), request_id="req_shared")
    t.assistant([text_block("second")], u=usage(20, 200), request_id="req_shared")
    t.write(tmp_path / "p" / f"{t.session_id}.jsonl")
    run_import(store, [tmp_path])
    assert call_totals(store) == (2, 30, 300)


def _otlp_call(request_id: str, reported_usd: str) -> Any:
    batch = post(
        "logs",
        logs_body(
            log(
                "api_request",
                request_id=request_id,
                model="claude-opus-4-6",
                input_tokens="10",
                output_tokens="100",
                cost_usd=reported_usd,
                duration_ms="900",
            )
        ),
    )
    return batch


@pytest.mark.parametrize("otlp_first", [True, False], ids=["otlp-first", "transcript-first"])
def test_otlp_request_id_merges_into_the_transcript_call(
    store: Any, tmp_path: Path, otlp_first: bool
) -> None:
    t = Transcript(SID)
    t.prompt("go", prompt_id=uid())
    message_id, request_id = t.assistant([text_block("hello")], u=usage(10, 100))
    t.write(tmp_path / "p" / f"{SID}.jsonl")
    writer = Writer(store, PriceBook(), 2, "dev")
    if otlp_first:
        writer.write(_otlp_call(request_id, "0.00255"))
        writer.refresh()
    run_import(store, [tmp_path])
    if not otlp_first:
        writer.write(_otlp_call(request_id, "0.00255"))
        writer.refresh()
    assert call_totals(store) == (1, 10, 100)
    detail = store.session_detail(SID)
    [call] = detail.llm_calls
    assert call["call_id"] == "msg:" + message_id
    assert (call["request_id"], call["reported_cost_nusd"], call["duration_ms"]) == (
        request_id,
        2_550_000,
        900,
    )


def test_a_moved_folder_changes_nothing(store: Any, tmp_path: Path) -> None:
    a, b = original_and_fork(uid(), uid())
    root = tmp_path / "one" / "-home-dev-alpha"
    a.write(root / f"{a.session_id}.jsonl")
    b.write(root / f"{b.session_id}.jsonl")
    run_import(store, [tmp_path / "one"])
    before = per_session(store)
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    run_import(store, [tmp_path / "two"])
    assert per_session(store) == before


def test_an_upgraded_store_reads_every_file_again_and_copied_calls_find_their_owner(
    store: Any, tmp_path: Path
) -> None:
    """A store written before issue 10 kept a copied call with whichever session was stored
    first and never recorded the other holders; 0007_i10_reread makes the next import read every
    file again, which records them and re-decides the owner (and counts nothing twice)."""
    from agent_trace.store.sql.migrate import downgrade

    a, b = original_and_fork("ffffffff-0000-4000-8000-0000000000c1", "00000000-0000-4000-8000-0000000000c2")
    for line in b.lines[: len(a.lines)]:
        line["timestamp"] = "2026-02-11T11:00:00.000Z"  # the fork started later: the original owns
    root = tmp_path / "-home-dev-alpha"
    a.write(root / f"{a.session_id}.jsonl")
    b.write(root / f"{b.session_id}.jsonl")
    run_import(store, [tmp_path])
    assert per_session(store)[a.session_id] == (2, 30, 300)
    if not hasattr(store, "events"):
        # What 0.1 left behind: the fork stored first took the shared calls, and was their only
        # recorded holder.
        store.runner.execute(
            "UPDATE llm_calls SET session_id = :b WHERE session_id = :a",
            {"a": a.session_id, "b": b.session_id},
        )
        store.runner.execute("DELETE FROM call_holders WHERE session_id = :a", {"a": a.session_id})
        store.runner.execute(
            "INSERT INTO dirty_sessions (session_id) VALUES (:a), (:b)",
            {"a": a.session_id, "b": b.session_id},
        )
        store.refresh_derived()
        assert per_session(store)[a.session_id] == (0, 0, 0)
    unchanged = run_import(store, [tmp_path])
    assert unchanged.files_unchanged == 2 and unchanged.files_read == 0
    downgrade(store.runner, "0006_i9")
    store.migrate()
    again = run_import(store, [tmp_path])
    assert again.files_read == 2
    got = per_session(store)
    assert got[a.session_id] == (2, 30, 300)
    assert got[b.session_id] == (1, 30, 300)
    assert call_totals(store) == (3, 60, 600)
