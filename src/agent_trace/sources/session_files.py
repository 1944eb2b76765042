"""What every agent's session-file parser shares: the records accumulated between two
`take_batch` calls, merged by natural key as lines come, and the reading of one JSON line.

The importer (ingest/transcript_files.py) drives every parser the same way: `start_at(offset)`,
`feed(line, end_offset)` per line, `take_batch()` when a chunk is full, `safe_offset` and
`safe_state()` for the next import.
"""

from __future__ import annotations

from typing import Any

import orjson

from agent_trace.domain.records import (
    FileOp,
    FileTouch,
    LlmCall,
    Prompt,
    RecordBatch,
    Session,
    Subagent,
    ToolCall,
)
from agent_trace.sources.claude_transcript_lines import ParseStats


def stretch(session: Session, ts: int | None) -> None:
    """A session's start and end take every time seen inside it (min / max)."""
    if ts is not None:
        session.started_ms = ts if session.started_ms is None else min(session.started_ms, ts)
        session.ended_ms = ts if session.ended_ms is None else max(session.ended_ms, ts)


class SessionFileParser:
    """Batch bookkeeping for one session file's parser (subclasses read the format)."""

    agent: str = ""

    def __init__(self) -> None:
        self.stats = ParseStats()
        self.safe_offset = 0
        self._reset_batch()

    def _reset_batch(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._prompts: dict[str, Prompt] = {}
        self._calls: dict[str, LlmCall] = {}
        self._tools: dict[str, ToolCall] = {}
        self._touches: dict[tuple[str, str, str], FileTouch] = {}
        self._subagents: dict[tuple[str, str], Subagent] = {}

    def start_at(self, offset: int) -> None:
        self.safe_offset = offset

    @property
    def pending(self) -> int:
        return len(self._calls) + len(self._tools) + len(self._prompts)

    def take_batch(self) -> RecordBatch:
        """The records accumulated since the last call; the parser keeps its state."""
        batch = RecordBatch(
            sessions=list(self._sessions.values()),
            prompts=list(self._prompts.values()),
            llm_calls=list(self._calls.values()),
            tool_calls=list(self._tools.values()),
            file_touches=list(self._touches.values()),
            subagents=list(self._subagents.values()),
        )
        self._reset_batch()
        return batch

    def json_line(self, line: bytes | str, end_offset: int | None) -> dict[str, Any] | None:
        """One line as a JSON object; counts it, and counts a malformed one (None)."""
        self.stats.lines += 1
        if end_offset is not None:
            self.safe_offset = end_offset
        if not (len(line) > 4 or line.strip()):
            return None
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            self.stats.malformed += 1
            return None
        if not isinstance(record, dict):
            self.stats.malformed += 1
            return None
        self.stats.records += 1
        return record

    # -- records, merged by key within a batch ---------------------------------------------------

    def session(self, sid: str, ts: int | None, project: str | None = None) -> Session:
        found = self._sessions.get(sid)
        if found is None:
            found = Session(session_id=sid, agent=self.agent, project=project, cwd=project)
            self._sessions[sid] = found
        stretch(found, ts)
        return found

    def prompt(self, key: str, sid: str, ts: int | None) -> Prompt:
        found = self._prompts.get(key)
        if found is None:
            found = self._prompts[key] = Prompt(key, sid)
        found.ts_ms = ts if found.ts_ms is None or ts is None else min(found.ts_ms, ts)
        return found

    def call(self, key: str, sid: str) -> LlmCall:
        found = self._calls.get(key)
        if found is None:
            found = self._calls[key] = LlmCall(call_id=key, session_id=sid)
        return found

    def tool(self, tool_use_id: str, sid: str) -> ToolCall:
        found = self._tools.get(tool_use_id)
        if found is None:
            found = self._tools[tool_use_id] = ToolCall(tool_use_id=tool_use_id, session_id=sid)
        return found

    def subagent(self, sid: str, agent_id: str, ts: int | None) -> Subagent:
        """A child session (thread) rolled into its parent `sid` as a subagent."""
        found = self._subagents.get((sid, agent_id))
        if found is None:
            found = self._subagents[(sid, agent_id)] = Subagent(session_id=sid, agent_id=agent_id)
        if ts is not None:
            found.started_ms = ts if found.started_ms is None else min(found.started_ms, ts)
            found.ended_ms = ts if found.ended_ms is None else max(found.ended_ms, ts)
        return found

    def touch(self, tool_use_id: str, path: str, op: FileOp, sid: str, ts: int | None) -> None:
        self._touches.setdefault((tool_use_id, path, op), FileTouch(tool_use_id, path, op, sid, ts))
