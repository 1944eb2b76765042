"""Answers kept until the data behind them changes — checked exactly, on every request.

Every write appends one row per touched session to the store's change feed, in the same
transaction as the data. So an answer computed after reading change sequence S is still right
while no later change touched what it depends on:

- a replay depends on its session only: valid while no change after S names that session;
- analytics depend on everything: valid while the newest sequence is still S.

Checking costs one indexed read (`last_change_seq`), plus, when something changed, reading the
changes since S (`changes_since`). A finished session's replay, a cost page two people look at,
the dashboard's lazy fragments (each needs the replay again): all are served from here, while a
session that is being written to is rebuilt on each change, as it must be. The sequence is read
*before* computing, so a write that lands during the computation is seen by the next request.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from agent_trace.store.port import RecordReader

# Past this many changes since an entry was made, rebuilding is cheaper than reading them.
SCAN_LIMIT = 5_000


@dataclass
class _Entry:
    value: bytes  # serialised JSON
    seq: int  # the change sequence the value is known to be current at
    session_id: str | None  # None: depends on every session


class ChangeValidatedCache:
    """Serialised answers by key, at most `max_bytes` of them (least recently used go first)."""

    def __init__(self, store: RecordReader, max_bytes: int = 128 * 1024 * 1024) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, session_id: str | None, build: Callable[[], bytes]) -> bytes:
        """The cached value for `key` if no relevant change happened since it was built; else
        `build()` (and keep it). `session_id` None = the value depends on every session."""
        latest = self.store.last_change_seq()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and self._still_valid(entry, latest):
            with self._lock:
                if key in self._entries:
                    self._entries.move_to_end(key)
            return entry.value
        value = build()
        self._put(key, _Entry(value, latest, session_id))
        return value

    def _still_valid(self, entry: _Entry, latest: int) -> bool:
        if entry.seq == latest:
            return True
        if entry.session_id is None or latest < entry.seq:
            return False  # anything changed (or the feed went backwards: a replaced database)
        changes = self.store.changes_since(entry.seq, SCAN_LIMIT)
        if len(changes) >= SCAN_LIMIT or any(c.session_id == entry.session_id for c in changes):
            return False
        entry.seq = max([entry.seq, *(c.seq for c in changes)])
        return True

    def _put(self, key: Hashable, entry: _Entry) -> None:
        if len(entry.value) > self.max_bytes // 4:
            return  # one giant answer must not flush everything else
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.value)
            self._entries[key] = entry
            self._bytes += len(entry.value)
            while self._bytes > self.max_bytes and self._entries:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= len(evicted.value)
