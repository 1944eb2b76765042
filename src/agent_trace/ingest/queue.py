"""The collector's single writer: requests enqueue records, one thread commits them in groups.

Every collector request (hook POST, OTLP/HTTP, OTLP/gRPC) turns its body into a RecordBatch and
`submit`s it. The writer thread takes everything waiting (up to `max_batch_records`), writes it
as ONE transaction — a group commit: SQLite has one writer, and one transaction per request
would cap the collector at the disk's commit rate — and only then resolves each request's
future. A request is acknowledged only after its records are committed, so nothing acknowledged
is lost when the server restarts; anything not yet committed was not acknowledged, and the
client sends it again (every write is an idempotent merge, so a repeat changes nothing).

Back-pressure: at most `max_pending_records` may wait (queued or being written). Past that,
`submit` raises `QueueFull` at once and the route answers 503 with Retry-After, instead of
letting memory and latency grow without bound.

Derived data (rollups, session summaries) is refreshed once the queue has been quiet for a
moment, and under sustained load every `refresh_interval_s` or so: rebuilding the current
15-minute bucket after every small commit would cost more than the writes themselves. Reads
refresh whatever is still dirty first, so what they answer is exact either way.

Transcript deltas are parsed here, on the writer thread, because their cursors must advance in
order; everything else is prepared (priced, stripped to the privacy tier, redacted) by the
submitting thread, so that Python work overlaps with SQLite's, which runs without the GIL.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from agent_trace.domain.records import RecordBatch
from agent_trace.ingest.deltas import Delta, DeltaParser
from agent_trace.ingest.writer import Writer

log = logging.getLogger("agent_trace.ingest")

DEFAULT_REFRESH_INTERVAL_S = 1.0
IDLE_REFRESH_S = 0.2
REFRESH_RETRY_S = 1.0


class QueueFull(Exception):
    """Too many records are waiting for the writer: the caller should retry after `retry_after_s`."""

    def __init__(self, pending: int, limit: int, retry_after_s: int = 1) -> None:
        super().__init__(f"ingest queue full ({pending} records waiting, limit {limit}): retry later")
        self.retry_after_s = retry_after_s


class IngestUnavailable(Exception):
    """The records could not be committed (the writer is stopped, or the store is failing)."""


class IngestRejected(Exception):
    """These records fail on their own while others commit: retrying will not help."""


@dataclass(slots=True)
class _Item:
    batch: RecordBatch
    deltas: tuple[Delta, ...]
    size: int
    # A thread's concurrent Future, or an asyncio Future of `loop` (settled on that loop).
    future: Future[None] | asyncio.Future[None]
    loop: asyncio.AbstractEventLoop | None = None


def _settle_on_loop(entries: list[tuple[asyncio.Future[None], BaseException | None]]) -> None:
    for future, error in entries:
        if future.done():
            continue  # the request gave up waiting (timeout, client gone)
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


class IngestQueue:
    """A Service (start/stop) owning the only thread that writes collector records."""

    def __init__(
        self,
        writer: Writer,
        *,
        max_pending_records: int,
        max_batch_records: int,
        refresh_interval_s: float = DEFAULT_REFRESH_INTERVAL_S,
    ) -> None:
        if max_pending_records < 1 or max_batch_records < 1:
            raise ValueError("max_pending_records and max_batch_records must be at least 1")
        self.writer = writer
        self.max_pending_records = max_pending_records
        self.max_batch_records = max_batch_records
        self.refresh_interval_s = refresh_interval_s
        self.deltas = DeltaParser(writer.store)
        self._items: deque[_Item] = deque()
        self._pending = 0  # records queued or being written
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._refresh_due = False
        self._last_write = 0.0
        self._last_refresh = 0.0
        self._last_refresh_s = 0.0
        self._refresh_retry_at = 0.0
        # Counters for status pages and benchmarks.
        self.commits = 0
        self.committed_records = 0

    # -- the Service protocol ----------------------------------------------------------------

    def start(self) -> None:
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="agent-trace-ingest", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Commit everything already accepted, then stop; later submissions are refused."""
        with self._cond:
            thread = self._thread
            self._stopping = True
            self._cond.notify_all()
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                log.error(
                    "ingest writer did not finish within %.0f s; unacknowledged records dropped", timeout_s
                )
        with self._cond:
            self._thread = None

    # -- producers ---------------------------------------------------------------------------

    @property
    def pending_records(self) -> int:
        return self._pending

    def is_full(self) -> bool:
        """Cheap early check, so a route can refuse before reading and decoding a body."""
        return self._pending >= self.max_pending_records

    def prepare(self, batch: RecordBatch) -> RecordBatch:
        """Price, strip to the privacy tier and redact `batch` (Writer.prepare), in place."""
        return self.writer.prepare(batch)

    def submit(
        self, batch: RecordBatch, deltas: Sequence[Delta] = (), *, prepared: bool = False
    ) -> Future[None]:
        """Queue `batch`; the future resolves once it is committed.

        The batch is prepared here, in the caller's thread, unless `prepared` says it was.
        Raises QueueFull under back-pressure and IngestUnavailable when the writer is not running.
        """
        future: Future[None] = Future()
        if not self._enqueue(batch, deltas, future, None, prepared):
            future.set_result(None)
        return future

    def submit_async(
        self, batch: RecordBatch, deltas: Sequence[Delta] = (), *, prepared: bool = False
    ) -> asyncio.Future[None]:
        """`submit` for a coroutine: an asyncio Future of the running loop.

        The writer settles all of a commit's futures of one loop with one wake-up of that loop,
        instead of one per request.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        if not self._enqueue(batch, deltas, future, loop, prepared):
            future.set_result(None)
        return future

    def _enqueue(
        self,
        batch: RecordBatch,
        deltas: Sequence[Delta],
        future: Future[None] | asyncio.Future[None],
        loop: asyncio.AbstractEventLoop | None,
        prepared: bool,
    ) -> bool:
        """False when there is nothing to write (the caller settles the future at once)."""
        size = len(batch) + len(deltas)
        if size == 0:
            return False
        self._check_room(size)
        if not prepared:
            self.writer.prepare(batch)
        with self._cond:
            self._check_room(size)
            self._items.append(_Item(batch, tuple(deltas), size, future, loop))
            self._pending += size
            self._cond.notify()
        return True

    def _check_room(self, size: int) -> None:
        if self._thread is None or self._stopping:
            raise IngestUnavailable("the ingest writer is not running")
        # An oversized request is still accepted when nothing else waits: it could never fit.
        if self._pending and self._pending + size > self.max_pending_records:
            raise QueueFull(self._pending, self.max_pending_records)

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._items and not self._stopping:
                    if self._refresh_due:
                        # Idle with a refresh owed: do it once the queue has stayed quiet a moment.
                        delay = self._idle_refresh_at() - time.monotonic()
                        if delay <= 0:
                            break
                        self._cond.wait(delay)
                        continue
                    self._cond.wait()
                if not self._items and self._stopping:
                    break
                group = self._take()
            if group:
                self._commit(group)
                self._last_write = time.monotonic()
                if self._refresh_due and time.monotonic() >= self._busy_refresh_at():
                    self._refresh()
            elif self._refresh_due and time.monotonic() >= self._idle_refresh_at():
                self._refresh()
        if self._refresh_due:
            self._refresh()

    def _take(self) -> list[_Item]:
        group: list[_Item] = []
        records = 0
        while self._items and (not group or records + self._items[0].size <= self.max_batch_records):
            item = self._items.popleft()
            group.append(item)
            records += item.size
        return group

    def _commit(self, group: list[_Item]) -> None:
        try:
            self._write(group)
        except Exception as exc:
            if len(group) == 1:
                self._fail(group, IngestUnavailable(f"store write failed: {exc}"), exc)
                return
            # One bad request must not sink the others: write each alone. If every one fails,
            # the store is what fails (retry later); if only some do, those are the problem.
            failed: list[tuple[_Item, Exception]] = []
            for item in group:
                try:
                    self._write([item])
                except Exception as item_exc:
                    failed.append((item, item_exc))
            for item, cause in failed:
                if len(failed) == len(group):
                    error: Exception = IngestUnavailable(f"store write failed: {cause}")
                else:
                    error = IngestRejected(f"records rejected by the store: {cause}")
                self._fail([item], error, cause)

    def _write(self, group: list[_Item]) -> None:
        merged = RecordBatch()
        deltas: list[Delta] = []
        for item in group:
            merged.extend(item.batch)
            deltas.extend(item.deltas)
        cursors: dict[tuple[str, str], Any] = {}
        if deltas:
            parsed, cursors = self.deltas.parse(deltas)
            merged.extend(self.writer.prepare(parsed))
        self.writer.write_prepared(merged)
        # After the records: a crash in between re-parses the same lines from the old cursor.
        self.deltas.commit(cursors)
        size = sum(item.size for item in group)
        with self._cond:
            self._pending -= size
            self._refresh_due = True
        self.commits += 1
        self.committed_records += size
        self._settle(group, None)

    def _fail(self, group: list[_Item], error: Exception, cause: Exception) -> None:
        log.error("ingest write failed: %s", cause, exc_info=cause)
        with self._cond:
            self._pending -= sum(item.size for item in group)
        self._settle(group, error)

    @staticmethod
    def _settle(group: list[_Item], error: BaseException | None) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[None], BaseException | None]]] = {}
        for item in group:
            if item.loop is not None:
                by_loop.setdefault(item.loop, []).append((item.future, error))  # type: ignore[arg-type]
            elif not item.future.done():
                if error is None:
                    item.future.set_result(None)
                else:
                    item.future.set_exception(error)
        for loop, entries in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle_on_loop, entries)
            except RuntimeError:  # the loop is closed: nobody waits for these answers any more
                pass

    # Derived data is exact whenever it is read (reads refresh what is dirty first), so the
    # writer refreshes only to keep reads fast: once the queue has been quiet for IDLE_REFRESH_S,
    # and under sustained load at most every `refresh_interval_s`, spaced so that rebuilding
    # (which grows with the records in the current 15-minute bucket) takes at most about a fifth
    # of the writer's time.

    def _idle_refresh_at(self) -> float:
        return max(self._last_write + IDLE_REFRESH_S, self._refresh_retry_at)

    def _busy_refresh_at(self) -> float:
        spacing = max(self.refresh_interval_s, 4 * self._last_refresh_s)
        return max(self._last_refresh + spacing, self._refresh_retry_at)

    def _refresh(self) -> None:
        self._refresh_due = False
        started = time.monotonic()
        try:
            self.writer.refresh()
        except Exception as exc:  # derived data is rebuilt from dirty marks: the next refresh retries
            self._refresh_due = True
            self._refresh_retry_at = time.monotonic() + REFRESH_RETRY_S
            log.error("refreshing derived data failed: %s", exc, exc_info=exc)
        finally:
            self._last_refresh = time.monotonic()
            self._last_refresh_s = self._last_refresh - started
