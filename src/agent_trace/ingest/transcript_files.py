"""Reading transcript files for import: discovery, and one file parsed into write-sized chunks.

Pure of any store: `parse_file` turns one file (from a saved offset and parser state) into
`Chunk`s of records, the last one carrying the file's new progress. The importer runs it inline
or in a worker process (ingest/parse_worker.py); both see exactly the same chunks.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import orjson

from agent_trace.domain.jsonl import is_complete_record
from agent_trace.domain.records import RecordBatch
from agent_trace.ingest import opencode_db, opencode_files
from agent_trace.sources.claude_transcript import TranscriptParser
from agent_trace.sources.claude_transcript_lines import ParseState, ParseStats, describe_path
from agent_trace.sources.codex_rollout import CodexRolloutParser, CodexState, session_hint
from agent_trace.sources.gemini_chat import GeminiChatParser, GeminiState, is_chat_file
from agent_trace.sources.qwen_chat import QwenChatParser, QwenState, is_qwen_chat
from agent_trace.store.port import FileState

READ_BLOCK = 4 * 1024 * 1024
# A chunk holds at most this many records or this much input: bounded memory (peak RSS stays
# well under 250 MB whatever the corpus size) with few write transactions.
FLUSH_RECORDS = 4000
FLUSH_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class FileTask:
    """One file to read: where from, with what parser state, and what it looked like."""

    path: str
    size: int
    mtime_ns: int
    start: int = 0
    parser_state: str | None = None  # JSON of ParseState at `start`


@dataclass(slots=True)
class Chunk:
    """Records from one file. The file's last chunk carries its new progress and statistics."""

    path: str
    batch: RecordBatch
    consumed: int  # bytes of the file this chunk covers
    file_state: FileState | None = None
    stats: ParseStats | None = None
    error: str | None = None  # the file could not be read (then nothing else is set)
    # Set where the chunk was prepared in the parse worker: what its Preparation repaired.
    repaired: list[str] = field(default_factory=list)


def discover(paths: Iterable[Path]) -> list[Path]:
    """Every *.jsonl transcript (and Gemini CLI `session-*.json` chat, OpenCode `opencode.db` and
    older `storage/` folder) under the given files/folders, in a stable order.

    Sorted by path, a session's main file comes before its `<session>/subagents/` files, and an
    original before copies that sort later; missing roots are skipped (the caller reports them).
    """
    found: set[Path] = set()
    for root in paths:
        if root.is_file():
            if root.suffix == ".jsonl" or is_chat_file(str(root)) or opencode_db.is_opencode_db(root):
                found.add(root)
        elif opencode_files.is_opencode_storage(root):
            found.add(root)
        elif root.is_dir():
            for dirpath, dirnames, filenames in os.walk(root):
                if opencode_files.STORAGE_NAME in dirnames:
                    storage = Path(dirpath) / opencode_files.STORAGE_NAME
                    if opencode_files.is_opencode_storage(storage):
                        found.add(storage)  # one unit, read by its own reader: not walked
                        dirnames.remove(opencode_files.STORAGE_NAME)
                for name in filenames:
                    if (
                        name.endswith(".jsonl")
                        or (name.endswith(".json") and is_chat_file(f"{dirpath}/{name}"))
                        or name == opencode_db.DB_NAME
                    ):
                        found.add(Path(dirpath) / name)
    return sorted(found, key=lambda p: str(p))


