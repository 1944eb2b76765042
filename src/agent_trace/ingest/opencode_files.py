"""Reading OpenCode's older JSON store (`~/.local/share/opencode/storage/`) for import.

Before its SQLite database, OpenCode kept one JSON file per object (and 1.2+ still leaves the
folder behind after migrating it): `session/<projectID>/<sessionID>.json`,
`message/<sessionID>/<messageID>.json`, `part/<messageID>/<partID>.json`. The ids come from the
file paths, as OpenCode's own migration takes them; the objects become the same rows as the
database's (sources/opencode_store.py), so a session found in both is one set of records.

The folder is one import unit: its signature is the size and newest mtime of its files, and the
parser state is the newest mtime already read, so a later import reads only the messages whose
file (or one of whose parts' files) changed since, each with all its parts, as the database
reader does. Sessions are few and all read each time (a child session needs its root).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from agent_trace.domain.records import RecordBatch
from agent_trace.sources.claude_transcript_lines import ParseStats
from agent_trace.sources.opencode_store import OpencodeRows, message_row, part_row, session_row

STORAGE_NAME = "storage"
_KINDS = ("session", "message", "part")
# Messages per batch: a first import of a large store is read in bounded pieces.
_BATCH_MESSAGES = 2000
_SETTLE_NS = 2_000_000_000


def is_opencode_storage(path: Path) -> bool:
    return path.name == STORAGE_NAME and (path / "session").is_dir() and (path / "message").is_dir()


def _entries(path: Path, kind: str) -> Iterator[tuple[str, str, os.stat_result]]:
    """(folder name, object id, stat) of every `<kind>/<folder>/<id>.json`."""
    try:
        folders = list(os.scandir(path / kind))
    except OSError:
        return
    for folder in folders:
        if not folder.is_dir():
            continue
        try:
            files = list(os.scandir(folder.path))
        except OSError:
            continue
        for entry in files:
            if entry.name.endswith(".json") and entry.is_file():
                try:
                    yield folder.name, entry.name[: -len(".json")], entry.stat()
                except OSError:
                    continue


def signature(path: Path) -> tuple[int, int]:
    """(total size, newest mtime) of the store's object files."""
    size = mtime = 0
    for kind in _KINDS:
        for _folder, _id, st in _entries(path, kind):
            size += st.st_size
            mtime = max(mtime, st.st_mtime_ns)
    return size, mtime


def _load(file: Path) -> dict[str, Any] | None:
    try:
        data = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def read(path: Path, parser_state: str | None) -> Iterator[tuple[RecordBatch, str | None, ParseStats]]:
    """(records, new parser state on the last batch only, stats) of what changed since."""
    since = 0
    if parser_state:
        saved = orjson.loads(parser_state)
        since = int(saved.get("since", 0)) if isinstance(saved, dict) else 0
    newest = since
    sessions = []
    for project, sid, st in _entries(path, "session"):
        info = _load(path / "session" / project / f"{sid}.json")
        if info is not None:
            sessions.append(session_row(info, sid))
        newest = max(newest, st.st_mtime_ns)
    rows = OpencodeRows(sessions)
    session_of: dict[str, str] = {}
    changed: set[str] = set()
    for sid, mid, st in _entries(path, "message"):
        session_of[mid] = sid
        if st.st_mtime_ns > since:
            changed.add(mid)
        newest = max(newest, st.st_mtime_ns)
    for mid, _pid, st in _entries(path, "part"):
        if st.st_mtime_ns > since:
            changed.add(mid)
        newest = max(newest, st.st_mtime_ns)
    todo = sorted(m for m in changed if m in session_of)
    # A file written in the same clock tick as the newest one read, just after the read, would
    # look old next time: files of the last seconds are read again instead (merging makes a
    # second read harmless).
    state = orjson.dumps({"since": min(newest, time.time_ns() - _SETTLE_NS)}).decode()
    if not todo:
        yield RecordBatch(), state, ParseStats()
    objects = 0
    for start in range(0, len(todo), _BATCH_MESSAGES):
        messages, parts = _objects(path, todo[start : start + _BATCH_MESSAGES], session_of)
        objects += len(messages) + len(parts)
        last = start + _BATCH_MESSAGES >= len(todo)
        stats = ParseStats(lines=objects, records=objects) if last else ParseStats()
        yield rows.records(messages, parts), state if last else None, stats


def _objects(
    path: Path, message_ids: list[str], session_of: dict[str, str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    messages: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for mid in message_ids:
        sid = session_of[mid]
        info = _load(path / "message" / sid / f"{mid}.json")
        if info is not None:
            messages.append(message_row({**info, "id": mid}, sid))
        folder = path / "part" / mid
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".json"))
        except OSError:
            continue
        for name in names:
            part = _load(folder / name)
            if part is not None:
                parts.append(part_row({**part, "id": name[: -len(".json")]}, mid, sid))
    return messages, parts
