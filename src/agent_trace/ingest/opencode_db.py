"""Reading OpenCode's SQLite store (`~/.local/share/opencode/opencode.db`) for import.

The database is OpenCode's, open while OpenCode runs: it is opened read-only, and read
incrementally by `time_updated` — the parser state is the newest `time_updated` already read, so
a later import reads only the messages and parts written since (with every part of a changed
message, because a message's calls are told apart by its step parts). Sessions are few and all
read each time (a child session needs its root). Rows → records: sources/opencode_store.py.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from agent_trace.sources.claude_transcript_lines import ParseStats
from agent_trace.sources.opencode_store import OpencodeRows

DB_NAME = "opencode.db"


def is_opencode_db(path: Path) -> bool:
    return path.name == DB_NAME


def signature(path: Path) -> tuple[int, int]:
    """(size, mtime) of the database and its write-ahead log together: OpenCode's writes land in
    the `-wal` file first, so the main file alone may look unchanged."""
    st = path.stat()
    size, mtime = st.st_size, st.st_mtime_ns
    wal = path.with_name(path.name + "-wal")
    try:
        wst = wal.stat()
    except OSError:
        return size, mtime
    return size + wst.st_size, max(mtime, wst.st_mtime_ns)


def _rows(db: sqlite3.Connection, sql: str, *params: Any) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read(path: Path, parser_state: str | None) -> Iterator[tuple[Any, str | None, ParseStats]]:
    """(RecordBatch, new parser state, stats) of what changed since `parser_state`."""
    since = 0
    if parser_state:
        saved = orjson.loads(parser_state)
        since = int(saved.get("since", 0)) if isinstance(saved, dict) else 0
    uri = f"file:{os.fspath(path)}?mode=ro"
    db = sqlite3.connect(uri, uri=True, timeout=5)
    try:
        sessions = _rows(
            db, "SELECT id, parent_id, directory, title, version, time_created, time_updated FROM session"
        )
        messages = _rows(
            db,
            "SELECT id, session_id, time_created, time_updated, data FROM message WHERE time_updated > ?"
            " OR id IN (SELECT message_id FROM part WHERE time_updated > ?)",
            since,
            since,
        )
        parts = _rows(
            db,
            "SELECT id, message_id, session_id, time_created, time_updated, data FROM part"
            " WHERE message_id IN (SELECT id FROM message WHERE time_updated > ?"
            " UNION SELECT message_id FROM part WHERE time_updated > ?)",
            since,
            since,
        )
    finally:
        db.close()
    newest = max([since] + [int(r["time_updated"] or 0) for r in messages + parts])
    stats = ParseStats(lines=len(messages) + len(parts), records=len(messages) + len(parts))
    batch = OpencodeRows(sessions).records(messages, parts)
    yield batch, orjson.dumps({"since": newest}).decode(), stats
