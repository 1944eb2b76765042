"""`agent-trace import`: find Claude Code transcripts and bring them into the store, incrementally.

A file whose size and mtime are unchanged is not opened. A grown file is read from its saved
safe offset with its saved parser state. The file's progress is stored in the same transaction
as its last records, so an interrupted import never skips anything (and re-reading is harmless:
every write is an idempotent merge). A half-written last line is left for the next import.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from agent_trace.domain.records import RecordBatch
from agent_trace.ingest.writer import Writer
from agent_trace.sources.claude_transcript import ParseState, ParseStats, TranscriptParser, describe_path
from agent_trace.store.port import FileState

READ_BLOCK = 4 * 1024 * 1024
# A write transaction holds at most this many records or this much input: bounded memory
# (peak RSS stays well under 250 MB whatever the corpus size) with few transactions.
FLUSH_RECORDS = 4000
FLUSH_BYTES = 8 * 1024 * 1024


@dataclass
class ImportSummary:
    files_found: int = 0
    files_read: int = 0
    files_unchanged: int = 0
    files_unreadable: list[tuple[str, str]] = field(default_factory=list)
    bytes_read: int = 0
    seconds: float = 0.0
    stats: ParseStats = field(default_factory=ParseStats)
    counts_before: dict[str, int] = field(default_factory=dict)
    counts_after: dict[str, int] = field(default_factory=dict)
    unpriced_models: list[str] = field(default_factory=list)

    def skipped_reasons(self) -> list[tuple[str, int]]:
        reasons: list[tuple[str, int]] = []
        if self.stats.malformed:
            reasons.append(
                ("malformed lines (not JSON, or a record of an unusable shape)", self.stats.malformed)
            )
        if self.stats.incomplete_tail:
            reasons.append(("half-written last lines (read once complete)", self.stats.incomplete_tail))
        if self.stats.api_errors:
            reasons.append(("API-error records (<synthetic>, never billed)", self.stats.api_errors))
        for kind, n in sorted(self.stats.unknown_types.items()):
            reasons.append((f"records of unknown type {kind!r}", n))
        return reasons


def discover(paths: Iterable[Path]) -> list[Path]:
    """Every *.jsonl transcript under the given files/folders, in a stable order.

    Sorted by path, a session's main file comes before its `<session>/subagents/` files, and an
    original before copies that sort later; missing roots are skipped (the caller reports them).
    """
    found: set[Path] = set()
    for root in paths:
        if root.is_file():
            if root.suffix == ".jsonl":
                found.add(root)
        elif root.is_dir():
            for dirpath, _dirnames, filenames in os.walk(root):
                for name in filenames:
                    if name.endswith(".jsonl"):
                        found.add(Path(dirpath) / name)
    return sorted(found, key=lambda p: str(p))


def _meta_for(path: Path) -> dict[str, object] | None:
    """The `agent-<id>.meta.json` beside a subagent transcript, if any."""
    if not path.name.startswith("agent-"):
        return None
    meta_path = path.with_name(path.name[: -len(".jsonl")] + ".meta.json")
    try:
        data = orjson.loads(meta_path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _lines(handle: object, start: int) -> Iterator[tuple[bytes, int]]:
    """(line, end offset) for every complete line from `start`; a trailing partial line is not yielded."""
    read = handle.read  # type: ignore[attr-defined]
    offset = start
    pending = b""
    while True:
        block = read(READ_BLOCK)
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
        yield pending, -1  # the caller counts it as incomplete


class _BackgroundWriter:
    """Writes batches on a second thread while the next ones are parsed.

    SQLite does its page work and commits without holding the GIL, so parsing and writing
    overlap. The queue is short (bounded memory), batches are written in order, and an error on
    the writer thread is raised on the importing thread.
    """

    def __init__(self, writer: Writer, depth: int = 2) -> None:
        self._writer = writer
        self._queue: queue.Queue[tuple[RecordBatch, list[FileState]] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="agent-trace-import-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # drain: the importing thread will raise
            try:
                self._writer.write(*item)
            except BaseException as exc:
                self._error = exc

    def put(self, batch: RecordBatch, states: list[FileState]) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put((batch, states))

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


class Importer:
    def __init__(
        self,
        writer: Writer,
        progress: Callable[[int], None] | None = None,
        on_plan: Callable[[int, int], None] | None = None,
    ) -> None:
        self.writer = writer
        self.progress = progress  # called with bytes consumed since the last call
        self.on_plan = on_plan  # called once with (files to read, bytes to read)
        self._pending = RecordBatch()
        self._pending_states: list[FileState] = []
        self._pending_bytes = 0

    def run(self, paths: Iterable[Path]) -> ImportSummary:
        import time

        started = time.perf_counter()
        summary = ImportSummary()
        store = self.writer.store
        summary.counts_before = store.counts()
        files = discover(paths)
        summary.files_found = len(files)
        states = store.file_states()
        plan: list[tuple[Path, int, int, FileState | None]] = []
        for path in files:
            try:
                st = path.stat()
            except OSError as exc:
                summary.files_unreadable.append((str(path), exc.strerror or str(exc)))
                continue
            previous = states.get(str(path))
            if previous is not None and previous.size == st.st_size and previous.mtime_ns == st.st_mtime_ns:
                summary.files_unchanged += 1
                continue
            # A file that shrank was rewritten: read it all again (merges make that harmless).
            resume_from = previous if previous is not None and st.st_size >= previous.size else None
            plan.append((path, st.st_size, st.st_mtime_ns, resume_from))
        if self.on_plan is not None:
            self.on_plan(
                len(plan), sum(size - (prev.safe_offset if prev else 0) for _p, size, _m, prev in plan)
            )
        self._background = _BackgroundWriter(self.writer)
        try:
            for path, size, mtime_ns, previous in plan:
                try:
                    summary.bytes_read += self._import_file(path, size, mtime_ns, previous, summary)
                except OSError as exc:
                    summary.files_unreadable.append((str(path), exc.strerror or str(exc)))
                    continue
                summary.files_read += 1
            self._flush()
        finally:
            self._background.close()
        self.writer.refresh()
        summary.counts_after = store.counts()
        summary.unpriced_models = sorted(self.writer.unpriced_models)
        summary.seconds = time.perf_counter() - started
        return summary

    def _import_file(
        self, path: Path, size: int, mtime_ns: int, previous: FileState | None, summary: ImportSummary
    ) -> int:
        start = first = previous.safe_offset if previous else 0
        state = (
            ParseState.from_json(orjson.loads(previous.parser_state))
            if previous and previous.parser_state
            else None
        )
        parser = TranscriptParser(describe_path(str(path), _meta_for(path)), state)
        parser.safe_offset = start
        consumed = reported = start
        with path.open("rb") as handle:
            handle.seek(start)
            for line, end in _lines(handle, start):
                if end < 0:
                    parser.stats.incomplete_tail += 1
                    break
                parser.feed(line, end)
                consumed = end
                if self.progress is not None and consumed - reported >= 1 << 20:
                    self.progress(consumed - reported)
                    reported = consumed
                if (
                    parser.pending + len(self._pending) >= FLUSH_RECORDS
                    or self._pending_bytes + consumed - start >= FLUSH_BYTES
                ):
                    self._pending.extend(parser.take_batch())
                    self._pending_bytes += consumed - start
                    start = consumed
                    self._flush()
        if self.progress is not None:
            self.progress(size - reported if size > reported else 0)
        file_state = FileState(
            path=str(path),
            # The size seen before reading: if the file grows past it, the next import re-reads
            # from safe_offset (an idempotent merge), so nothing is lost or counted twice.
            size=size,
            mtime_ns=mtime_ns,
            safe_offset=parser.safe_offset,
            parser_state=orjson.dumps(parser.safe_state().to_json()).decode(),
        )
        # A file's progress is stored in the same transaction as its last records; small files
        # are grouped into one transaction.
        self._pending.extend(parser.take_batch())
        self._pending_states.append(file_state)
        self._pending_bytes += consumed - start
        if len(self._pending) >= FLUSH_RECORDS or self._pending_bytes >= FLUSH_BYTES:
            self._flush()
        summary.stats.merge(parser.stats)
        return consumed - first

    def _flush(self) -> None:
        if len(self._pending) or self._pending_states:
            self._background.put(self._pending, self._pending_states)
            self._pending = RecordBatch()
            self._pending_states = []
        self._pending_bytes = 0


def unknown_field_report(stats: ParseStats, limit: int = 10) -> list[tuple[str, int]]:
    counter: Counter[str] = stats.unknown_fields
    return counter.most_common(limit)
