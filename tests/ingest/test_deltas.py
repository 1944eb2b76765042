"""Transcript deltas (shipped by the hook handler) parse to exactly what an import of the whole
file gives: however the file is cut, re-delivered, interrupted by a restart, or delivered late."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent_trace.config import Settings
from agent_trace.domain.pricing import PriceBook
from agent_trace.domain.records import RecordBatch
from agent_trace.ingest.deltas import Delta
from agent_trace.ingest.queue import IngestQueue
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from agent_trace.store.factory import open_store
from agent_trace.store.port import Store
from tests.fixtures.transcripts import streamed_session

SPOTTER_FILE = "spotter/projects/-home-user-proj/258c7280-ae70-4798-800f-63464d01a85d.jsonl"
CLIENT_PATH = "/home/dev/.claude/projects/-home-user-proj/258c7280-ae70-4798-800f-63464d01a85d.jsonl"
SESSION = "258c7280-ae70-4798-800f-63464d01a85d"
VOLATILE = {"updated_ms", "last_activity_ms"}


def _store(settings: Settings, name: str) -> Store:
    home = settings.home / name
    home.mkdir()
    return open_store(f"sqlite:///{home / 'agent-trace.db'}", settings.events_url)


@contextmanager
def _queue(store: Store) -> Iterator[IngestQueue]:
    queue = IngestQueue(Writer(store, PriceBook(), 3), max_pending_records=10**9, max_batch_records=5000)
    queue.start()
    try:
        yield queue
    finally:
        queue.stop()


def _ship(queue: IngestQueue, deltas: list[Delta]) -> None:
    for delta in deltas:
        queue.submit(RecordBatch(), [delta]).result(timeout=60)


def _cut(data: bytes, cuts: list[int], path: str = CLIENT_PATH, session: str = SESSION) -> list[Delta]:
    """Deltas covering `data`, cut at the line boundaries nearest to `cuts`."""
    bounds = sorted({0, len(data), *(data.find(b"\n", c) + 1 for c in cuts if data.find(b"\n", c) >= 0)})
    return [Delta(session, path, a, data[a:b].decode()) for a, b in itertools.pairwise(bounds) if b > a]


def _records(store: Store, session_id: str) -> dict[str, Any]:
    store.refresh_derived()
    detail = store.session_detail(session_id)
    assert detail is not None
    keys = {
        "prompts": ("prompt_id",),
        "llm_calls": ("call_id",),
        "tool_calls": ("tool_use_id",),
        "file_touches": ("tool_use_id", "path", "op"),
        "subagents": ("agent_id",),
    }
    out: dict[str, Any] = {"session": {k: v for k, v in detail.session.items() if k not in VOLATILE}}
    for table, key in keys.items():
        out[table] = {
            tuple(r[k] for k in key): {k: v for k, v in r.items() if k not in VOLATILE}
            for r in getattr(detail, table)
        }
    return out


def _imported(settings: Settings, path: Path, session_id: str) -> dict[str, Any]:
    store = _store(settings, "import")
    try:
        Importer(Writer(store, PriceBook(), 3)).run([path])
        return _records(store, session_id)
    finally:
        store.close()


@pytest.mark.corpus
def test_any_cut_of_a_real_transcript_gives_the_import_records(settings: Settings, corpus: Path) -> None:
    """Spotter 258c7280: streamed responses whose early lines carry partial output counts."""
    path = corpus / SPOTTER_FILE
    data = path.read_bytes()
    expected = _imported(settings, path, SESSION)
    rng = random.Random(258)
    deltas = _cut(data, [rng.randrange(len(data)) for _ in range(60)])
    store = _store(settings, "live")
    try:
        with _queue(store) as queue:
            _ship(queue, deltas)
        assert _records(store, SESSION) == expected
    finally:
        store.close()


def _streamed_and_imported(settings: Settings, tmp_path: Path) -> tuple[bytes, str, dict[str, Any]]:
    """The streamed fixture session, and what importing it as one file stores."""
    data, session_id = streamed_session()
    file = tmp_path / f"{session_id}.jsonl"
    file.write_bytes(data)
    return data, session_id, _imported(settings, file, session_id)


def test_a_cut_inside_a_streamed_response_keeps_the_whole_response(
    settings: Settings, tmp_path: Path
) -> None:
    data, session_id, expected = _streamed_and_imported(settings, tmp_path)
    path = f"/home/dev/.claude/projects/-p/{session_id}.jsonl"
    lines = data.splitlines(keepends=True)
    store = _store(settings, "live")
    try:
        with _queue(store) as queue:
            # One line per delta: every response is cut between its content blocks.
            offset = 0
            for line in lines:
                _ship(queue, [Delta(session_id, path, offset, line.decode())])
                offset += len(line)
        got = _records(store, session_id)
        assert got == expected
        (call,) = [c for c in got["llm_calls"].values() if c["output_tokens"] == 300]
        assert call["response_text"] == "Looking." and call["thinking"] == "hmm"
        (later,) = [c for c in got["llm_calls"].values() if c["output_tokens"] == 40]
        assert later["response_text"] == "Reading both.\n\nTwo files."
        assert len(orjson.loads(later["tool_use_ids"])) == 1
    finally:
        store.close()


def test_redelivered_and_overlapping_deltas_change_nothing(settings: Settings, tmp_path: Path) -> None:
    data, session_id, expected = _streamed_and_imported(settings, tmp_path)
    path = f"/p/{session_id}.jsonl"
    half = data.find(b"\n", len(data) // 2) + 1
    store = _store(settings, "live")
    try:
        with _queue(store) as queue:
            first = Delta(session_id, path, 0, data[:half].decode())
            whole = Delta(session_id, path, 0, data.decode())  # overlaps the first
            _ship(queue, [first, first, whole, whole])
        assert _records(store, session_id) == expected
    finally:
        store.close()


def test_a_restart_resumes_from_the_stored_cursor(settings: Settings, tmp_path: Path) -> None:
    data, session_id, expected = _streamed_and_imported(settings, tmp_path)
    path = f"/p/{session_id}.jsonl"
    lines = data.splitlines(keepends=True)
    # Cut inside the first streamed response: the collector restarts holding its carried lines.
    cut = sum(len(line) for line in lines[:3])
    home_settings = settings
    store = _store(home_settings, "live")
    try:
        with _queue(store) as queue:
            _ship(queue, [Delta(session_id, path, 0, data[:cut].decode())])
        with _queue(store) as restarted:  # a new queue and parser: only the store remembers
            _ship(restarted, [Delta(session_id, path, cut, data[cut:].decode())])
        assert _records(store, session_id) == expected
    finally:
        store.close()


def test_a_half_line_at_the_end_of_a_delta_is_completed_by_the_next(
    settings: Settings, tmp_path: Path
) -> None:
    data, session_id, expected = _streamed_and_imported(settings, tmp_path)
    path = f"/p/{session_id}.jsonl"
    cut = len(data) // 2
    while data[cut] >= 0x80:  # never inside a UTF-8 character: deltas are text
        cut += 1
    store = _store(settings, "live")
    try:
        with _queue(store) as queue:
            _ship(
                queue,
                [
                    Delta(session_id, path, 0, data[:cut].decode()),
                    Delta(session_id, path, cut, data[cut:].decode()),
                ],
            )
        assert _records(store, session_id) == expected
    finally:
        store.close()


def test_deltas_delivered_out_of_order_lose_no_call_or_token(settings: Settings, corpus: Path) -> None:
    path = corpus / SPOTTER_FILE
    data = path.read_bytes()
    expected = _imported(settings, path, SESSION)
    deltas = _cut(data, [len(data) * i // 6 for i in range(1, 6)])
    order = [deltas[i] for i in (2, 0, 4, 1, 5, 3)]
    store = _store(settings, "live")
    try:
        with _queue(store) as queue:
            _ship(queue, order)
        got = _records(store, SESSION)
    finally:
        store.close()
    usage_columns = (
        "input_tokens",
        "output_tokens",
        "cache_creation_tokens",
        "cache_read_tokens",
        "cost_nusd",
    )
    assert set(got["llm_calls"]) == set(expected["llm_calls"])
    for key, row in expected["llm_calls"].items():
        assert {c: got["llm_calls"][key][c] for c in usage_columns} == {c: row[c] for c in usage_columns}
    assert set(got["tool_calls"]) == set(expected["tool_calls"])
    assert set(got["prompts"]) == set(expected["prompts"])
    for column in usage_columns:
        assert got["session"][column] == expected["session"][column]
