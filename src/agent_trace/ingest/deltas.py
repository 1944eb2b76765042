"""Transcript lines shipped by the hook handler → records, resumable per (session, transcript path).

The hook handler sends the lines appended to a transcript since its last delta (`offset` is the
byte offset of `text` in the file on the developer's machine). The collector parses them with
the same `TranscriptParser` as `agent-trace import`, and keeps a cursor per (session, path) in the
store, so a later delta — after a collector restart too — continues with the right parser state.

What the cursor holds, and why:
- `end`: bytes received so far. A delta that starts before it was (partly) seen already: only
  its new bytes are parsed, so a re-delivered delta changes nothing.
- `safe`, `parser` and `carry`: the parser's safe point, its state there, and the bytes from the
  safe point to `end`. Claude Code writes one line per content block of a response, so a delta
  can end in the middle of a response; the carried lines are parsed again, with the next delta,
  as one run (the importer re-reads from its safe offset for the same reason). Re-parsing yields
  the same records: writes are idempotent merges.
- `holes`: byte ranges never received, when a delta arrives after a gap (a spool delivering
  out of order). A late delta covering a hole is parsed then, so nothing is skipped for having
  arrived late; lines parsed that way lack the parser's running context (the current prompt id)
  and leave those fields to the other channels.

Pure apart from reading cursors through the Store; the caller (the ingest queue's single writer
thread) writes the records first and then `commit`s the cursors, so a crash in between only
means the same lines are parsed again from the old cursor.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import orjson

from agent_trace.domain.jsonl import is_complete_record
from agent_trace.domain.records import RecordBatch
from agent_trace.sources.claude_transcript import TranscriptParser
from agent_trace.sources.claude_transcript_lines import ParseState, describe_path
from agent_trace.store.port import RecordWriter, TranscriptCursor

# A response run longer than this is not carried: its records are already written, and the
# store's merge rules keep the longest text and the largest usage of a request anyway.
MAX_CARRY_BYTES = 4 * 1024 * 1024
# Missing ranges remembered per file; the oldest are forgotten first (they will not come back).
MAX_HOLES = 64


@dataclass(frozen=True, slots=True)
class Delta:
    """One shipped piece of a transcript, with the session of the hook payload that carried it."""

    session_id: str
    path: str
    offset: int
    text: str


@dataclass(slots=True)
class _Cursor:
    end: int = 0
    safe: int = 0
    parser: dict[str, object] = field(default_factory=dict)
    carry: bytes = b""
    holes: list[list[int]] = field(default_factory=list)

    @classmethod
    def load(cls, stored: TranscriptCursor | None) -> _Cursor:
        if stored is None:
            return cls()
        data = orjson.loads(stored.state)
        return cls(
            end=int(data.get("end", stored.end_offset)),
            safe=int(data.get("safe", stored.end_offset)),
            parser=dict(data.get("parser") or {}),
            carry=str(data.get("carry") or "").encode("utf-8"),
            holes=[[int(a), int(b)] for a, b in data.get("holes") or []],
        )

    def dump(self, session_id: str, path: str) -> TranscriptCursor:
        state = {
            "end": self.end,
            "safe": self.safe,
            "parser": self.parser,
            # Always whole UTF-8 characters: it is a slice of text that arrived as a str.
            "carry": self.carry.decode("utf-8", errors="replace"),
            "holes": self.holes,
        }
        return TranscriptCursor(session_id, path, self.end, orjson.dumps(state).decode())


def _lines(data: bytes, base: int) -> Iterator[tuple[bytes, int]]:
    """(line, file offset just past it) for each complete line; an unfinished tail is not yielded,
    but a tail that is one whole JSON object is complete without its newline (domain.jsonl).

    Split on LF only: JSON text cannot hold a raw newline, and a CR belongs to the line it ends.
    """
    start = 0
    while True:
        cut = data.find(b"\n", start)
        if cut < 0:
            tail = data[start:]
            if tail and is_complete_record(tail):
                yield tail, base + len(data)
            return
        yield data[start : cut + 1], base + cut + 1
        start = cut + 1


class DeltaParser:
    """Turns deltas into records, keeping each (session, path) cursor in memory and in the store.

    Not thread-safe: one writer thread owns it (the ingest queue's).
    """

    def __init__(self, store: RecordWriter) -> None:
        self.store = store
        self._cursors: dict[tuple[str, str], _Cursor] = {}

    def parse(self, deltas: Sequence[Delta]) -> tuple[RecordBatch, dict[tuple[str, str], _Cursor]]:
        """Records for `deltas` (in order) and the cursors as they will be once written.

        Nothing changes in this object until `commit` is given the returned cursors.
        """
        batch = RecordBatch()
        working: dict[tuple[str, str], _Cursor] = {}
        for delta in deltas:
            key = (delta.session_id, delta.path)
            cursor = working.get(key)
            if cursor is None:
                cursor = self._copy(self._cursor(key))
                working[key] = cursor
            self._apply(cursor, delta, batch)
        return batch, working

    def commit(self, cursors: dict[tuple[str, str], _Cursor]) -> None:
        """Store the cursors `parse` returned (call after their records are written)."""
        if not cursors:
            return
        self.store.save_transcript_cursors([c.dump(sid, path) for (sid, path), c in cursors.items()])
        self._cursors.update(cursors)

    def forget(self) -> None:
        """Drop the in-memory cursors (they are re-read from the store when needed)."""
        self._cursors.clear()

    # -- internals ---------------------------------------------------------------------------

    def _cursor(self, key: tuple[str, str]) -> _Cursor:
        cursor = self._cursors.get(key)
        if cursor is None:
            cursor = _Cursor.load(self.store.transcript_cursor(*key))
            self._cursors[key] = cursor
        return cursor

    @staticmethod
    def _copy(cursor: _Cursor) -> _Cursor:
        return _Cursor(
            cursor.end, cursor.safe, dict(cursor.parser), cursor.carry, [list(h) for h in cursor.holes]
        )

    def _apply(self, cursor: _Cursor, delta: Delta, batch: RecordBatch) -> None:
        data = delta.text.encode("utf-8")
        start, stop = delta.offset, delta.offset + len(data)
        if start < cursor.end:
            self._fill_holes(cursor, delta, data, batch)
            if stop <= cursor.end:
                return  # everything else in it was received before
            data, start = data[cursor.end - start :], cursor.end
        if start > cursor.end:
            self._skip_to(cursor, delta, start, batch)
        self._forward(cursor, delta, data, batch)

    def _parser(self, delta: Delta, state: ParseState) -> TranscriptParser:
        return TranscriptParser(describe_path(delta.path), state)

    def _forward(self, cursor: _Cursor, delta: Delta, data: bytes, batch: RecordBatch) -> None:
        """Parse the carried tail plus `data`, which continues the file at `cursor.end`."""
        text = cursor.carry + data
        parser = self._parser(delta, ParseState.from_json(cursor.parser))
        parser.start_at(cursor.safe)
        for line, end in _lines(text, cursor.safe):
            parser.feed(line, end)
        batch.extend(parser.take_batch())
        cursor.end += len(data)
        if cursor.end - parser.safe_offset > MAX_CARRY_BYTES:
            # Give up on re-reading a huge run: carry nothing, continue from the state after it.
            cursor.safe, cursor.parser, cursor.carry = cursor.end, parser.state.to_json(), b""
            return
        cursor.carry = text[parser.safe_offset - cursor.safe :]
        cursor.safe = parser.safe_offset
        cursor.parser = parser.safe_state().to_json()

    def _skip_to(self, cursor: _Cursor, delta: Delta, start: int, batch: RecordBatch) -> None:
        """A gap before `start`: finish the carried lines on their own and remember the hole."""
        parser = self._parser(delta, ParseState.from_json(cursor.parser))
        for line, end in _lines(cursor.carry, cursor.safe):
            parser.feed(line, end)
        batch.extend(parser.take_batch())
        # An unfinished line before a gap can never be completed: it is dropped with the carry.
        cursor.holes.append([cursor.end, start])
        del cursor.holes[:-MAX_HOLES]
        cursor.end = cursor.safe = start
        cursor.parser = parser.state.to_json()
        cursor.carry = b""

    def _fill_holes(self, cursor: _Cursor, delta: Delta, data: bytes, batch: RecordBatch) -> None:
        """Parse the parts of a late delta that fall into ranges never received."""
        start, stop = delta.offset, delta.offset + len(data)
        remaining: list[list[int]] = []
        for low, high in cursor.holes:
            a, b = max(low, start), min(high, stop)
            if a >= b:
                remaining.append([low, high])
                continue
            # The running context at the hole is unknown: start from what the path says.
            parser = self._parser(delta, ParseState())
            for line, end in _lines(data[a - start : b - start], a):
                parser.feed(line, end)
            batch.extend(parser.take_batch())
            if low < a:
                remaining.append([low, a])
            if b < high:
                remaining.append([b, high])
        cursor.holes = remaining
