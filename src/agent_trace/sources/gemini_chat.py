"""Gemini CLI chat files (`~/.gemini/tmp/<project>/chats/session-*.jsonl`, older `.json`) →
canonical records. Pure: lines in, records out.

The format, from gemini-cli `packages/core/src/services/chatRecordingService.ts` and files our
own runs of 0.61.0 wrote:

* `.jsonl` is an operation log: a first line of session metadata (`sessionId`, `projectHash`,
  `startTime`, `kind` main|subagent), message records keyed by `id` (a message is appended again
  whole when it changes — tokens first, then its `toolCalls` — so a later copy adds to an earlier
  one), `{"$set": {...}}` metadata updates whose optional `messages` list is a checkpoint that
  repeats messages, and `{"$rewindTo": id}` that truncates the conversation. A rewound message
  was still billed, so nothing is taken back here.
* `.json` (older) is one ConversationRecord document with a `messages` list.
* `gemini` messages carry `tokens` {input, output, cached, thoughts, tool, total} — the Gemini
  API's `usageMetadata`: `input` (promptTokenCount) INCLUDES `cached`; `thoughts` are NOT part of
  `output` (candidates) and are billed as output; `tool` (toolUsePromptTokenCount) is billed as
  input. Canonical: input = input - cached + tool, cache reads = cached, output = output + thoughts.
* LLM calls are keyed by thread and exact counts (sources/usage_keys.py), like Gemini CLI's
  telemetry (`gemini_cli.api_response`) can key them; prompts by the digest of their text.
* A subagent writes its own file, `chats/<parent session id>/<subagent session id>.jsonl`
  (`kind: subagent`): its records go to the parent session with the subagent's id as agent id,
  and a subagent record; its "user" message is the task the parent wrote, not a prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import orjson

from agent_trace.domain.prompts import classify_prompt
from agent_trace.domain.records import (
    AGENT_GEMINI,
    RecordBatch,
    Session,
    Usage,
)
from agent_trace.domain.timeutil import parse_iso_ms
from agent_trace.domain.tools import kind_touch, tool_kind
from agent_trace.sources.session_files import SessionFileParser
from agent_trace.sources.usage_keys import as_count, text_prompt_key, usage_call_key

# Text Gemini CLI itself sends as the user: the workspace context at a session's start.
_NOT_PROMPTS = ("<session_context>", "<state_snapshot>")
_EXIT_CODE_MARK = "Exit Code: "


def gemini_counts(tokens: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    """(input incl. cached, cached, output, thoughts, tool) of a `tokens` / usage map."""
    return (
        as_count(tokens.get("input")),
        as_count(tokens.get("cached")),
        as_count(tokens.get("output")),
        as_count(tokens.get("thoughts")),
        as_count(tokens.get("tool")),
    )


def thoughts_inside(values: tuple[int, int, int, int, int], total: int, default: bool) -> bool:
    """Whether the output count already holds the thoughts. The Gemini API counts them apart
    (total = prompt + candidates + thoughts + tool); an OpenAI-compatible backend converted by
    Qwen Code puts reasoning inside the completion count (total = prompt + candidates). The total
    tells which; without one, the agent's own convention (`default`) holds."""
    inp, _cached, out, thoughts, tool = values
    if not thoughts or not total:
        return default
    if total == inp + out + tool:
        return True
    if total == inp + out + thoughts + tool:
        return False
    return default


def gemini_usage(values: tuple[int, int, int, int, int], thoughts_in_output: bool = False) -> Usage:
    """Canonical usage: cached tokens moved out of input, tool-use prompt tokens into input,
    thoughts billed as output (added unless the output count holds them already)."""
    inp, cached, out, thoughts, tool = values
    cached = min(cached, inp)
    output = out if thoughts_in_output else out + thoughts
    return Usage(input_tokens=inp - cached + tool, output_tokens=output, cache_read_tokens=cached)


def call_key(thread_id: str, values: tuple[int, int, int, int, int]) -> str:
    return usage_call_key(AGENT_GEMINI, thread_id, values)


def prompt_key(session_id: str, text: str) -> str:
    return text_prompt_key(AGENT_GEMINI, session_id, text)


