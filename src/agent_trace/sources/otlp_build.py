"""Shared by the OTLP normalisers: defensive attribute parsing and the per-request record builder.

Claude Code sends many numbers as strings (`"75"`) and booleans as `"true"`; everything here
accepts both and answers None for anything unusable.
"""

from __future__ import annotations

import hashlib
import math
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

import orjson

from agent_trace.domain.merge_rules import CALL_USAGE_FIELDS, merge_call_usage
from agent_trace.domain.prompts import classify_prompt
from agent_trace.domain.records import (
    AGENT_CLAUDE_CODE,
    NANO_PER_USD,
    Commit,
    FileTouch,
    LlmCall,
    Prompt,
    PromptKind,
    RawEvent,
    RecordBatch,
    Session,
    Subagent,
    ToolCall,
    Usage,
)

# What Claude Code writes in place of a text it was told not to export.
_REDACTED = frozenset({"<REDACTED>", "[REDACTED]", "REDACTED"})
DENIED_DECISIONS = frozenset({"reject", "rejected", "deny", "denied"})
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})
_NANO = Decimal(NANO_PER_USD)


def as_str(value: Any) -> str | None:
    if isinstance(value, str):
        return value or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def as_text(value: Any) -> str | None:
    if isinstance(value, str) and value and value not in _REDACTED:
        return value
    return None


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value:
        try:
            return int(value)
        except ValueError:
            try:
                value = float(value)
            except ValueError:
                return None
    if isinstance(value, float) and math.isfinite(value):
        return round(value)
    return None


def as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    if isinstance(value, int):
        return value != 0
    return None


