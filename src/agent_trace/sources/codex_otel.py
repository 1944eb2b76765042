"""Codex CLI's OpenTelemetry logs (`[otel]` in ~/.codex/config.toml) → canonical records. Pure.

Codex exports one log per event, every one with `conversation.id` (the thread = session id),
`app.version`, `originator` and `model` (codex-rs `codex_otel`):

* `codex.user_prompt` — `prompt` (only when `log_user_prompt = true`, which `agent-trace init
  --agent codex` sets; the privacy tier still decides what is stored).
* `codex.sse_event` with `event.kind = response.completed` and the token counts
  (`input_token_count`, `cached_token_count`, `cache_write_token_count`, `output_token_count`,
  `reasoning_token_count`) — one per model response: the LLM call. The same kind is also logged
  once without counts; that copy is skipped.
* `codex.tool_result` — `call_id`, `tool_name`, `arguments`, `output`, `duration_ms`, `success`.
  `success` says the tool ran; a shell command that exited non-zero is still an error, read from
  the exit code in its output exactly as the rollout parser does.
* `codex.tool_decision` — a `denied` / `abort` decision marks the tool call denied.

Keys are shared with the rollout parser (sources/codex_common.py), so a session captured live and
imported later is one set of records.
"""

from __future__ import annotations

from typing import Any

import orjson

from agent_trace.domain.prompts import classify_prompt
from agent_trace.domain.records import AGENT_CODEX, LlmCall, Prompt, ToolCall
from agent_trace.domain.tools import tool_kind
from agent_trace.sources.codex_common import call_key, exit_code_in, prompt_key, usage_of
from agent_trace.sources.otlp_build import Builder, as_bool, as_int, as_str, as_text
from agent_trace.sources.otlp_views import LogRecordView

EVENT_PREFIX = "codex."
_DENIED = frozenset({"denied", "abort", "rejected"})


def session_id_of(attrs: dict[str, Any]) -> str | None:
    return as_str(attrs.get("conversation.id"))


def on_log(b: Builder, rec: LogRecordView, name: str, sid: str, ts: int | None) -> None:
    """One Codex log record; the Builder already has its session and raw event."""
    a = rec.attributes
    session = b.sessions.get(sid)
    if session is not None:
        session.agent = AGENT_CODEX
        session.version = as_str(a.get("app.version")) or session.version
        session.entrypoint = as_str(a.get("originator")) or session.entrypoint
    if name == "codex.user_prompt":
        text = as_text(a.get("prompt"))
        kind = classify_prompt(text) if text else None
        if text is not None and kind is not None:
            b.prompt(Prompt(prompt_key(sid, text), sid, ts_ms=ts, kind=kind, text=text))
    elif name == "codex.sse_event":
        if as_str(a.get("event.kind")) != "response.completed" or "input_token_count" not in a:
            return
        values = (
            as_int(a.get("input_token_count")) or 0,
            as_int(a.get("cached_token_count")) or 0,
            as_int(a.get("cache_write_token_count")) or 0,
            as_int(a.get("output_token_count")) or 0,
            as_int(a.get("reasoning_token_count")) or 0,
        )
        if not any(values):
            return
        b.call(
            LlmCall(
                call_key(sid, values),
                sid,
                model=as_str(a.get("model")),
                ts_ms=ts,
                usage=usage_of(values),
            )
        )
    elif name == "codex.tool_result":
        tool_use_id = as_str(a.get("call_id"))
        if tool_use_id is None:
            return
        tool_name = as_str(a.get("tool_name"))
        output = as_text(a.get("output"))
        code = exit_code_in(output) if tool_kind(tool_name) in ("shell", "edit") else None
        success = as_bool(a.get("success"))
        if code is not None:
            status = "success" if code == 0 else "error"
        elif success is not None:
            status = "success" if success else "error"
        else:
            status = None
        duration = as_int(a.get("duration_ms"))
        b.tool(
            ToolCall(
                tool_use_id,
                sid,
                tool_name=tool_name,
                ended_ms=ts,
                started_ms=ts - duration if ts is not None and duration is not None else None,
                duration_ms=duration,
                status=status,  # type: ignore[arg-type]
                input_json=_input_json(as_text(a.get("arguments"))),
                output_text=output,
                error=output if status == "error" else None,
            )
        )
    elif name == "codex.tool_decision":
        tool_use_id = as_str(a.get("call_id"))
        decision = (as_str(a.get("decision")) or "").lower()
        if tool_use_id is not None:
            b.tool(
                ToolCall(
                    tool_use_id,
                    sid,
                    tool_name=as_str(a.get("tool_name")),
                    status="denied" if decision in _DENIED else None,
                )
            )


def _input_json(arguments: str | None) -> str | None:
    """The tool input as the rollout parser stores it: a function's JSON arguments as they are,
    a freeform tool's text (apply_patch) as {"input": text}."""
    if arguments is None:
        return None
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        return arguments
    return orjson.dumps({"input": arguments}).decode()
