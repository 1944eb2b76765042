"""`agent-trace import`: find Claude Code transcripts and bring them into the store, incrementally.

A file whose size and mtime are unchanged is not opened. A grown file is read from its saved
safe offset with its saved parser state. The file's progress is stored in the same transaction
as its last records, so an interrupted import never skips anything (and re-reading is harmless:
every write is an idempotent merge). A half-written last line is left for the next import.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from agent_trace.ingest.writer import Writer
from agent_trace.sources.claude_transcript import ParseState, ParseStats, TranscriptParser, describe_path
from agent_trace.store.port import FileState

READ_BLOCK = 4 * 1024 * 1024
FLUSH_RECORDS = 4000


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
        for path, size, mtime_ns, previous in plan:
            try:
                summary.bytes_read += self._import_file(path, size, mtime_ns, previous, summary)
            except OSError as exc:
                summary.files_unreadable.append((str(path), exc.strerror or str(exc)))
                continue
            summary.files_read += 1
        self.writer.refresh()
        summary.counts_after = store.counts()
        summary.unpriced_models = sorted(self.writer.unpriced_models)
        summary.seconds = time.perf_counter() - started
        return summary

    def _import_file(
        self, path: Path, size: int, mtime_ns: int, previous: FileState | None, summary: ImportSummary
    ) -> int:
        start = previous.safe_offset if previous else 0
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
                if parser.pending >= FLUSH_RECORDS:
                    # Records only: the file's progress is saved with its last batch.
                    self.writer.write(parser.take_batch())
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
        self.writer.write(parser.take_batch(), [file_state])
        summary.stats.merge(parser.stats)
        return consumed - start


def unknown_field_report(stats: ParseStats, limit: int = 10) -> list[tuple[str, int]]:
    counter: Counter[str] = stats.unknown_fields
    return counter.most_common(limit)
