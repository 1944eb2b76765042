"""Qwen Code's OpenTelemetry logs (`telemetry` in ~/.qwen/settings.json) → canonical records.

Qwen Code (a Gemini CLI fork) names its events `qwen-code.*`, every one with `session.id`:

* `qwen-code.user_prompt` — `prompt` (with `logPrompts`), `prompt_id`.
* `qwen-code.api_response` — the API's `response_id`, the counts (`input_token_count` including
  `cached_content_token_count`; `output_token_count` holding `thoughts_token_count` when the
  total says so), `model`, `duration_ms`, `ttft_ms`, `prompt_id`.
* `qwen-code.tool_call` — `call_id`, `function_name`, `function_args`, `status`, `duration_ms`,
  `response_id` (the call that asked for it), `error`.

The chat file keeps copies of the same events, so the response id and call id key the records in
both channels (sources/qwen_chat.py); prompts are keyed by the digest of their text.
"""

from __future__ import annotations

import orjson

from agent_trace.domain.prompts import classify_prompt
from agent_trace.domain.records import AGENT_QWEN, LlmCall, Prompt, ToolCall
from agent_trace.sources.otlp_build import Builder, as_int, as_str, as_text
from agent_trace.sources.otlp_views import LogRecordView
from agent_trace.sources.qwen_chat import prompt_key, qwen_counts, qwen_usage

EVENT_PREFIX = "qwen-code."
_STATUS = {"success": "success", "error": "error", "cancelled": "interrupted"}


def on_log(b: Builder, rec: LogRecordView, name: str, sid: str, ts: int | None) -> None:
    a = rec.attributes
    session = b.sessions.get(sid)
    if session is not None:
        session.agent = AGENT_QWEN
    prompt_ids = b.prompt_keys
    if name == "qwen-code.user_prompt":
        text = as_text(a.get("prompt"))
        kind = classify_prompt(text) if text else None
        if text is not None and kind is not None:
            key = prompt_key(sid, text)
            b.prompt(Prompt(key, sid, ts_ms=ts, kind=kind, text=text))
            own_id = as_str(a.get("prompt_id"))
            if own_id:
                prompt_ids[own_id] = key
    elif name == "qwen-code.api_response":
        response_id = as_str(a.get("response_id"))
        values, total = qwen_counts(a, telemetry=True)
        if response_id is None or not any(values):
            return
        b.call(
            LlmCall(
                response_id,
                sid,
                request_id=response_id,
                model=as_str(a.get("model")),
                ts_ms=ts,
                usage=qwen_usage(values, total),
                duration_ms=as_int(a.get("duration_ms")),
                ttft_ms=as_int(a.get("ttft_ms")),
                prompt_id=prompt_ids.get(as_str(a.get("prompt_id")) or ""),
            )
        )
    elif name == "qwen-code.tool_call":
        tool_use_id = as_str(a.get("call_id"))
        if tool_use_id is None:
            return
        raw_args = as_text(a.get("function_args"))
        try:
            args = orjson.loads(raw_args) if raw_args else None
        except orjson.JSONDecodeError:
            args = None
        status = _STATUS.get(as_str(a.get("status")) or "")
        error = as_text(a.get("error"))
        duration = as_int(a.get("duration_ms"))
        b.tool(
            ToolCall(
                tool_use_id,
                sid,
                tool_name=as_str(a.get("function_name")),
                call_id=as_str(a.get("response_id")),
                status=status,  # type: ignore[arg-type]
                duration_ms=duration,
                ended_ms=ts,
                input_json=orjson.dumps(args).decode() if isinstance(args, dict) else None,
                error=error if status == "error" else None,
                output_text=error if status == "error" else None,
            )
        )