def usd_to_nusd(value: Any) -> int | None:
    """USD (a float or a decimal string) → integer nano-dollars, rounded half to even."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        amount = Decimal(str(value)) if isinstance(value, int | float | str) else None
    except InvalidOperation:
        return None
    if amount is None or not amount.is_finite() or amount < 0:
        return None
    return int((amount * _NANO).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def reported_cost(attrs: dict[str, Any]) -> int | None:
    cost = usd_to_nusd(attrs.get("cost_usd"))
    if cost is None:
        micros = as_int(attrs.get("cost_usd_micros"))
        cost = micros * 1000 if micros is not None and micros >= 0 else None
    return cost


def speed_of(attrs: dict[str, Any]) -> str | None:
    """The request's speed in the transcript's words: OTLP says "normal" for "standard"."""
    speed = as_str(attrs.get("speed"))
    return "standard" if speed == "normal" else speed


def make_usage(
    input_tokens: int | None,
    output_tokens: int | None,
    cache_read: int | None,
    cache_creation: int | None,
    cache_5m: int | None,
    cache_1h: int | None,
) -> Usage | None:
    if all(v is None for v in (input_tokens, output_tokens, cache_read, cache_creation, cache_5m, cache_1h)):
        return None
    one_hour = max(cache_1h or 0, 0)
    five_min = max(cache_5m or 0, 0)
    creation = max(cache_creation or 0, five_min + one_hour)
    # A missing or partial split (zeros in 2.1.331) is priced as 5-minute writes, as Claude Code does.
    return Usage(
        input_tokens=max(input_tokens or 0, 0),
        output_tokens=max(output_tokens or 0, 0),
        cache_creation_tokens=creation,
        cache_5m_tokens=creation - one_hour,
        cache_1h_tokens=one_hour,
        cache_read_tokens=max(cache_read or 0, 0),
    )


def prompt_kind(text: str | None, command_name: Any) -> PromptKind | None:
    if as_str(command_name):
        return "command"
    return classify_prompt(text) if text is not None else None


# --------------------------------------------------------------------------------------------
# building one batch: records met twice under one key are merged (first value wins, except
# a call's usage and what follows it: domain.merge_rules; started: min; ended and counters: max)


def merge_into(old: Any, new: Any, skip: tuple[str, ...] = ()) -> None:
    for name in type(old).__slots__:
        if name in skip:
            continue
        value = getattr(new, name)
        if value is not None and getattr(old, name) is None:
            setattr(old, name, value)


USER_ATTRIBUTE = "agent_trace.user"  # set by `agent-trace init` (agent_trace.identity)


def otel_user(attrs: dict[str, Any], resource: dict[str, Any] | None = None) -> str | None:
    """The developer as telemetry names them: the identity `init` put in the resource attributes
    (the same user the hooks and import record), else an email (OAuth), else Claude Code's
    account id marked `otel:` — which a store lets a real identity (hooks, import) replace."""
    for source in (resource or {}, attrs):
        named = as_str(source.get(USER_ATTRIBUTE))
        if named:
            return named
    for source in (attrs, resource or {}):
        email = as_str(source.get("user.email"))
        if email:
            return email
    for source in (attrs, resource or {}):
        anonymous = as_str(source.get("user.account_uuid")) or as_str(source.get("user.id"))
        if anonymous:
            return f"otel:{anonymous}"
    return None


class Builder:
    """The records of one request, merged by natural key as they come."""

    def __init__(self, source: str, received_ms: int) -> None:
        self.source = source
        self.received_ms = received_ms
        self.sessions: dict[str, Session] = {}
        self.prompts: dict[tuple[str, str], Prompt] = {}
        self.calls: dict[str, LlmCall] = {}
        self.tools: dict[str, ToolCall] = {}
        self.touches: dict[tuple[str, str, str], FileTouch] = {}
        self.subagents: dict[tuple[str, str], Subagent] = {}
        self.commits: dict[str, Commit] = {}
        self.raw: list[RawEvent] = []
        self.api_errors: dict[tuple[str, str], int] = {}
        self.compactions: dict[str, int] = {}
        # Gemini CLI: tool calls a response asked for, by (session, name, args), until its
        # `tool_call` log (which names no call id) claims one.
        self.asked_tools: dict[tuple[str, str, str], list[str]] = {}
        # Qwen Code: its prompt ids → the prompt keys their text gave, within one export.
        self.prompt_keys: dict[str, str] = {}

    def raw_event(
        self, key: str, payload: dict[str, Any], sid: str | None, ts: int | None, kind: str
    ) -> None:
        """event_id = sha256(source, natural key, canonical payload): a re-sent export dedups."""
        data = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str)
        digest = hashlib.sha256(f"{self.source}\n{key}\n".encode())
        digest.update(data)
        event_id = digest.hexdigest()
        self.raw.append(RawEvent(event_id, self.source, sid, self.received_ms, ts, kind, data.decode()))

    def session(
        self, sid: str, resource: dict[str, Any], attrs: dict[str, Any], scope: str | None
    ) -> Session:
        found = self.sessions.get(sid)
        if found is None:
            service = as_str(resource.get("service.name"))
            claude = service == "claude-code" or (scope or "").startswith("com.anthropic.claude_code")
            found = Session(
                sid,
                agent=AGENT_CLAUDE_CODE if claude else service,
                user_id=otel_user(attrs, resource),
                version=as_str(resource.get("service.version")),
            )
            self.sessions[sid] = found
        return found

    def prompt(self, prompt: Prompt) -> None:
        found = self.prompts.get((prompt.session_id, prompt.prompt_id))
        if found is None:
            self.prompts[(prompt.session_id, prompt.prompt_id)] = prompt
        else:
            merge_into(found, prompt)

    def call(self, call: LlmCall) -> None:
        found = self.calls.get(call.call_id)
        if found is None:
            self.calls[call.call_id] = call
            return
        merge_call_usage(found, call)  # the store's rule: usage, is_sidechain and cost move together
        merge_into(found, call, skip=CALL_USAGE_FIELDS)

    def tool(self, tool: ToolCall) -> None:
        found = self.tools.get(tool.tool_use_id)
        if found is None:
            self.tools[tool.tool_use_id] = tool
            return
        if tool.started_ms is not None and found.started_ms is not None:
            found.started_ms = min(found.started_ms, tool.started_ms)
        if tool.ended_ms is not None and found.ended_ms is not None:
            found.ended_ms = max(found.ended_ms, tool.ended_ms)
        merge_into(found, tool)

    def touch(self, touch: FileTouch) -> None:
        self.touches.setdefault((touch.tool_use_id, touch.path, touch.op), touch)

    def subagent(self, sub: Subagent) -> None:
        found = self.subagents.get((sub.session_id, sub.agent_id))
        if found is None:
            self.subagents[(sub.session_id, sub.agent_id)] = sub
            return
        if sub.started_ms is not None and found.started_ms is not None:
            found.started_ms = min(found.started_ms, sub.started_ms)
        if sub.ended_ms is not None and found.ended_ms is not None:
            found.ended_ms = max(found.ended_ms, sub.ended_ms)
        merge_into(found, sub)

    def link_subagent(self, sid: str, agent_id: str, tool_use_id: str) -> None:
        self.subagent(Subagent(sid, agent_id, parent_tool_use_id=tool_use_id))
        self.tool(ToolCall(tool_use_id, sid, subagent_id=agent_id))

    def finish(self) -> RecordBatch:
        for (sid, pid), errors in self.api_errors.items():
            self.prompt(Prompt(pid, sid, api_errors=errors))
        for sid, count in self.compactions.items():
            session = self.sessions[sid]
            session.compactions = max(session.compactions or 0, count)
        return RecordBatch(
            sessions=list(self.sessions.values()),
            prompts=list(self.prompts.values()),
            llm_calls=list(self.calls.values()),
            tool_calls=list(self.tools.values()),
            file_touches=list(self.touches.values()),
            subagents=list(self.subagents.values()),
            commits=list(self.commits.values()),
            raw_events=self.raw,
        )


def stretch(session: Session, ts: int | None) -> None:
    """Session start and end are min/max-merged: every event inside it narrows them down."""
    if ts is None:
        return
    if session.started_ms is None or ts < session.started_ms:
        session.started_ms = ts
    if session.ended_ms is None or ts > session.ended_ms:
        session.ended_ms = ts
