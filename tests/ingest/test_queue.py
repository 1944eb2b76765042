"""The collector's single writer: acknowledged means committed, group commits, back-pressure,
one bad request failing alone, and a clean stop."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import pytest

from agent_trace.config import Settings
from agent_trace.domain.pricing import PriceBook
from agent_trace.domain.records import RecordBatch, Session, ToolCall
from agent_trace.ingest.queue import IngestQueue, IngestRejected, IngestUnavailable, QueueFull
from agent_trace.ingest.writer import Writer
from agent_trace.store.factory import open_store
from agent_trace.store.port import SessionQuery


class GatedStore:
    """A real store whose writes can be held at a gate, made to fail, or counted."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.gate = threading.Event()
        self.gate.set()
        self.waiting = threading.Event()
        self.writes: list[int] = []
        self.fail_all = False
        self.poison: str | None = None

    def write(self, batch: RecordBatch, file_states: Any = None) -> None:
        self.waiting.set()
        self.gate.wait(10)
        if self.fail_all:
            raise RuntimeError("database is down")
        if self.poison and any(s.session_id == self.poison for s in batch.sessions):
            raise ValueError("this record breaks a constraint")
        self.inner.write(batch, file_states)
        self.writes.append(len(batch))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def gated(settings: Settings) -> Iterator[GatedStore]:
    store = open_store(settings.database_url, settings.events_url)
    yield GatedStore(store)
    store.close()


def _queue(store: Any, *, pending: int = 1000, batch: int = 1000) -> IngestQueue:
    queue = IngestQueue(Writer(store, PriceBook(), 2), max_pending_records=pending, max_batch_records=batch)
    queue.start()
    return queue


def _batch(session_id: str, tools: int = 1) -> RecordBatch:
    return RecordBatch(
        sessions=[Session(session_id, agent="claude-code")],
        tool_calls=[ToolCall(f"toolu_{session_id}_{i}", session_id, tool_name="Bash") for i in range(tools)],
    )


def test_a_resolved_future_means_the_records_are_committed(gated: GatedStore, settings: Settings) -> None:
    queue = _queue(gated)
    try:
        futures = [queue.submit(_batch(f"s{i}")) for i in range(20)]
        for future in futures:
            future.result(timeout=30)
        # Another connection, as after a restart: everything acknowledged is there.
        other = open_store(settings.database_url, settings.events_url)
        try:
            assert other.counts()["sessions"] == 20
            assert other.counts()["tool_calls"] == 20
        finally:
            other.close()
    finally:
        queue.stop()


def test_requests_waiting_together_are_committed_as_one_transaction(gated: GatedStore) -> None:
    queue = _queue(gated)
    try:
        gated.gate.clear()
        first = queue.submit(_batch("first"))
        assert gated.waiting.wait(10)  # the writer holds the first request at the gate
        rest = [queue.submit(_batch(f"s{i}")) for i in range(9)]
        gated.gate.set()
        for future in [first, *rest]:
            future.result(timeout=30)
        assert len(gated.writes) == 2  # the first alone, then the nine that waited, together
        assert gated.writes[1] == 9 * 2
    finally:
        queue.stop()


def test_a_full_queue_refuses_at_once_and_accepts_again_when_drained(gated: GatedStore) -> None:
    queue = _queue(gated, pending=10)
    try:
        gated.gate.clear()
        accepted = [queue.submit(_batch("a", tools=3))]  # 4 records
        assert gated.waiting.wait(10)
        accepted.append(queue.submit(_batch("b", tools=3)))  # 8 waiting
        assert queue.is_full() is False
        with pytest.raises(QueueFull) as refused:
            queue.submit(_batch("c", tools=3))  # 12 > 10
        assert refused.value.retry_after_s >= 1
        gated.gate.set()
        for future in accepted:
            future.result(timeout=30)
        assert queue.pending_records == 0
        queue.submit(_batch("c", tools=3)).result(timeout=30)
        assert gated.inner.counts()["sessions"] == 3
    finally:
        queue.stop()


def test_an_oversized_request_is_accepted_when_nothing_else_waits(gated: GatedStore) -> None:
    queue = _queue(gated, pending=5, batch=5)
    try:
        queue.submit(_batch("big", tools=50)).result(timeout=30)
        assert gated.inner.counts()["tool_calls"] == 50
    finally:
        queue.stop()


def test_one_bad_request_fails_alone(gated: GatedStore) -> None:
    queue = _queue(gated)
    try:
        gated.gate.clear()
        first = queue.submit(_batch("first"))
        assert gated.waiting.wait(10)
        gated.poison = "bad"
        group = [queue.submit(_batch(name)) for name in ("ok1", "bad", "ok2")]
        gated.gate.set()
        first.result(timeout=30)
        group[0].result(timeout=30)
        group[2].result(timeout=30)
        with pytest.raises(IngestRejected):
            group[1].result(timeout=30)
        ids = set(gated.inner.find_session_ids(""))
        assert {"first", "ok1", "ok2"} <= ids and "bad" not in ids
    finally:
        queue.stop()


def test_a_failing_store_fails_every_request_as_retryable(gated: GatedStore) -> None:
    queue = _queue(gated)
    try:
        gated.fail_all = True
        futures: list[Future[None]] = [queue.submit(_batch(f"s{i}")) for i in range(3)]
        for future in futures:
            with pytest.raises(IngestUnavailable):
                future.result(timeout=30)
        assert queue.pending_records == 0
        gated.fail_all = False
        queue.submit(_batch("later")).result(timeout=30)  # the writer survived
    finally:
        queue.stop()


def test_stop_commits_what_was_accepted_and_refuses_the_rest(gated: GatedStore) -> None:
    queue = _queue(gated)
    gated.gate.clear()
    futures = [queue.submit(_batch(f"s{i}")) for i in range(5)]
    assert gated.waiting.wait(10)
    stopper = threading.Thread(target=queue.stop)
    stopper.start()
    gated.gate.set()
    stopper.join(30)
    for future in futures:
        future.result(timeout=1)
    assert gated.inner.counts()["sessions"] == 5
    with pytest.raises(IngestUnavailable):
        queue.submit(_batch("late"))


def test_derived_data_is_refreshed_once_the_queue_is_idle(gated: GatedStore) -> None:
    queue = _queue(gated)
    try:
        queue.submit(_batch("s1", tools=2)).result(timeout=30)
        queue.stop()  # the writer refreshes before it stops, at the latest
        assert gated.inner.has_pending_refresh() is False
        (summary,) = gated.inner.list_sessions(SessionQuery()).sessions
        assert summary.tool_calls == 2
    finally:
        queue.stop()


def test_an_empty_batch_is_acknowledged_without_a_write(gated: GatedStore) -> None:
    queue = _queue(gated)
    try:
        queue.submit(RecordBatch()).result(timeout=1)
        assert gated.writes == []
    finally:
        queue.stop()