def meta_for(path: Path) -> dict[str, object] | None:
    """The `agent-<id>.meta.json` beside a subagent transcript, if any."""
    if not path.name.startswith("agent-"):
        return None
    meta_path = path.with_name(path.name[: -len(".jsonl")] + ".meta.json")
    try:
        data = orjson.loads(meta_path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def lines_from(handle: BinaryIO, start: int, expected: int | None = None) -> Iterator[tuple[bytes, int]]:
    """(line, end offset) for every complete line from `start`. A last line without its newline
    is complete when it is one whole JSON object (domain.jsonl); otherwise it is half-written and
    yielded with end offset -1 (the caller counts it as incomplete and stops there).

    `expected` (bytes left to read, when known) sizes the reads: asking for a 4 MB block to read
    a 20 kB file costs the 4 MB buffer, which thousands of small session files add up to."""
    offset = start
    pending = b""
    size = READ_BLOCK if expected is None else max(min(READ_BLOCK, expected + 1), 4096)
    while True:
        block = handle.read(size)
        if not block:
            break
        data = pending + block if pending else block
        cut = data.rfind(b"\n")
        if cut < 0:
            pending = data
            continue
        pending = data[cut + 1 :]
        for line in data[: cut + 1].splitlines(keepends=True):
            offset += len(line)
            yield line, offset
    if pending:
        yield pending, (offset + len(pending) if is_complete_record(pending) else -1)


Parser = TranscriptParser | CodexRolloutParser | GeminiChatParser | QwenChatParser


@functools.lru_cache(maxsize=1024)
def _project_root(folder: Path) -> str | None:
    try:
        return (folder / ".project_root").read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def gemini_project(path: Path) -> str | None:
    """The folder a Gemini CLI project stands for: `<tmp>/<project>/.project_root` beside `chats/`
    (read once per project folder in a run)."""
    for folder in (path.parent.parent, path.parent.parent.parent):
        text = _project_root(folder)
        if text:
            return text
    return None


def parser_for(path: Path, parser_state: str | None, mtime_ms: int | None = None) -> Parser:
    """The parser of the agent that wrote `path`, told by its file name: Codex CLI names every
    rollout `rollout-<time>-<session uuid>.jsonl`, Gemini CLI its chats `chats/session-*.json(l)`,
    Qwen Code `.qwen/projects/<project>/chats/*.jsonl`; anything else is a Claude Code transcript."""
    saved = orjson.loads(parser_state) if parser_state else None
    if session_hint(str(path)) is not None:
        return CodexRolloutParser(str(path), CodexState.from_json(saved))
    if is_chat_file(str(path)):
        return GeminiChatParser(str(path), GeminiState.from_json(saved), gemini_project(path))
    if is_qwen_chat(str(path)):
        return QwenChatParser(str(path), QwenState.from_json(saved))
    return TranscriptParser(
        describe_path(str(path), meta_for(path), mtime_ms=mtime_ms),
        ParseState.from_json(saved) if saved else None,
    )


def signature(path: Path) -> tuple[int, int]:
    """(size, mtime_ns) that tells whether a file changed since the last import."""
    if opencode_db.is_opencode_db(path):
        return opencode_db.signature(path)
    if opencode_files.is_opencode_storage(path):
        return opencode_files.signature(path)
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def _parse_opencode(task: FileTask) -> Iterator[Chunk]:
    """OpenCode's database or JSON folder: batches, the last one carrying the new state."""
    path = Path(task.path)
    storage = opencode_files.is_opencode_storage(path)
    reader = opencode_files.read if storage else opencode_db.read
    try:
        for batch, state, stats in reader(path, task.parser_state):
            if state is None:
                yield Chunk(task.path, batch, 0)
                continue
            file_state = FileState(task.path, task.size, task.mtime_ns, task.size, state)
            yield Chunk(task.path, batch, task.size - task.start, file_state, stats)
    except (OSError, sqlite3.Error) as exc:
        what = "JSON store" if storage else "database"
        yield Chunk(task.path, RecordBatch(), 0, error=f"cannot read OpenCode's {what}: {exc}")


def parse_file(task: FileTask) -> Iterator[Chunk]:
    """The records of one file from `task.start`, in chunks; the last chunk has its FileState."""
    path = Path(task.path)
    if opencode_db.is_opencode_db(path) or opencode_files.is_opencode_storage(path):
        yield from _parse_opencode(task)
        return
    parser = parser_for(path, task.parser_state, task.mtime_ns // 1_000_000)
    parser.start_at(task.start)
    consumed = chunk_start = task.start
    try:
        with path.open("rb") as handle:
            handle.seek(task.start)
            for line, end in lines_from(handle, task.start, task.size - task.start):
                if end < 0:
                    parser.stats.incomplete_tail += 1
                    break
                parser.feed(line, end)
                consumed = end
                # Checked every 256 lines: counting what is pending costs more than a line. A cut
                # may fall inside a streamed response: the parser carries it to the next chunk.
                if not parser.stats.lines & 0xFF and (
                    parser.pending >= FLUSH_RECORDS or consumed - chunk_start >= FLUSH_BYTES
                ):
                    yield Chunk(task.path, parser.take_batch(), consumed - chunk_start)
                    chunk_start = consumed
    except OSError as exc:
        yield Chunk(task.path, RecordBatch(), 0, error=exc.strerror or str(exc))
        return
    if isinstance(parser, GeminiChatParser):
        parser.finish()
    file_state = FileState(
        path=task.path,
        # The size seen before reading: if the file grows past it, the next import re-reads
        # from safe_offset (an idempotent merge), so nothing is lost or counted twice.
        size=task.size,
        mtime_ns=task.mtime_ns,
        safe_offset=parser.safe_offset,
        parser_state=orjson.dumps(parser.safe_state().to_json()).decode(),
    )
    yield Chunk(task.path, parser.take_batch(), consumed - chunk_start, file_state, parser.stats)
