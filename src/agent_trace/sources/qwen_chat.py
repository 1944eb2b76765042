"""Qwen Code chat files (`~/.qwen/projects/<project>/chats/<session>.jsonl`) → canonical records.

Pure: lines in, records out. The format, from Qwen Code's `chatRecordingService` and files our
own runs of 0.24.4 wrote: one JSON record per line with `uuid`, `parentUuid`, `sessionId`,
`timestamp`, `type`, `cwd`, `version`:

* `user` (provenance `real_user`): a typed prompt, `message.parts[].text`.
* `assistant`: `message.parts` (text, `functionCall` {id, name, args}) and `usageMetadata`
  (Gemini field names over an OpenAI-compatible API: `promptTokenCount` INCLUDES
  `cachedContentTokenCount`; `candidatesTokenCount` is the completion count, which already holds
  `thoughtsTokenCount` — total = prompt + candidates; see gemini_chat.thoughts_inside).
* `tool_result`: `toolCallResult` {callId, status, resultDisplay.exitCode} and the response text.
* `system` `ui_telemetry`: copies of the telemetry events. `qwen-code.api_response` carries the
  API's `response_id` with the same counts as the assistant record that follows it; it is what
  keys the LLM call (Qwen Code's OTel export has the same id, so live capture and import meet),
  and the assistant record adds its tool calls and text to it. The copy is never counted as a
  second call. `qwen-code.tool_call` adds the tool's duration.

A branch or fork copies records with their ids, which merge in the store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from agent_trace.domain.prompts import classify_prompt
from agent_trace.domain.records import AGENT_QWEN
from agent_trace.domain.timeutil import parse_iso_ms
from agent_trace.domain.tools import kind_touch
from agent_trace.sources.gemini_chat import gemini_usage, shell_exit_code, thoughts_inside
from agent_trace.sources.session_files import SessionFileParser
from agent_trace.sources.usage_keys import as_count, text_prompt_key, usage_call_key


def qwen_counts(raw: Mapping[str, Any], *, telemetry: bool) -> tuple[tuple[int, int, int, int, int], int]:
    """((input incl. cached, cached, output, thoughts, tool), total) of a usageMetadata map or of
    an api_response telemetry event."""
    if telemetry:
        values = (
            as_count(raw.get("input_token_count")),
            as_count(raw.get("cached_content_token_count")),
            as_count(raw.get("output_token_count")),
            as_count(raw.get("thoughts_token_count")),
            as_count(raw.get("tool_token_count")),
        )
        return values, as_count(raw.get("total_token_count"))
    values = (
        as_count(raw.get("promptTokenCount")),
        as_count(raw.get("cachedContentTokenCount")),
        as_count(raw.get("candidatesTokenCount")),
        as_count(raw.get("thoughtsTokenCount")),
        as_count(raw.get("toolUsePromptTokenCount")),
    )
    return values, as_count(raw.get("totalTokenCount"))


def qwen_usage(values: tuple[int, int, int, int, int], total: int) -> Any:
    return gemini_usage(values, thoughts_inside(values, total, True))


def prompt_key(session_id: str, text: str) -> str:
    return text_prompt_key(AGENT_QWEN, session_id, text)


def is_qwen_chat(path: str) -> bool:
    parts = path.replace("\\", "/").split("/")
    return len(parts) >= 5 and parts[-2] == "chats" and parts[-4] == "projects" and ".qwen" in parts[:-4]


@dataclass
class QwenState:
    session_id: str | None = None
    cwd: str | None = None
    prompt_id: str | None = None
    # The last api_response telemetry: (counts key, response id), claimed by the next assistant record.
    last_response: list[str] | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> QwenState:
        if not data:
            return cls()
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _parts(record: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    message = record.get("message")
    parts = message.get("parts") if isinstance(message, dict) else None
    return [p for p in parts if isinstance(p, dict)] if isinstance(parts, list) else []


class QwenChatParser(SessionFileParser):
    agent = AGENT_QWEN

    def __init__(self, path: str, state: QwenState | None = None) -> None:
        self.path = path
        self.state = state or QwenState()
        super().__init__()

    def safe_state(self) -> QwenState:
        return self.state

    def feed(self, line: bytes | str, end_offset: int | None = None) -> None:
        record = self.json_line(line, end_offset)
        if record is None:
            return
        self.state.session_id = _str(record.get("sessionId")) or self.state.session_id
        self.state.cwd = _str(record.get("cwd")) or self.state.cwd
        sid = self.state.session_id
        if sid is None:
            return
        ts = parse_iso_ms(record.get("timestamp"))
        session = self.session(sid, ts, self.state.cwd)
        session.version = _str(record.get("version")) or session.version
        kind = record.get("type")
        if kind == "user":
            self._on_user(record, sid, ts)
        elif kind == "assistant":
            self._on_assistant(record, sid, ts)
        elif kind == "tool_result":
            self._on_tool_result(record, sid, ts)
        elif kind == "system":
            payload = record.get("systemPayload")
            event = payload.get("uiEvent") if isinstance(payload, dict) else None
            if record.get("subtype") == "ui_telemetry" and isinstance(event, dict):
                self._on_telemetry(event, sid, ts)
        else:
            self.stats.unknown_types[str(kind)] += 1

    def _on_user(self, record: Mapping[str, Any], sid: str, ts: int | None) -> None:
        if record.get("provenance") not in (None, "real_user"):
            return
        text = "\n".join(p["text"] for p in _parts(record) if isinstance(p.get("text"), str))
        kind = classify_prompt(text) if text else None
        if kind is None:
            return
        key = prompt_key(sid, text)
        prompt = self.prompt(key, sid, ts)
        prompt.kind = kind
        prompt.text = text
        prompt.line_uuid = _str(record.get("uuid"))
        self.state.prompt_id = key

    def _on_telemetry(self, event: Mapping[str, Any], sid: str, ts: int | None) -> None:
        name = event.get("event.name")
        if name == "qwen-code.api_response":
            response_id = _str(event.get("response_id"))
            values, total = qwen_counts(event, telemetry=True)
            if response_id is None or not any(values):
                return
            call = self.call(response_id, sid)
            call.request_id = response_id
            call.model = _str(event.get("model")) or call.model
            call.ts_ms = ts
            call.usage = qwen_usage(values, total)
            call.duration_ms = as_count(event.get("duration_ms")) or call.duration_ms
            call.ttft_ms = as_count(event.get("ttft_ms")) or call.ttft_ms
            call.prompt_id = self.state.prompt_id
            self.state.last_response = [usage_call_key(AGENT_QWEN, sid, values), response_id]
        elif name == "qwen-code.tool_call":
            call_id = _str(event.get("call_id"))
            if call_id is not None:
                tool = self.tool(call_id, sid)
                tool.duration_ms = as_count(event.get("duration_ms")) or tool.duration_ms
                tool.call_id = _str(event.get("response_id")) or tool.call_id

    def _on_assistant(self, record: Mapping[str, Any], sid: str, ts: int | None) -> None:
        usage = record.get("usageMetadata")
        key: str | None = None
        if isinstance(usage, dict):
            values, total = qwen_counts(usage, telemetry=False)
            if any(values):
                by_counts = usage_call_key(AGENT_QWEN, sid, values)
                last = self.state.last_response
                # The telemetry copy just before it names the response; without one (older
                # files) the counts key the call.
                key = last[1] if last and last[0] == by_counts else by_counts
                self.state.last_response = None
                call = self.call(key, sid)
                call.model = _str(record.get("model")) or call.model
                call.ts_ms = call.ts_ms or ts
                call.usage = qwen_usage(values, total)
                call.message_id = _str(record.get("uuid"))
                call.prompt_id = self.state.prompt_id
        texts: list[str] = []
        ids: list[str] = []
        for part in _parts(record):
            if isinstance(part.get("text"), str) and not part.get("thought"):
                texts.append(part["text"])
            fc = part.get("functionCall")
            if isinstance(fc, dict) and _str(fc.get("id")):
                tool = self.tool(fc["id"], sid)
                tool.tool_name = _str(fc.get("name"))
                tool.started_ms = ts
                tool.prompt_id = self.state.prompt_id
                tool.call_id = key or tool.call_id
                args = fc.get("args")
                if isinstance(args, dict):
                    tool.input_json = orjson.dumps(args).decode()
                    touch = kind_touch(tool.tool_name, args)
                    if touch is not None:
                        path, op = touch
                        self.touch(tool.tool_use_id, path, op, sid, ts)
                ids.append(fc["id"])
        if key is not None:
            call = self._calls[key]
            if texts:
                call.response_text = "\n".join(texts)
            if ids:
                call.tool_use_ids = tuple(ids)

    def _on_tool_result(self, record: Mapping[str, Any], sid: str, ts: int | None) -> None:
        result = record.get("toolCallResult")
        if not isinstance(result, dict) or not _str(result.get("callId")):
            return
        tool = self.tool(result["callId"], sid)
        tool.ended_ms = ts
        if tool.started_ms is not None and ts is not None and tool.duration_ms is None:
            tool.duration_ms = max(ts - tool.started_ms, 0)
        output: str | None = None
        for part in _parts(record):
            response = part.get("functionResponse", {}).get("response")
            if isinstance(response, dict):
                value = response.get("output", response.get("error"))
                output = value if isinstance(value, str) else output
        tool.output_text = output
        status = result.get("status")
        if status in ("success", "error", "cancelled"):
            tool.status = {"success": "success", "error": "error", "cancelled": "interrupted"}[status]  # type: ignore[assignment]
        display = result.get("resultDisplay")
        exit_code = display.get("exitCode") if isinstance(display, dict) else shell_exit_code(output)
        if isinstance(exit_code, int) and exit_code != 0:
            tool.status = "error"
        if tool.status == "error":
            tool.error = output
