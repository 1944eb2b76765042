"""Per-session state of the hook handler, one JSON file per session under a file lock (stdlib only).

    $AGENT_TRACE_HOME/hook-state/<session_id>.json
    {"base_sha": "<sha>" | null, "base_taken": true, "offsets": {"<transcript path>": <bytes shipped>}}

Stop and SessionEnd workers of one session can run at the same time (each hook call is its own
process), so reading the offsets, shipping the delta into the spool and saving the new offsets
happen under one exclusive lock; otherwise two workers could ship the same lines, or skip some.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TYPE_CHECKING = False  # `typing` costs the hook worker an import it does not need
if TYPE_CHECKING:
    from typing import Any

# Session ids are UUIDs; anything else is reduced to a safe file name (never a path).
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
# State of sessions untouched this long is removed now and then (their transcripts are gone too).
STALE_AFTER_S = 45 * 24 * 3600


class LockTimeout(Exception):
    """Another worker held the session's lock past our deadline."""


def _name(session_id: str) -> str:
    return _UNSAFE.sub("_", session_id)[:200] or "_"


class SessionState:
    def __init__(self, state_dir: Path, session_id: str) -> None:
        self.path = state_dir / f"{_name(session_id)}.json"
        self.data: dict[str, Any] = {}

    def load(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        self.data = data if isinstance(data, dict) else {}

    def save(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.data, separators=(",", ":")), encoding="utf-8")
        os.replace(tmp, self.path)

    @property
    def offsets(self) -> dict[str, int]:
        raw = self.data.get("offsets")
        if not isinstance(raw, dict):
            raw = {}
            self.data["offsets"] = raw
        return raw


@contextmanager
def locked_session(state_dir: Path, session_id: str, deadline: float) -> Iterator[SessionState]:
    """The session's state, loaded under an exclusive lock held until the block ends."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state = SessionState(state_dir, session_id)
    fd = os.open(str(state.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(str(state.path)) from None
                time.sleep(0.01)
        state.load()
        yield state
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def prune_stale(state_dir: Path, now: float, limit: int = 50) -> None:
    """Remove a few state files of sessions idle for STALE_AFTER_S (bounded work per call)."""
    try:
        entries = list(os.scandir(state_dir))
    except OSError:
        return
    removed = 0
    for entry in entries:
        if removed >= limit:
            return
        try:
            if now - entry.stat().st_mtime > STALE_AFTER_S:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
