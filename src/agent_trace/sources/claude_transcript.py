"""Claude Code transcript JSONL → canonical records (pure: bytes in, records out).

The line vocabulary (record types, path layout, usage, ParseState/ParseStats) is in
claude_transcript_lines.py; this module holds the parser and its rules.

A `TranscriptParser` reads one file's lines, possibly over several imports: its `ParseState`
is saved beside the file offset and restored when the file has grown. It never raises on bad
input: malformed lines, unknown record types and unknown fields are counted in `ParseStats`.

Rules (reference §3):
- An API request is keyed by requestId (or message.id); Claude Code writes one line per content
  block, each repeating the usage, and in 2.1.38/39 the early lines carry partial output counts:
  keep the copy with the largest total (the store applies the same rule across files).
- `<synthetic>` / isApiErrorMessage records are API errors, never billed.
- A prompt is a user record a person (or a background task) started, not a tool_result carrier,
  not isMeta / isCompactSummary bookkeeping.
- Subagent lines carry `agentId` (subagents/agent-*.jsonl, 2.0.x flat agent-*.jsonl); older
  sidechain lines (`isSidechain` without agentId) form one subagent per sidechain root.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from agent_trace.domain.merge_rules import usage_copy, usage_wins
from agent_trace.domain.records import (
    AGENT_CLAUDE_CODE,
    SIDECHAIN_AGENT,
    FileTouch,
    LlmCall,
    Prompt,
    RecordBatch,
    Session,
    Subagent,
    ToolCall,
    llm_call_id,
)
from agent_trace.domain.timeutil import parse_iso_ms
from agent_trace.domain.tools import file_touches
from agent_trace.sources import claude_transcript_records as records
from agent_trace.sources.claude_transcript_lines import (
    BOOKKEEPING_TYPES,
    KNOWN_FIELDS,
    NO_TYPE,
    PARSED_TYPES,
    SYNTHETIC_MODEL,
    TITLE_TYPES,
    ParseState,
    ParseStats,
    TranscriptFile,
    parse_usage,
    response_key,
)


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


class TranscriptParser:
    """Feeds lines of one transcript file and accumulates canonical records."""

    def __init__(self, file: TranscriptFile, state: ParseState | None = None) -> None:
        self.file = file
        self.state = state or ParseState()
        if self.state.session_id is None:
            self.state.session_id = file.session_hint
        self.stats = ParseStats()
        # Where a later import may resume, and the ParseState there. Claude Code writes one line
        # per content block of a response, and (executing tools while it streams) the tool
        # results and progress lines of a block can come before the response's next block. So a
        # response stays "open" until the next response or a new prompt begins, and the safe
        # point is the first line of the open response: re-reading from there rebuilds the
        # whole response (text, thinking, tool_use ids), never half of one.
        self.safe_offset = 0
        self._safe_snapshot: ParseState | None = None  # None: the current state is the safe one
        self._open_call: str | None = None
        self._line_start = 0
        self._closes_response = False  # set while feeding a line that starts a new prompt
        # The open response's content so far, kept across take_batch: a chunk boundary inside
        # a response must not split it (the store keeps one copy of a call's text, not both).
        self._carry: tuple[str, set[str], list[str], list[str], tuple[str, ...]] | None = None
        # Calls with no usable timestamp seen before any line that has one: dated by the next
        # such line, else (at the end of a batch) by the file's mtime. Counted once per call.
        self._undated: list[str] = []
        self._estimated: set[str] = set()
        self._reset_batch()

    # -- batch bookkeeping -------------------------------------------------------------------

    def _reset_batch(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._prompts: dict[str, Prompt] = {}
        self._calls: dict[str, LlmCall] = {}
        self._call_blocks: dict[str, set[str]] = {}
        self._call_text: dict[str, list[str]] = {}
        self._call_thinking: dict[str, list[str]] = {}
        self._tools: dict[str, ToolCall] = {}
        self._touches: dict[tuple[str, str, str], FileTouch] = {}
        self._subagents: dict[tuple[str, str], Subagent] = {}

    def take_batch(self) -> RecordBatch:
        """The records accumulated since the last call; the parser keeps its ParseState."""
        if self._undated and self.file.mtime_ms is not None:
            self._date_undated(self.file.mtime_ms)
        self._undated = []
        open_call = self._calls.get(self._open_call) if self._open_call else None
        if open_call is not None:
            key = open_call.call_id
            self._carry = (
                key,
                self._call_blocks[key],
                self._call_text.get(key, []),
                self._call_thinking.get(key, []),
                open_call.tool_use_ids,
            )
        for key, parts in self._call_text.items():
            self._calls[key].response_text = "\n\n".join(parts)
        for key, parts in self._call_thinking.items():
            self._calls[key].thinking = "\n\n".join(parts)
        if self.state.compactions:
            for session in self._sessions.values():
                session.compactions = self.state.compactions
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

    @property
    def pending(self) -> int:
        return len(self._calls) + len(self._tools) + len(self._prompts)

    # -- record helpers ----------------------------------------------------------------------

    def _session(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            session = Session(session_id=session_id, agent=AGENT_CLAUDE_CODE, project=self.state.project)
            self._sessions[session_id] = session
        return session

    def _prompt(self, prompt_id: str, session_id: str) -> Prompt:
        prompt = self._prompts.get(prompt_id)
        if prompt is None:
            prompt = Prompt(prompt_id=prompt_id, session_id=session_id)
            self._prompts[prompt_id] = prompt
        return prompt

    def _tool(self, tool_use_id: str, session_id: str) -> ToolCall:
        tool = self._tools.get(tool_use_id)
        if tool is None:
            tool = ToolCall(tool_use_id=tool_use_id, session_id=session_id)
            self._tools[tool_use_id] = tool
        return tool

    def _subagent(self, session_id: str, agent_id: str) -> Subagent:
        key = (session_id, agent_id)
        sub = self._subagents.get(key)
        if sub is None:
            sub = Subagent(session_id=session_id, agent_id=agent_id)
            self._subagents[key] = sub
        return sub

    def _touch(self, tool_use_id: str, path: str, op: str, session_id: str, ts: int | None) -> None:
        key = (tool_use_id, path, op)
        if key not in self._touches:
            self._touches[key] = FileTouch(tool_use_id, path, op, session_id, ts)  # type: ignore[arg-type]

    # -- the line loop -----------------------------------------------------------------------

    def feed_lines(self, lines: Iterable[bytes]) -> None:
        for line in lines:
            self.feed(line)

    def start_at(self, offset: int) -> None:
        """Lines fed with end offsets continue a file from `offset` (with the state given)."""
        self.safe_offset = self._line_start = offset

    def safe_state(self) -> ParseState:
        """The ParseState as it was at `safe_offset`."""
        return self.state if self._safe_snapshot is None else self._safe_snapshot

    def feed(self, line: bytes | str, end_offset: int | None = None) -> None:
        """One complete line (without or with its newline); `end_offset` = file offset after it."""
        self.stats.lines += 1
        record = None
        # (Only short lines can be blank; stripping a 100 kB line would copy it.)
        if len(line) > 4 or line.strip():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                self.stats.malformed += 1
            else:
                if not isinstance(record, dict):
                    self.stats.malformed += 1
                    record = None
        if end_offset is None:
            if record is not None:
                self._feed_record(record)
            return
        if record is not None and record.get("type") == "assistant":
            key = response_key(record)
            if key is not None and key != self._open_call:
                # A new response: everything before this line is complete.
                self.safe_offset = self._line_start
                self._safe_snapshot = replace(self.state)
                self._open_call = key
                self._carry = None
        if record is not None:
            self._closes_response = False
            self._feed_record(record)
            if self._closes_response:
                self._open_call = None
                self._carry = None
        if self._open_call is None:
            self.safe_offset = end_offset
            self._safe_snapshot = None
        self._line_start = end_offset

    def _feed_record(self, record: dict[str, Any]) -> None:
        self.stats.records += 1
        kind = record.get("type")
        if kind in PARSED_TYPES:
            unknown = record.keys() - KNOWN_FIELDS
            if unknown:
                self.stats.unknown_fields.update(f"{kind}.{name}" for name in unknown)
        try:
            self._dispatch(kind, record)
        except (TypeError, ValueError, AttributeError, KeyError):
            # A record whose shape breaks our assumptions is skipped like a malformed line,
            # never fatal for the rest of the file.
            self.stats.malformed += 1

    def _dispatch(self, kind: object, record: dict[str, Any]) -> None:
        if kind == "assistant":
            self._on_assistant(record)
        elif kind == "user":
            self._on_user(record)
        elif kind == "progress":
            self._on_progress(record)
        elif kind == "system":
            self._on_system(record)
        elif kind == "cost-state":
            self._on_cost_state(record)
        elif kind in TITLE_TYPES:
            self._on_title(record)
        elif kind in BOOKKEEPING_TYPES:
            # Bookkeeping lines only say the session exists and when: no need for the rest.
            self._touch_session(record)
        else:
            self.stats.unknown_types[kind if isinstance(kind, str) else NO_TYPE] += 1
            self._envelope(record)

    def _touch_session(self, record: dict[str, Any]) -> None:
        session_id = record.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            session_id = self.state.session_id
        elif self.state.session_id is None:
            self.state.session_id = session_id
        if session_id is None:
            return
        session = self._session(session_id)
        ts = parse_iso_ms(record.get("timestamp"))
        if ts is not None:
            _stretch(session, ts)
            self._saw_time(ts)

    def _saw_time(self, ts: int) -> None:
        self.state.last_ts = ts
        if self._undated:
            self._date_undated(ts)
            self._undated = []

    def _date_undated(self, ts: int) -> None:
        for key in self._undated:
            call = self._calls.get(key)
            if call is not None and call.ts_ms is None:
                call.ts_ms = ts
                _stretch(self._session(call.session_id), ts)

    def _estimate_time(self, key: str, session_id: str) -> int | None:
        """The best time for a call line with no usable timestamp (reference: none in the line):
        the previous dated line's, else the next one's, else the file's mtime (take_batch)."""
        if key not in self._estimated:
            self._estimated.add(key)
            self.stats.estimated_times += 1
        ts = self.state.last_ts
        if ts is None:
            self._undated.append(key)
            return None
        _stretch(self._session(session_id), ts)
        return ts

    def _envelope(self, record: dict[str, Any]) -> tuple[str | None, int | None]:
        """Session facts every record may carry; returns (session_id, ts_ms)."""
        session_id = record.get("sessionId")
        if not isinstance(session_id, str) or not session_id:
            session_id = self.state.session_id
        elif self.state.session_id is None:
            self.state.session_id = session_id
        ts = parse_iso_ms(record.get("timestamp"))
        if session_id is None:
            return None, ts
        session = self._sessions.get(session_id) or self._session(session_id)
        self.state.has_content = True
        if self.state.pending_title is not None:
            if session.title is None:
                session.title = self.state.pending_title
            self.state.pending_title = None
        cwd = record.get("cwd")
        if isinstance(cwd, str) and cwd:
            if self.state.project is None:
                self.state.project = cwd
            if session.project is None:
                session.project = self.state.project
            session.cwd = cwd
        if ts is not None:
            _stretch(session, ts)
            self._saw_time(ts)
        version = record.get("version")
        if isinstance(version, str):
            session.version = version
        branch = record.get("gitBranch")
        if isinstance(branch, str) and branch and branch != "HEAD":
            session.git_branch = branch
        entry = record.get("entrypoint")
        if isinstance(entry, str):
            session.entrypoint = entry
        mode = record.get("permissionMode")
        if isinstance(mode, str):
            session.permission_mode = mode
        return session_id, ts

    def _agent_of(self, record: Mapping[str, Any]) -> str | None:
        agent = record.get("agentId")
        if isinstance(agent, str) and agent:
            return agent
        if self.file.agent_hint:
            return self.file.agent_hint
        if record.get("isSidechain") is True:
            return self.state.sidechain_agent or SIDECHAIN_AGENT
        return None

    def _note_subagent(
        self, session_id: str, agent_id: str, ts: int | None, model: str | None = None
    ) -> Subagent:
        sub = self._subagent(session_id, agent_id)
        if ts is not None:
            if sub.started_ms is None or ts < sub.started_ms:
                sub.started_ms = ts
            if sub.ended_ms is None or ts > sub.ended_ms:
                sub.ended_ms = ts
        if agent_id.startswith("acompact"):
            sub.is_compaction = True
            sub.agent_type = sub.agent_type or "compaction"
        meta = self.file.meta
        if meta and agent_id == self.file.agent_hint:
            if isinstance(meta.get("agentType"), str):
                sub.agent_type = meta["agentType"]
            if isinstance(meta.get("description"), str):
                sub.description = meta["description"]
            if isinstance(meta.get("toolUseId"), str):
                sub.parent_tool_use_id = meta["toolUseId"]
            if isinstance(meta.get("model"), str) and sub.model is None:
                sub.model = meta["model"]
        if model and sub.model is None:
            sub.model = model
        if self.state.subagent_prompt_id and sub.prompt_id is None:
            sub.prompt_id = self.state.subagent_prompt_id
        return sub

    # -- assistant ---------------------------------------------------------------------------

    def _on_assistant(self, record: dict[str, Any]) -> None:
        session_id, ts = self._envelope(record)
        message = record.get("message")
        if session_id is None or not isinstance(message, dict):
            self.stats.malformed += 1
            return
        model = message.get("model")
        if record.get("isApiErrorMessage") or model == SYNTHETIC_MODEL:
            self.stats.api_errors += 1
            self._count_api_error(session_id)
            return
        message_id = message.get("id") if isinstance(message.get("id"), str) else None
        request_id = record.get("requestId") if isinstance(record.get("requestId"), str) else None
        key = llm_call_id(message_id, request_id)
        if key is None:
            self.stats.malformed += 1
            return
        agent_id = self._agent_of(record)
        is_sidechain = record.get("isSidechain") is True or agent_id is not None
        usage = parse_usage(message.get("usage"))
        if ts is None:
            known = self._calls.get(key)
            if known is None or known.ts_ms is None:
                ts = self._estimate_time(key, session_id)
        prompt_id = self.state.subagent_prompt_id if agent_id else self.state.current_prompt_id
        call = self._calls.get(key)
        if call is None:
            call = LlmCall(
                call_id=key,
                session_id=session_id,
                message_id=message_id,
                request_id=request_id,
                agent_id=agent_id,
                prompt_id=prompt_id,
                model=model if isinstance(model, str) else None,
                ts_ms=ts,
                usage=usage,
                is_sidechain=is_sidechain,
            )
            self._calls[key] = call
            self._call_blocks[key] = set()
            carry = self._carry
            if carry is not None and carry[0] == key:
                # The rest of a response whose first blocks went out in an earlier batch.
                self._call_blocks[key] = carry[1]
                self._call_text[key] = carry[2]
                self._call_thinking[key] = carry[3]
                call.tool_use_ids = carry[4]
        else:
            # A streaming duplicate: the copy the store's merge would keep wins here too.
            if usage_wins(usage_copy(call.usage, call.is_sidechain), usage_copy(usage, is_sidechain)):
                call.usage = usage
                call.is_sidechain = is_sidechain
            if ts is not None and (call.ts_ms is None or ts < call.ts_ms):
                call.ts_ms = ts
        if usage is not None and isinstance(message.get("usage"), dict):
            speed = message["usage"].get("speed")
            if isinstance(speed, str):
                call.speed = speed
        stop = message.get("stop_reason")
        if isinstance(stop, str):
            call.stop_reason = stop
        cost = record.get("costUSD")  # written by CLIs before v1.0.9: their own figure, kept beside ours
        if isinstance(cost, int | float) and not isinstance(cost, bool) and cost >= 0:
            call.reported_cost_nusd = round(cost * 1_000_000_000)
        if agent_id is not None:
            self._note_subagent(session_id, agent_id, ts, call.model)
        content = message.get("content")
        if isinstance(content, list):
            self._assistant_blocks(call, content, session_id, agent_id, ts)

    def _assistant_blocks(
        self, call: LlmCall, content: list[Any], session_id: str, agent_id: str | None, ts: int | None
    ) -> None:
        seen = self._call_blocks[call.call_id]
        tool_ids = list(call.tool_use_ids)
        for block in content:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                text = block.get("text")
                if isinstance(text, str) and text:
                    fingerprint = "t" + text
                    if fingerprint not in seen:
                        seen.add(fingerprint)
                        self._call_text.setdefault(call.call_id, []).append(text)
            elif kind == "thinking":
                text = block.get("thinking")
                if isinstance(text, str) and text:
                    fingerprint = "h" + text
                    if fingerprint not in seen:
                        seen.add(fingerprint)
                        self._call_thinking.setdefault(call.call_id, []).append(text)
            elif kind == "tool_use":
                tool_use_id = block.get("id")
                if not isinstance(tool_use_id, str) or not tool_use_id:
                    continue
                name = block.get("name") if isinstance(block.get("name"), str) else None
                tool_input = block.get("input")
                tool = self._tool(tool_use_id, session_id)
                tool.tool_name = name
                tool.agent_id = agent_id
                tool.prompt_id = call.prompt_id
                tool.call_id = call.call_id
                if ts is not None and (tool.started_ms is None or ts < tool.started_ms):
                    tool.started_ms = ts
                if tool_input is not None:
                    tool.input_json = _dumps(tool_input)
                for path, op in file_touches(name, tool_input if isinstance(tool_input, dict) else None):
                    self._touch(tool_use_id, path, op, session_id, ts)
                if tool_use_id not in tool_ids:
                    tool_ids.append(tool_use_id)
        call.tool_use_ids = tuple(tool_ids)

    # -- user --------------------------------------------------------------------------------

    # The other record kinds: claude_transcript_records.py (methods written as functions there).
    _on_user = records.on_user
    _switch_prompt = records.switch_prompt
    _start_sidechain = records.start_sidechain
    _tool_results = records.tool_results
    _tool_result_meta = records.tool_result_meta
    _count_api_error = records.count_api_error
    _on_system = records.on_system
    _on_progress = records.on_progress
    _on_cost_state = records.on_cost_state
    _on_title = records.on_title


def _stretch(holder: Session, ts: int) -> None:
    """Widen a session's [started_ms, ended_ms] to include `ts`."""
    if holder.started_ms is None or ts < holder.started_ms:
        holder.started_ms = ts
    if holder.ended_ms is None or ts > holder.ended_ms:
        holder.ended_ms = ts
