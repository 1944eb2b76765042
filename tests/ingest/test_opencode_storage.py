"""OpenCode's older JSON store (`storage/session|message|part/…/*.json`): found by the importer,
read through the same mapping as the SQLite rows, incremental, and merged with the database.

The store is written here from the rows of a real OpenCode 1.18.33 run
(tests/fixtures/agents/opencode-1.18.33/rows.json) by undoing, object for object, what OpenCode's
own JSON → SQLite migration does (packages/opencode/src/storage/json-migration.ts): the ids go
back into the objects and into the file paths.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from agent_trace.domain.pricing import PriceBook
from agent_trace.ingest import opencode_files
from agent_trace.ingest.transcript_files import discover
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from agent_trace.sources.opencode_store import OpencodeRows
from tests.fixtures.stores import sqlite_store_at

ROWS = Path(__file__).resolve().parents[1] / "fixtures" / "agents" / "opencode-1.18.33" / "rows.json"
PROJECT = "f4f48159ac82e3656a3e26fabf2ceb7e864a43ab"


def _data(row: dict[str, Any]) -> dict[str, Any]:
    data = row["data"]
    return dict(json.loads(data) if isinstance(data, str) else data)


def _write(path: Path, obj: dict[str, Any], mtime_s: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2))
    if mtime_s is not None:
        os.utime(path, (mtime_s, mtime_s))


def write_storage(root: Path, rows: dict[str, list[dict[str, Any]]]) -> Path:
    storage = root / "opencode" / "storage"
    for s in rows["session"]:
        info = {"id": s["id"], "projectID": PROJECT, "directory": s["directory"], "title": s["title"],
                "version": s["version"], "time": {"created": s["time_created"], "updated": s["time_updated"]}}  # fmt: skip
        if s["parent_id"]:
            info["parentID"] = s["parent_id"]
        _write(storage / "session" / PROJECT / f"{s['id']}.json", info, 1_000)
    for m in rows["message"]:
        info = {"id": m["id"], "sessionID": m["session_id"], **_data(m)}
        _write(storage / "message" / m["session_id"] / f"{m['id']}.json", info, 1_000)
    for p in rows["part"]:
        part = {"id": p["id"], "messageID": p["message_id"], "sessionID": p["session_id"], **_data(p)}
        _write(storage / "part" / p["message_id"] / f"{p['id']}.json", part, 1_000)
    return storage


def write_database(path: Path, rows: dict[str, list[dict[str, Any]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE session (id, parent_id, directory, title, version, time_created, time_updated)")
    db.execute("CREATE TABLE message (id, session_id, time_created, time_updated, data)")
    db.execute("CREATE TABLE part (id, message_id, session_id, time_created, time_updated, data)")
    for table, items in rows.items():
        for row in items:
            names = ", ".join(row)
            db.execute(
                f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(row))})", list(row.values())
            )
    db.commit()
    db.close()
    return path


def facts(batch: Any) -> tuple[Any, ...]:
    calls = sorted((c.call_id, c.usage.input_tokens, c.usage.output_tokens, c.usage.cache_read_tokens, c.model)
                   for c in batch.llm_calls if c.usage)  # fmt: skip
    tools = sorted((t.tool_use_id, t.tool_name, t.status, t.call_id) for t in batch.tool_calls)
    prompts = sorted((p.prompt_id, p.text) for p in batch.prompts)
    sessions = sorted((s.session_id, s.agent, s.project) for s in batch.sessions)
    return calls, tools, prompts, sessions


def test_storage_is_read_through_the_same_mapping_as_the_rows(tmp_path: Path) -> None:
    rows = json.loads(ROWS.read_text())
    storage = write_storage(tmp_path, rows)
    assert opencode_files.is_opencode_storage(storage)
    [(batch, state, stats)] = list(opencode_files.read(storage, None))
    assert state is not None and stats.records == len(rows["message"]) + len(rows["part"])
    expected = OpencodeRows(rows["session"]).records(rows["message"], rows["part"])
    assert facts(batch) == facts(expected)
    assert len(batch.llm_calls) == 5 and len(batch.tool_calls) == 4 and len(batch.prompts) == 1
    # Nothing changed since: nothing read again.
    [(again, _state, _stats)] = list(opencode_files.read(storage, state))
    assert not again.llm_calls and not again.tool_calls


def test_import_discovers_the_storage_incrementally_and_merges_it_with_the_database(tmp_path: Path) -> None:
    rows = json.loads(ROWS.read_text())
    data_home = tmp_path / "share"
    storage = write_storage(data_home, rows)
    assert discover([data_home]) == [storage]
    store = sqlite_store_at(tmp_path / "at.db")
    importer = Importer(Writer(store, PriceBook(), 2, "dev"))
    first = importer.run([data_home])
    assert first.files_read == 1
    counts = store.counts()
    assert (counts["llm_calls"], counts["tool_calls"], counts["prompts"]) == (5, 4, 1)
    assert Importer(Writer(store, PriceBook(), 2, "dev")).run([data_home]).files_unchanged == 1

    # One more model request in the last message: only that message is read again.
    last = rows["message"][-1]
    step = {"id": "prt_zzzz_extra_step", "messageID": last["id"], "sessionID": last["session_id"],
            "type": "step-finish", "tokens": {"input": 7, "output": 3, "reasoning": 0, "cache": {"read": 2, "write": 0}},
            "cost": 0}  # fmt: skip
    _write(storage / "part" / last["id"] / "prt_zzzz_extra_step.json", step, 2_000)
    third = Importer(Writer(store, PriceBook(), 2, "dev")).run([data_home])
    assert third.files_read == 1 and third.stats.records < len(rows["message"]) + len(rows["part"])
    assert store.counts()["llm_calls"] == 6

    # OpenCode 1.2+ migrates the folder into its database and leaves the folder: one record per fact.
    write_database(data_home / "opencode" / "opencode.db", rows)
    Importer(Writer(store, PriceBook(), 2, "dev")).run([data_home])
    counts = store.counts()
    assert (counts["llm_calls"], counts["tool_calls"], counts["prompts"], counts["sessions"]) == (6, 4, 1, 1)
