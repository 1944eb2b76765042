"""Live updates: one cheap poll of the store's change feed, fanned out to every open stream.

Writers append to the change feed (`session_changes`) in the same transaction as the data, so
"has anything changed?" is one indexed `MAX(seq)` read. A `ChangeHub` asks it every 250 ms while
at least one client listens — never per client, never when nobody listens — and wakes the
listeners when it moves. Each listener then reads only the changes after its own position and
re-reads only those sessions, under its own filters. A client that reconnects with
`Last-Event-ID` (the change sequence of the last event it saw) resumes exactly where it was.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio
import orjson

from agent_trace.store.port import RecordReader

log = logging.getLogger("agent_trace.server")


@dataclass(frozen=True, slots=True)
class StreamConfig:
    poll_interval_s: float = 0.25
    heartbeat_s: float = 15.0
    retry_ms: int = 1000
    batch: int = 1000  # changes read per step; a long backlog is read in steps


class ChangeHub:
    """Polls `Store.last_change_seq()` while anyone listens; listeners await a newer sequence."""

    def __init__(self, store: RecordReader, interval_s: float) -> None:
        self.store = store
        self.interval_s = interval_s
        self.latest = -1  # unknown until the first poll
        self._listeners = 0
        self._changed: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def current(self) -> int:
        seq = await anyio.to_thread.run_sync(self.store.last_change_seq)
        self.latest = max(self.latest, seq)
        return seq

    async def wait_beyond(self, seq: int, timeout_s: float) -> int:
        """The latest known sequence, as soon as it exceeds `seq` (or after `timeout_s`)."""
        if self.latest > seq:
            return self.latest
        self._listeners += 1
        try:
            self._ensure_polling()
            deadline = anyio.current_time() + timeout_s
            while self.latest <= seq:
                event = self._event()
                remaining = deadline - anyio.current_time()
                if remaining <= 0:
                    break
                with anyio.move_on_after(remaining):
                    await event.wait()
            return self.latest
        finally:
            self._listeners -= 1

    def _event(self) -> asyncio.Event:
        if self._changed is None:
            self._changed = asyncio.Event()
        return self._changed

    def _ensure_polling(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._poll())

    async def _poll(self) -> None:
        while self._listeners > 0:
            try:
                seq = await anyio.to_thread.run_sync(self.store.last_change_seq)
            except Exception:  # a busy or briefly unavailable database: try again next tick
                log.warning("change feed poll failed", exc_info=True)
                seq = self.latest
            if seq > self.latest:
                self.latest = seq
                # Wake everyone waiting on this event; later waiters get a fresh one.
                event, self._changed = self._event(), asyncio.Event()
                event.set()
            await asyncio.sleep(self.interval_s)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def sse_event(data: Any, event: str | None = None, event_id: int | None = None) -> bytes:
    parts = []
    if event_id is not None:
        parts.append(f"id: {event_id}\n")
    if event:
        parts.append(f"event: {event}\n")
    # orjson never emits raw newlines, so one `data:` line always holds the whole JSON.
    parts.append("data: " + orjson.dumps(data).decode() + "\n\n")
    return "".join(parts).encode()


def sse_comment(text: str) -> bytes:
    return f": {text}\n\n".encode()


# Re-reads the rows of the given sessions under the stream's filters: {session_id: row}.
RowsFetcher = Callable[[list[str]], Awaitable[dict[str, dict[str, Any]]]]


async def session_events(
    hub: ChangeHub, store: RecordReader, config: StreamConfig, start_seq: int | None, fetch_rows: RowsFetcher
) -> AsyncIterator[bytes]:
    """The SSE body: `event: session` per changed session (id = its change sequence)."""
    current = await hub.current()
    # A resume point past the end means the database was replaced: follow the new feed.
    seq = current if start_seq is None or start_seq > current else start_seq
    yield f"retry: {config.retry_ms}\n".encode() + sse_comment(f"connected at change {seq}")
    while True:
        latest = await hub.wait_beyond(seq, config.heartbeat_s)
        if latest <= seq:
            yield sse_comment("keepalive")
            continue
        changes = await anyio.to_thread.run_sync(store.changes_since, seq, config.batch)
        if not changes:
            seq = latest
            continue
        last_seq: dict[str, int] = {}
        for change in changes:
            last_seq[change.session_id] = change.seq
        ordered = sorted(last_seq, key=lambda sid: last_seq[sid])
        rows = await fetch_rows(ordered)
        for sid in ordered:
            row = rows.get(sid)
            if row is not None:
                yield sse_event(row, "session", last_seq[sid])
        seq = changes[-1].seq
        if ordered and ordered[-1] not in rows:
            # The newest change matched no filter: still move the client's resume point forward
            # (an `id:` line alone sets EventSource.lastEventId without firing an event).
            yield f"id: {seq}\n\n".encode()
