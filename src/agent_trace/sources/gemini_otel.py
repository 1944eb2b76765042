"""Gemini CLI's OpenTelemetry logs (`telemetry` in ~/.gemini/settings.json) → canonical records.

Every log has `session.id`; the ones read here (gemini-cli `packages/core/src/telemetry`):

* `gemini_cli.user_prompt` — `prompt` (when `logPrompts` is on).
* `gemini_cli.api_response` — one per model response, with `input_token_count` (including
  `cached_content_token_count`), `output_token_count`, `thoughts_token_count` (not in output),
  `tool_token_count`, `model`, `duration_ms`, and (with `logPrompts`) `response_text`, the raw
  response chunks, whose `functionCall` parts carry the tool call ids the chat file also has.
  Side requests (`role` other than `main`: next-speaker checks, loop detection) are billed too
  and are recorded here; Gemini CLI does not write them to its chat file.
* `gemini_cli.tool_call` — `function_name`, `function_args`, `success`, `decision`,
  `duration_ms`, `metadata.exitCode`; it names no call id, so it is matched to the call id of a
  `functionCall` with the same name and arguments seen earlier in the same export (when that
  response came in an earlier export, the status waits for the import).

The `gen_ai.client.inference.operation.details` logs and `gen_ai.client.token.usage` metrics
repeat the same requests and are not turned into calls (that would count every token twice).
Keys are shared with the chat-file parser (sources/gemini_chat.py).
"""

from __future__ import annotations

from typing import Any

import orjson

from agent_trace.domain.prompts import classify_prompt
from agent_trace.domain.records import AGENT_GEMINI, LlmCall, Prompt, ToolCall
from agent_trace.domain.tools import tool_kind
from agent_trace.sources.gemini_chat import call_key, gemini_usage, prompt_key, thoughts_inside
from agent_trace.sources.otlp_build import Builder, as_bool, as_int, as_str, as_text
from agent_trace.sources.otlp_views import LogRecordView
from agent_trace.sources.usage_keys import as_count

EVENT_PREFIX = "gemini_cli."


def _args_key(args: Any) -> str:
    return orjson.dumps(args, option=orjson.OPT_SORT_KEYS).decode() if isinstance(args, dict) else ""


def on_log(b: Builder, rec: LogRecordView, name: str, sid: str, ts: int | None) -> None:
    a = rec.attributes
    session = b.sessions.get(sid)
    if session is not None:
        session.agent = AGENT_GEMINI
        if session.version is not None and session.version == rec.resource.get("process.runtime.version"):
            session.version = None  # service.version is Node's version here, not Gemini CLI's
    if name == "gemini_cli.user_prompt":
        text = as_text(a.get("prompt"))
        kind = classify_prompt(text) if text else None
        if text is not None and kind is not None:
            b.prompt(Prompt(prompt_key(sid, text), sid, ts_ms=ts, kind=kind, text=text))
    elif name == "gemini_cli.api_response":
        values = (
            as_count(a.get("input_token_count")),
            as_count(a.get("cached_content_token_count")),
            as_count(a.get("output_token_count")),
            as_count(a.get("thoughts_token_count")),
            as_count(a.get("tool_token_count")),
        )
        if not any(values):
            return
        key = call_key(sid, values)
        ids = _asked_tools(b, sid, key, as_text(a.get("response_text")), ts)
        b.call(
            LlmCall(
                key,
                sid,
                model=as_str(a.get("model")),
                ts_ms=ts,
                usage=gemini_usage(
                    values, thoughts_inside(values, as_count(a.get("total_token_count")), False)
                ),
                duration_ms=as_int(a.get("duration_ms")),
                tool_use_ids=tuple(ids),
            )
        )
    elif name == "gemini_cli.tool_call":
        _on_tool_call(b, a, sid, ts)


def _asked_tools(b: Builder, sid: str, call_id: str, response_text: str | None, ts: int | None) -> list[str]:
    """The tool calls a response asked for, from its logged chunks."""
    if not response_text:
        return []
    try:
        chunks = orjson.loads(response_text)
    except orjson.JSONDecodeError:
        return []
    ids: list[str] = []
    for chunk in chunks if isinstance(chunks, list) else [chunks]:
        for candidate in (chunk.get("candidates") or []) if isinstance(chunk, dict) else []:
            content = candidate.get("content") if isinstance(candidate, dict) else None
            parts = content.get("parts") if isinstance(content, dict) else None
            for part in parts if isinstance(parts, list) else []:
                fc = part.get("functionCall") if isinstance(part, dict) else None
                if not isinstance(fc, dict) or not isinstance(fc.get("id"), str) or not fc["id"]:
                    continue
                tool_name, args = as_str(fc.get("name")) or "", fc.get("args")
                ids.append(fc["id"])
                b.tool(
                    ToolCall(
                        fc["id"],
                        sid,
                        tool_name=tool_name or None,
                        call_id=call_id,
                        started_ms=ts,
                        input_json=orjson.dumps(args).decode() if isinstance(args, dict) else None,
                    )
                )
                b.asked_tools.setdefault((sid, tool_name, _args_key(args)), []).append(fc["id"])
    return ids


def _on_tool_call(b: Builder, a: dict[str, Any], sid: str, ts: int | None) -> None:
    tool_name = as_str(a.get("function_name")) or ""
    raw_args = as_text(a.get("function_args"))
    try:
        args = orjson.loads(raw_args) if raw_args else None
    except orjson.JSONDecodeError:
        args = None
    waiting = b.asked_tools.get((sid, tool_name, _args_key(args)))
    if not waiting:
        return  # its response came in an earlier export: the import supplies the status
    tool_use_id = waiting.pop(0)
    success = as_bool(a.get("success"))
    decision = (as_str(a.get("decision")) or "").lower()
    status = None if success is None else "success" if success else "error"
    if decision in ("reject", "cancel"):
        status = "denied"
    metadata = as_text(a.get("metadata"))
    if status == "success" and metadata and tool_kind(tool_name) == "shell":
        try:
            meta = orjson.loads(metadata)
        except orjson.JSONDecodeError:
            meta = None
        if isinstance(meta, dict) and isinstance(meta.get("exitCode"), int) and meta["exitCode"] != 0:
            status = "error"
    duration = as_int(a.get("duration_ms"))
    b.tool(
        ToolCall(
            tool_use_id,
            sid,
            tool_name=tool_name or None,
            status=status,  # type: ignore[arg-type]
            duration_ms=duration,
            ended_ms=ts,
        )
    )
