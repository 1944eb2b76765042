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
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from agent_trace.domain.records import RecordBatch
from agent_trace.ingest.parse_worker import parse_in_worker
from agent_trace.ingest.transcript_files import (
    FLUSH_BYTES,
    FLUSH_RECORDS,
    Chunk,
    FileTask,
    discover,
    parse_file,
    signature,
)
from agent_trace.ingest.writer import Writer
from agent_trace.sources.claude_transcript_lines import NO_TYPE, ParseStats
from agent_trace.store.port import FileState

# Below this much to read, a worker process costs more to start than it saves.
PARALLEL_MIN_BYTES = 64 * 1024 * 1024


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
    unpriced_reasons: dict[str, str] = field(default_factory=dict)  # model → why it is unpriced

    def skipped_reasons(self) -> list[tuple[str, int]]:
        reasons: list[tuple[str, int]] = []
        if self.stats.malformed:
            reasons.append(
                ("malformed lines (not JSON, or a record of an unusable shape)", self.stats.malformed)
            )
        if self.stats.incomplete_tail:
            reasons.append(
                (
                    "half-written last lines, not yet valid JSON (read once complete)",
                    self.stats.incomplete_tail,
                )
            )
        if self.stats.api_errors:
            reasons.append(("API-error records (<synthetic>, never billed)", self.stats.api_errors))
        for kind, n in sorted(self.stats.unknown_types.items()):
            if kind == NO_TYPE:
                reasons.append(('JSON lines without a "type" (not Claude Code transcript records)', n))
            else:
                reasons.append((f"records of unknown type {kind!r}", n))
        return reasons


class _BackgroundWriter:
    """Writes batches on a second thread while the next ones are parsed.

    SQLite does its page work and commits without holding the GIL, so parsing and writing
    overlap. The queue is short (bounded memory), batches are written in order, and an error on
    the writer thread is raised on the importing thread.
    """

    def __init__(self, write: Callable[[RecordBatch, list[FileState]], None], depth: int = 2) -> None:
        self._write = write
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
                self._write(*item)
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
        self._pending_records = 0

    def run(self, paths: Iterable[Path], parallel: bool | None = None) -> ImportSummary:
        """Import what changed under `paths`. `parallel`: parse in a worker process (default:
        when there are two or more cores and enough to read)."""
        started = time.perf_counter()
        summary = ImportSummary()
        store = self.writer.store
        summary.counts_before = store.counts()
        files = discover(paths)
        summary.files_found = len(files)
        states = store.file_states()
        plan: list[FileTask] = []
        for path in files:
            try:
                size, mtime_ns = signature(path)
            except OSError as exc:
                summary.files_unreadable.append((str(path), exc.strerror or str(exc)))
                continue
            previous = states.get(str(path))
            if previous is not None and previous.size == size and previous.mtime_ns == mtime_ns:
                summary.files_unchanged += 1
                continue
            # A file that shrank was rewritten: read it all again (merges make that harmless).
            if previous is not None and size >= previous.size:
                plan.append(FileTask(str(path), size, mtime_ns, previous.safe_offset, previous.parser_state))
            else:
                plan.append(FileTask(str(path), size, mtime_ns))
        to_read = sum(task.size - task.start for task in plan)
        if self.on_plan is not None:
            self.on_plan(len(plan), to_read)
        if parallel is None:
            parallel = (os.cpu_count() or 1) > 1 and to_read >= PARALLEL_MIN_BYTES
        if parallel and plan:
            # Parsed and prepared in the worker: this process's writer thread only writes SQL.
            chunks: Iterable[Chunk] = parse_in_worker(plan, self.writer.preparation)
            self._background = _BackgroundWriter(self.writer.write_prepared)
        else:
            chunks = (c for task in plan for c in parse_file(task))
            self._background = _BackgroundWriter(self.writer.write)
        try:
            for chunk in chunks:
                self._take(chunk, summary)
            self._flush()
        finally:
            self._background.close()
        self.writer.refresh()
        summary.counts_after = store.counts()
        summary.unpriced_models = sorted(self.writer.unpriced_models)
        summary.unpriced_reasons = dict(sorted(self.writer.unpriced.items()))
        summary.seconds = time.perf_counter() - started
        return summary

    def _take(self, chunk: Chunk, summary: ImportSummary) -> None:
        if chunk.error is not None:
            summary.files_unreadable.append((chunk.path, chunk.error))
            return
        self._pending.extend(chunk.batch)
        self._pending_records += len(chunk.batch)
        self._pending_bytes += chunk.consumed
        summary.bytes_read += chunk.consumed
        if self.progress is not None:
            self.progress(chunk.consumed)
        if chunk.file_state is not None:
            # A file's progress is stored in the same transaction as its last records; small
            # files are grouped into one transaction.
            self._pending_states.append(chunk.file_state)
            summary.files_read += 1
            if chunk.stats is not None:
                summary.stats.merge(chunk.stats)
        if self._pending_records >= FLUSH_RECORDS or self._pending_bytes >= FLUSH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if len(self._pending) or self._pending_states:
            self._background.put(self._pending, self._pending_states)
            self._pending = RecordBatch()
            self._pending_states = []
        self._pending_bytes = 0
        self._pending_records = 0


def unknown_field_report(stats: ParseStats, limit: int = 10) -> list[tuple[str, int]]:
    counter: Counter[str] = stats.unknown_fields
    return counter.most_common(limit)