def shell_exit_code(output: str | None) -> int | None:
    """The exit code run_shell_command reports in its output (`Exit Code: N`; none when 0)."""
    if not output:
        return None
    at = output.find(_EXIT_CODE_MARK)
    if at < 0:
        return 0 if "Output:" in output[:200] else None
    digits = output[at + len(_EXIT_CODE_MARK) :].split("\n", 1)[0].strip()
    return int(digits) if digits.lstrip("-").isdigit() else None


def is_chat_file(path: str) -> bool:
    """A Gemini CLI chat file: `session-*.json(l)` in a `chats` folder, or a subagent's
    `chats/<parent session>/<subagent session>.jsonl` (0.61: no `session-` prefix there)."""
    parts = path.replace("\\", "/").split("/")
    name = parts[-1]
    if len(parts) >= 3 and parts[-3] == "chats" and name.endswith(".jsonl"):
        return True
    return name.startswith("session-") and name.endswith((".json", ".jsonl")) and "chats" in parts[-3:-1]


@dataclass
class GeminiState:
    session_id: str | None = None
    parent_session: str | None = None  # a subagent file's parent session (its folder name)
    project: str | None = None
    prompt_id: str | None = None  # the prompt the next calls answer

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> GeminiState:
        if not data:
            return cls()
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


