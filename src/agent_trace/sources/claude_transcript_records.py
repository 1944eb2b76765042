"""The record kinds of a Claude Code transcript other than the assistant's: user records (a
prompt, or the results of tool calls), system, progress, cost state and titles.

Written as functions of the parser (`self: TranscriptParser`) that claude_transcript.py binds
as its methods: one parser, its rules in two files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from agent_trace.domain.prompts import INTERRUPT_PREFIX, classify_prompt
from agent_trace.domain.records import SIDECHAIN_AGENT, ToolCall
from agent_trace.domain.tools import bash_changed_files
from agent_trace.sources.claude_transcript_lines import text_of

if TYPE_CHECKING:
    from agent_trace.sources.claude_transcript import TranscriptParser


def on_user(self: TranscriptParser, record: dict[str, Any]) -> None:
    session_id, ts = self._envelope(record)
    message = record.get("message")
    if session_id is None or not isinstance(message, dict):
        self.stats.malformed += 1
        return
    content = message.get("content")
    prompt_id_field = record.get("promptId") if isinstance(record.get("promptId"), str) else None
    if (
        record.get("isSidechain") is True
        and record.get("parentUuid") is None
        and not record.get("agentId")
        and not self.file.agent_hint
    ):
        self._start_sidechain(record)
    agent_id = self._agent_of(record)
    if isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    ):
        self._tool_results(record, content, session_id, agent_id, ts)
        if prompt_id_field:
            if agent_id:
                self.state.subagent_prompt_id = prompt_id_field
            else:
                self._switch_prompt(prompt_id_field)
        return
    if record.get("isMeta") or record.get("isCompactSummary"):
        return
    text = text_of(content)
    if agent_id is not None:
        # The first user line of a subagent is the task its parent gave it: not a session prompt.
        if prompt_id_field:
            self.state.subagent_prompt_id = prompt_id_field
        sub = self._note_subagent(session_id, agent_id, ts)
        if sub.description is None and text and record.get("parentUuid") is None:
            sub.description = text
        return
    kind = classify_prompt(text)
    if kind is None:
        if text.lstrip().startswith(INTERRUPT_PREFIX) and self.state.current_prompt_id:
            self._prompt(self.state.current_prompt_id, session_id).interrupted = True
        return
    uuid = record.get("uuid") if isinstance(record.get("uuid"), str) else None
    prompt_id = prompt_id_field or uuid
    if prompt_id is None:
        self.stats.malformed += 1
        return
    self._switch_prompt(prompt_id)
    self._closes_response = True
    prompt = self._prompt(prompt_id, session_id)
    prompt.kind = kind
    prompt.text = text
    prompt.line_uuid = uuid
    if ts is not None and (prompt.ts_ms is None or ts < prompt.ts_ms):
        prompt.ts_ms = ts


def switch_prompt(self: TranscriptParser, prompt_id: str) -> None:
    if prompt_id != self.state.current_prompt_id:
        self.state.current_prompt_id = prompt_id
        self.state.prompt_api_errors = 0


def start_sidechain(self: TranscriptParser, record: Mapping[str, Any]) -> None:
    """Pre-2.0.x sidechains live in the main file: each root user line starts a subagent."""
    uuid = record.get("uuid")
    self.state.sidechain_agent = f"{SIDECHAIN_AGENT}-" + (str(uuid)[:8] if uuid else "0")


def tool_results(
    self: TranscriptParser,
    record: Mapping[str, Any],
    content: list[Any],
    session_id: str,
    agent_id: str | None,
    ts: int | None,
) -> None:
    result_meta = record.get("toolUseResult")
    prompt_id = self.state.subagent_prompt_id if agent_id else self.state.current_prompt_id
    if isinstance(record.get("promptId"), str):
        prompt_id = record["promptId"]
    results = [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    for block in results:
        tool_use_id = block.get("tool_use_id")
        if not isinstance(tool_use_id, str) or not tool_use_id:
            continue
        tool = self._tool(tool_use_id, session_id)
        if tool.agent_id is None:
            tool.agent_id = agent_id
        if tool.prompt_id is None:
            tool.prompt_id = prompt_id
        text = text_of(block.get("content"))
        tool.output_text = text
        is_error = block.get("is_error") is True
        tool.status = "error" if is_error else "success"
        if is_error:
            tool.error = text
        if ts is not None:
            tool.ended_ms = ts
        # toolUseResult describes the single tool result of this line.
        if isinstance(result_meta, dict) and len(results) == 1:
            self._tool_result_meta(tool, result_meta, session_id, ts)
        elif isinstance(result_meta, str) and is_error and not tool.error:
            tool.error = result_meta
    if agent_id is not None:
        self._note_subagent(session_id, agent_id, ts)


def tool_result_meta(
    self: TranscriptParser, tool: ToolCall, meta: Mapping[str, Any], session_id: str, ts: int | None
) -> None:
    if meta.get("interrupted") is True:
        tool.status = "interrupted"
    duration = meta.get("durationMs", meta.get("totalDurationMs"))
    if isinstance(duration, int | float) and not isinstance(duration, bool) and tool.duration_ms is None:
        tool.duration_ms = int(duration)
    agent = meta.get("agentId")
    if isinstance(agent, str) and agent:
        tool.subagent_id = agent
        sub = self._subagent(session_id, agent)
        sub.parent_tool_use_id = tool.tool_use_id
        if tool.prompt_id and sub.prompt_id is None:
            sub.prompt_id = tool.prompt_id
        if isinstance(meta.get("agentType"), str):
            sub.agent_type = meta["agentType"]
    for path in bash_changed_files(meta):
        self._touch(tool.tool_use_id, path, "write", session_id, ts)


# -- the rest ----------------------------------------------------------------------------


def count_api_error(self: TranscriptParser, session_id: str) -> None:
    if self.state.current_prompt_id:
        self.state.prompt_api_errors += 1
        self._prompt(self.state.current_prompt_id, session_id).api_errors = self.state.prompt_api_errors


def on_system(self: TranscriptParser, record: dict[str, Any]) -> None:
    session_id, _ts = self._envelope(record)
    if session_id is None:
        return
    subtype = record.get("subtype")
    if subtype == "compact_boundary":
        self.state.compactions += 1
        self._session(session_id).compactions = self.state.compactions
    elif subtype == "turn_duration" and self.state.current_prompt_id:
        duration = record.get("durationMs")
        if isinstance(duration, int) and not isinstance(duration, bool):
            self._prompt(self.state.current_prompt_id, session_id).duration_ms = duration


def on_progress(self: TranscriptParser, record: dict[str, Any]) -> None:
    # Progress lines are most of a 2.1.2x–2.1.39 transcript and carry no usage; only an
    # agent_progress line says something we keep (which tool call started which subagent).
    data = record.get("data")
    if not isinstance(data, dict) or data.get("type") != "agent_progress":
        return
    session_id, _ts = self._envelope(record)
    if session_id is None:
        return
    agent = data.get("agentId")
    parent = record.get("parentToolUseID")
    if isinstance(agent, str) and agent and isinstance(parent, str) and parent:
        sub = self._subagent(session_id, agent)
        sub.parent_tool_use_id = parent


def on_cost_state(self: TranscriptParser, record: dict[str, Any]) -> None:
    session_id, _ts = self._envelope(record)
    total = record.get("totalCostUSD")
    if session_id is not None and isinstance(total, int | float) and not isinstance(total, bool):
        self._session(session_id).reported_cost_nusd = round(total * 1_000_000_000)


def on_title(self: TranscriptParser, record: dict[str, Any]) -> None:
    value = next(
        (
            v.strip()
            for v in (record.get(k) for k in ("customTitle", "aiTitle", "title", "summary"))
            if isinstance(v, str) and v.strip()
        ),
        None,
    )
    if record.get("type") == "summary" and not record.get("sessionId"):
        # Older CLIs' summary lines name no session (only a leafUuid): they title the file's
        # session once the file shows it has content, and never make a session of their own.
        if value is not None:
            if self.state.has_content and self.state.session_id is not None:
                self._session(self.state.session_id).title = value
            else:
                self.state.pending_title = value
        return
    session_id, _ts = self._envelope(record)
    if session_id is not None and value is not None:
        self._session(session_id).title = value