class GeminiChatParser(SessionFileParser):
    """Feeds one chat file (JSONL lines, or the lines of a `.json` document) into records."""

    agent = AGENT_GEMINI

    def __init__(self, path: str, state: GeminiState | None = None, project: str | None = None) -> None:
        self.path = path
        self.document = path.endswith(".json")
        self.state = state or GeminiState()
        if project and not self.state.project:
            self.state.project = project
        parts = path.replace("\\", "/").split("/")
        if len(parts) >= 3 and parts[-3] == "chats" and not self.state.parent_session:
            self.state.parent_session = parts[-2]  # chats/<parent session>/<subagent>.jsonl
        self._buffer: list[bytes] = []
        super().__init__()

    def start_at(self, offset: int) -> None:
        self.safe_offset = 0 if self.document else offset

    def safe_state(self) -> GeminiState:
        return self.state

    def take_batch(self) -> RecordBatch:
        if self.document and self._buffer:
            self._parse_document()
        return super().take_batch()

    # -- input ---------------------------------------------------------------------------------

    def feed(self, line: bytes | str, end_offset: int | None = None) -> None:
        if self.document:
            # A .json file is rewritten whole: it is read whole, from its start, every time.
            self.stats.lines += 1
            self._buffer.append(line.encode() if isinstance(line, str) else line)
            return
        record = self.json_line(line, end_offset)
        if record is not None:
            self._on_record(record)

    def _parse_document(self) -> None:
        raw = b"".join(self._buffer)
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return  # not complete yet: the rest comes with the next chunk (or counts as malformed)
        self._buffer.clear()
        if not isinstance(doc, dict):
            self.stats.malformed += 1
            return
        self.stats.records += 1
        self._on_meta(doc)
        for message in doc.get("messages") or []:
            if isinstance(message, dict):
                self._on_message(message)

    def finish(self) -> None:
        """A `.json` document that never parsed is malformed."""
        if self.document and self._buffer:
            self._parse_document()
            if self._buffer:
                self.stats.malformed += 1
                self._buffer.clear()

    # -- records -------------------------------------------------------------------------------

    def _on_record(self, record: dict[str, Any]) -> None:
        if "$rewindTo" in record:
            return  # the rewound calls were billed: they stay
        update = record.get("$set")
        if isinstance(update, dict):
            for message in update.get("messages") or []:
                if isinstance(message, dict):
                    self._on_message(message)
            return
        if isinstance(record.get("sessionId"), str) and "type" not in record:
            self._on_meta(record)
            return
        if isinstance(record.get("id"), str):
            self._on_message(record)
            return
        self.stats.unknown_types[str(record.get("type", "<no type>"))] += 1

    @property
    def _sid(self) -> str | None:
        return self.state.parent_session or self.state.session_id

    def _session(self, ts: int | None) -> Session | None:
        sid = self._sid
        return None if sid is None else self.session(sid, ts, self.state.project)

    def _on_meta(self, meta: Mapping[str, Any]) -> None:
        self.state.session_id = self.state.session_id or _str(meta.get("sessionId"))
        if meta.get("kind") != "subagent" and self.state.parent_session == self.state.session_id:
            self.state.parent_session = None
        if meta.get("kind") == "main":
            self.state.parent_session = None
        started = parse_iso_ms(meta.get("startTime"))
        if self.state.parent_session and self.state.session_id:
            self.subagent(self.state.parent_session, self.state.session_id, started)
        self._session(started)

    def _on_message(self, message: Mapping[str, Any]) -> None:
        kind = message.get("type")
        ts = parse_iso_ms(message.get("timestamp"))
        sid = self._sid
        if sid is None:
            return
        if kind == "user":
            if self.state.parent_session:
                return  # a subagent's "user" text is the task its parent wrote, not a human turn
            text = _text(message.get("content"))
            if not text or text.lstrip().startswith(_NOT_PROMPTS):
                return
            prompt_kind = classify_prompt(text)
            if prompt_kind is None:
                return
            key = prompt_key(sid, text)
            prompt = self.prompt(key, sid, ts)
            prompt.kind = prompt_kind
            prompt.text = text
            self.state.prompt_id = key
            self._session(ts)
        elif kind == "gemini":
            self._on_gemini(message, sid, ts)

    def _on_gemini(self, message: Mapping[str, Any], sid: str, ts: int | None) -> None:
        tokens = message.get("tokens")
        key: str | None = None
        if isinstance(tokens, dict):
            values = gemini_counts(tokens)
            if any(values):
                # The main session is the thread, a subagent's requests included: Gemini CLI's
                # telemetry names only that session, so both channels build the same key.
                key = call_key(sid, values)
                call = self.call(key, sid)
                call.message_id = _str(message.get("id"))
                call.model = _str(message.get("model"))
                call.ts_ms = ts
                call.usage = gemini_usage(
                    values, thoughts_inside(values, as_count(tokens.get("total")), False)
                )
                call.prompt_id = self.state.prompt_id
                call.is_sidechain = self.state.parent_session is not None
                call.agent_id = self.state.session_id if self.state.parent_session else None
                text = _text(message.get("content"))
                if text:
                    call.response_text = text
        self._session(ts)
        calls = message.get("toolCalls")
        if not isinstance(calls, list):
            return
        ids: list[str] = []
        for entry in calls:
            if isinstance(entry, dict) and _str(entry.get("id")):
                self._on_tool(entry, sid, key, ts)
                ids.append(entry["id"])
        if key is not None and ids:
            self._calls[key].tool_use_ids = tuple(ids)

    def _on_tool(self, entry: Mapping[str, Any], sid: str, call_id: str | None, ts: int | None) -> None:
        tool_use_id: str = entry["id"]
        tool = self.tool(tool_use_id, sid)
        name = _str(entry.get("name"))
        tool.tool_name = name
        tool.call_id = call_id or tool.call_id
        tool.prompt_id = self.state.prompt_id
        tool.agent_id = self.state.session_id if self.state.parent_session else None
        args = entry.get("args")
        if isinstance(args, dict):
            tool.input_json = orjson.dumps(args).decode()
            touch = kind_touch(name, args)
            if touch is not None:
                self.touch(tool_use_id, touch[0], touch[1], sid, ts)
        tool.started_ms = ts
        ended = parse_iso_ms(entry.get("timestamp"))
        if ended is not None:
            tool.ended_ms = ended
            if ts is not None:
                tool.duration_ms = max(ended - ts, 0)
        output = _tool_output(entry.get("result"))
        if output is not None:
            tool.output_text = output
        status = entry.get("status")
        if status in ("success", "error", "cancelled"):
            tool.status = {"success": "success", "error": "error", "cancelled": "interrupted"}[status]  # type: ignore[assignment]
            code = shell_exit_code(output) if tool_kind(name) == "shell" else None
            if code:
                tool.status = "error"
            if tool.status == "error":
                tool.error = output


def _tool_output(result: Any) -> str | None:
    """The text a tool returned to the model (its functionResponse's `output` or `error`)."""
    if not isinstance(result, list):
        return None
    texts: list[str] = []
    for part in result:
        response = part.get("functionResponse", {}).get("response") if isinstance(part, dict) else None
        if isinstance(response, dict):
            value = response.get("output", response.get("error"))
            if isinstance(value, str):
                texts.append(value)
    return "\n".join(texts) if texts else None
