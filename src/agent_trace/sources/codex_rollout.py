"""Codex CLI rollout files (`~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl`) → canonical records.

Pure: lines in, records out. Each line is `{"timestamp", "type", "payload"}` with type
`session_meta`, `turn_context`, `response_item`, `event_msg` or (0.17x) `token_usage_record`
(codex-rs `protocol::RolloutItem`). What is read, and why:

* LLM calls. A `token_usage_record` is one model response: its `usage` is that response's own
  counts, `turn_token_usage` / `thread_token_usage` are running sums (never added up here).
  Older files have only `event_msg` `token_count`: `info.last_token_usage` is the last response,
  `info.total_token_usage` the running sum; `info` may be null, and the same event can be
  written twice (a repeat has an unchanged running sum and is skipped). When a file has
  `token_usage_record` lines, its `token_count` events are the same responses again and are
  ignored. Keys and counting conventions: sources/codex_common.py.
* Prompts: what the user typed (`event_msg` `item_completed` with a UserMessage item, or the
  older `event_msg` `user_message`), not the environment context Codex adds as user text.
* Tool calls: `response_item` `function_call` / `custom_tool_call` / `local_shell_call` (input)
  and `*_output` (output), completed by `item_completed` (CommandExecution exit code, FileChange
  paths) or the older `exec_command_end` / `patch_apply_end` events. A shell command with a
  non-zero exit code is an error.
* The session: `session_meta` (id, cwd, CLI version, originator, git). A resumed session appends
  to the same file; a fork or an archived copy repeats lines whose keys merge in the store.
* Subagents: a thread another thread spawned has its own rollout file, whose `session_meta`
  says so: `source = {"subagent": {"thread_spawn": {"parent_thread_id", "depth", …}}}` with
  `agent_nickname` / `agent_role` (codex-rs `protocol::SessionSource::SubAgent`). Its records are
  rolled into the parent thread's session with the child thread id as agent id (as Claude Code's
  subagents are); its calls keep their own thread in their key. Its "prompt" is the task the
  parent wrote, not a human turn: not a prompt.

Every line is complete on its own, so a later import can resume after any line: the state
between lines is only the session, the model, the current turn and the tools awaiting their
response's usage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from agent_trace.domain.prompts import classify_prompt
from agent_trace.domain.records import AGENT_CODEX, Session, ToolCall
from agent_trace.domain.timeutil import parse_iso_ms
from agent_trace.domain.tools import patch_paths, tool_kind
from agent_trace.sources.codex_common import (
    call_key,
    counts,
    exit_code_in,
    prompt_key,
    usage_of,
)
from agent_trace.sources.session_files import SessionFileParser

_TOOL_ITEMS = frozenset({"function_call", "custom_tool_call", "local_shell_call"})
_TOOL_OUTPUTS = frozenset({"function_call_output", "custom_tool_call_output"})
_KNOWN_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "token_usage_record"})
# Rollout items that carry nothing billed or typed: the model-visible world state, compaction
# summaries (their request is billed by its own token_usage_record).
_IGNORED_TYPES = frozenset({"world_state", "compacted"})
_SKIPPED_HEAD = re.compile(
    rb'"type": ?"(?:world_state|compacted)"'
    rb'|"type": ?"response_item", ?"payload": ?\{"type": ?"(?:message|reasoning|ghost_snapshot)"'
)
_MAX_TURNS = 64  # turn → prompt links kept in the state (a turn's lines are close together)


@dataclass
class CodexState:
    """What a later chunk of the same file needs from the earlier ones (JSON-safe)."""

    session_id: str | None = None
    parent_id: str | None = None  # the parent thread, for a spawned subagent thread
    cwd: str | None = None
    model: str | None = None
    turn_id: str | None = None
    turn_prompts: dict[str, str] = field(default_factory=dict)
    pending_tools: list[str] = field(default_factory=list)  # asked for by the response not yet billed
    has_usage_records: bool = False
    last_total: list[int] | None = None  # the last token_count running sum (repeats are skipped)
    # Older files write a response's token_count BEFORE its items: the tools that follow belong
    # to this call (newer files write the usage record after the items: pending_tools).
    last_call: str | None = None
    prompt_id: str | None = None  # the last prompt (older files' turns carry no turn id)
    tool_names: dict[str, str] = field(default_factory=dict)  # recent call id → tool name

    def to_json(self) -> dict[str, Any]:
        # Shallow copies (asdict deep-copies, which costs more than a small file's parse).
        out = {name: getattr(self, name) for name in self.__dataclass_fields__}
        out["turn_prompts"] = dict(self.turn_prompts)
        out["pending_tools"] = list(self.pending_tools)
        out["tool_names"] = dict(self.tool_names)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> CodexState:
        if not data:
            return cls()
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _dumps(value: object) -> str:
    return orjson.dumps(value).decode()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def spawned_by(meta: Mapping[str, Any]) -> str | None:
    """The parent thread of a `session_meta` whose source is a spawned subagent thread."""
    source = meta.get("source")
    sub = source.get("subagent") if isinstance(source, dict) else None
    spawn = sub.get("thread_spawn") if isinstance(sub, dict) else None
    return _str(spawn.get("parent_thread_id")) if isinstance(spawn, dict) else None


def session_hint(path: str) -> str | None:
    """The session id at the end of a rollout file name (`rollout-<time>-<uuid>.jsonl`)."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    if not name.startswith("rollout-") or not name.endswith(".jsonl"):
        return None
    stem = name[: -len(".jsonl")]
    return stem[-36:] if len(stem) >= 36 + len("rollout-") and stem[-36:].count("-") == 4 else None


class CodexRolloutParser(SessionFileParser):
    """Feeds the lines of one rollout file and accumulates canonical records."""

    agent = AGENT_CODEX

    def __init__(self, path: str, state: CodexState | None = None) -> None:
        self.path = path
        self.state = state or CodexState()
        if self.state.session_id is None:
            self.state.session_id = session_hint(path)
        super().__init__()

    def safe_state(self) -> CodexState:
        return self.state  # every line is complete on its own: the state after it is safe

    # -- records -------------------------------------------------------------------------------

    def _owner(self) -> tuple[str | None, str | None]:
        """(session the records go to, agent id): a subagent thread's go to its parent's."""
        if self.state.parent_id is not None:
            return self.state.parent_id, self.state.session_id
        return self.state.session_id, None

    def _session(self, ts: int | None) -> Session | None:
        sid, agent_id = self._owner()
        if sid is None:
            return None
        if agent_id is not None:
            self.subagent(sid, agent_id, ts)
            return None
        session = self.session(sid, ts)
        session.cwd = session.cwd or self.state.cwd
        return session

    def _tool(self, tool_use_id: str) -> ToolCall | None:
        sid, agent_id = self._owner()
        if sid is None:
            return None
        tool = self.tool(tool_use_id, sid)
        tool.agent_id = agent_id
        return tool

    def _touch(self, tool_use_id: str, path: str, ts: int | None) -> None:
        sid, _agent_id = self._owner()
        if sid is None:
            return
        if not path.startswith("/") and self.state.cwd:
            path = self.state.cwd.rstrip("/") + "/" + path
        self.touch(tool_use_id, path, "write", sid, ts)

    # -- the line loop -------------------------------------------------------------------------

    def feed(self, line: bytes | str, end_offset: int | None = None) -> None:
        head = line[:160] if isinstance(line, bytes) else line[:160].encode()
        if len(line) > 4 and _SKIPPED_HEAD.search(head):
            # The model-visible conversation items (instructions, context, message text: the
            # biggest lines) and the world state carry nothing read here: not even parsed.
            self.stats.lines += 1
            self.stats.records += 1
            if end_offset is not None:
                self.safe_offset = end_offset
            return
        record = self.json_line(line, end_offset)
        if record is None:
            return
        if not isinstance(record.get("payload"), dict):
            self.stats.records -= 1
            self.stats.malformed += 1
            return
        kind = record.get("type")
        if kind in _IGNORED_TYPES:
            return
        if kind not in _KNOWN_TYPES:
            self.stats.records -= 1
            self.stats.unknown_types[str(kind)] += 1
            return
        ts = parse_iso_ms(record.get("timestamp"))
        payload: dict[str, Any] = record["payload"]
        if kind == "session_meta":
            self._on_session_meta(payload, ts)
        elif kind == "turn_context":
            self.state.model = _str(payload.get("model")) or self.state.model
            self.state.cwd = _str(payload.get("cwd")) or self.state.cwd
            self._set_turn(_str(payload.get("turn_id")))
        elif kind == "token_usage_record":
            self.state.has_usage_records = True
            usage = payload.get("usage")
            if isinstance(usage, dict):
                thread = _str(payload.get("thread_id")) or self.state.session_id
                self._on_usage(
                    usage, thread, _str(payload.get("response_id")), ts, _str(payload.get("turn_id"))
                )
        elif kind == "response_item":
            self._on_response_item(payload, ts)
        else:
            self._on_event(payload, ts)

    def _set_turn(self, turn_id: str | None) -> None:
        if turn_id:
            self.state.turn_id = turn_id

    def _on_session_meta(self, payload: Mapping[str, Any], ts: int | None) -> None:
        # A fork's file starts with its own session_meta and may repeat the parent's: the first wins.
        first = self.state.session_id is None or self.state.session_id == _str(payload.get("id"))
        if self.state.session_id is None:
            self.state.session_id = _str(payload.get("id")) or _str(payload.get("session_id"))
        if not first:
            return
        self.state.cwd = _str(payload.get("cwd")) or self.state.cwd
        self.state.parent_id = spawned_by(payload) or self.state.parent_id
        started = parse_iso_ms(payload.get("timestamp")) or ts
        if self.state.parent_id is not None and self.state.session_id is not None:
            sub = self.subagent(self.state.parent_id, self.state.session_id, started)
            sub.agent_type = _str(payload.get("agent_role"))
            sub.description = _str(payload.get("agent_nickname"))
            return
        session = self._session(started)
        if session is None:
            return
        session.project = self.state.cwd
        session.cwd = self.state.cwd
        session.version = _str(payload.get("cli_version"))
        session.entrypoint = _str(payload.get("originator"))
        git = payload.get("git")
        if isinstance(git, dict):
            session.git_branch = _str(git.get("branch"))
            session.git_head = _str(git.get("commit_hash"))
            session.git_repo = _str(git.get("repository_url"))

    def _on_usage(
        self,
        raw: Mapping[str, Any],
        thread: str | None,
        response_id: str | None,
        ts: int | None,
        turn_id: str | None,
    ) -> None:
        sid, agent_id = self._owner()
        values = counts(raw)
        if sid is None or thread is None or not any(values):
            return
        key = call_key(thread, values)
        call = self.call(key, sid)
        call.agent_id = agent_id
        call.is_sidechain = agent_id is not None
        call.request_id = response_id or call.request_id
        call.model = self.state.model
        call.ts_ms = ts
        call.usage = usage_of(values)
        if agent_id is None:
            call.prompt_id = (
                self.state.turn_prompts.get(turn_id or self.state.turn_id or "") or self.state.prompt_id
            )
        if self.state.pending_tools:
            call.tool_use_ids = tuple(self.state.pending_tools)
            for tool_use_id in self.state.pending_tools:
                tool = self._tool(tool_use_id)
                if tool is not None:
                    tool.call_id = key
            self.state.pending_tools = []
        self._session(ts)

    def _on_response_item(self, payload: Mapping[str, Any], ts: int | None) -> None:
        kind = payload.get("type")
        if kind in _TOOL_ITEMS:
            self._on_tool_call(payload, kind, ts)
        elif kind in _TOOL_OUTPUTS:
            self._on_tool_output(payload, ts)

    def _on_tool_call(self, payload: Mapping[str, Any], kind: object, ts: int | None) -> None:
        """A function, custom tool or local shell call: its tool call, input and touched files."""
        call_id = _str(payload.get("call_id")) or _str(payload.get("id"))
        if call_id is None:
            return
        tool = self._tool(call_id)
        if tool is None:
            return
        name = _str(payload.get("name")) or ("local_shell" if kind == "local_shell_call" else None)
        tool.tool_name = name
        if name:
            self.state.tool_names[call_id] = name
            while len(self.state.tool_names) > _MAX_TURNS:
                self.state.tool_names.pop(next(iter(self.state.tool_names)))
        tool.started_ms = ts
        tool.prompt_id = self.state.turn_prompts.get(self.state.turn_id or "")
        if kind == "custom_tool_call":
            raw_input = payload.get("input")
            tool.input_json = _dumps({"input": raw_input}) if isinstance(raw_input, str) else None
            if name == "apply_patch" and isinstance(raw_input, str):
                for path in patch_paths(raw_input):
                    self._touch(call_id, path, ts)
        elif kind == "local_shell_call":
            tool.input_json = _dumps(payload.get("action"))
        else:
            arguments = payload.get("arguments")
            tool.input_json = arguments if isinstance(arguments, str) else _dumps(arguments)
            if name == "apply_patch" and isinstance(arguments, str):
                try:
                    parsed = orjson.loads(arguments)
                except orjson.JSONDecodeError:
                    parsed = None
                if isinstance(parsed, dict) and isinstance(parsed.get("input"), str):
                    for path in patch_paths(parsed["input"]):
                        self._touch(call_id, path, ts)
        last_call = self.state.last_call
        if last_call is not None and not self.state.has_usage_records:
            tool.call_id = last_call
            found = self._calls.get(last_call)
            if found is not None and call_id not in found.tool_use_ids:
                found.tool_use_ids = (*found.tool_use_ids, call_id)
        elif call_id not in self.state.pending_tools:
            self.state.pending_tools.append(call_id)
        self._session(ts)

    def _on_tool_output(self, payload: Mapping[str, Any], ts: int | None) -> None:
        """A call's output: its text, end, and status (from the exit code where there is one)."""
        call_id = _str(payload.get("call_id"))
        tool = self._tool(call_id) if call_id else None
        if tool is None:
            return
        output = payload.get("output")
        if isinstance(output, dict):  # older files: {"content": ..., "success": ...}
            success = output.get("success")
            output = output.get("content")
            if success is False and tool.status is None:
                tool.status = "error"
        code = None
        if isinstance(output, str) and output.startswith('{"output"'):
            # 0.6x shell results: {"output": text, "metadata": {"exit_code": n, ...}}
            try:
                wrapped = orjson.loads(output)
            except orjson.JSONDecodeError:
                wrapped = None
            if isinstance(wrapped, dict) and isinstance(wrapped.get("output"), str):
                output = wrapped["output"]
                meta = wrapped.get("metadata")
                if isinstance(meta, dict) and isinstance(meta.get("exit_code"), int):
                    code = meta["exit_code"]
        text = output if isinstance(output, str) else _dumps(output) if output is not None else None
        tool.output_text = text
        tool.ended_ms = ts
        name = tool.tool_name or self.state.tool_names.get(tool.tool_use_id)
        if code is None and tool_kind(name) in ("shell", "edit"):
            code = exit_code_in(text)
        if code is not None:
            tool.status = "success" if code == 0 else "error"
        elif tool.status is None:
            tool.status = "success"
        if tool.status == "error":
            tool.error = text
        if tool.started_ms is not None and ts is not None:
            tool.duration_ms = max(ts - tool.started_ms, 0)

    def _on_event(self, payload: Mapping[str, Any], ts: int | None) -> None:
        kind = payload.get("type")
        if kind == "task_started":
            self._set_turn(_str(payload.get("turn_id")))
        elif kind == "item_completed":
            self._set_turn(_str(payload.get("turn_id")))
            item = payload.get("item")
            if isinstance(item, dict):
                self._on_item(item, payload, ts)
        elif kind == "user_message":
            message = payload.get("message")
            if isinstance(message, str):
                self._on_prompt(message, ts)
        elif kind == "token_count" and not self.state.has_usage_records:
            info = payload.get("info")
            if not isinstance(info, dict):
                return
            total, last = info.get("total_token_usage"), info.get("last_token_usage")
            if not isinstance(last, dict):
                return
            running = list(counts(total)) if isinstance(total, dict) else None
            if running is not None and running == self.state.last_total:
                return  # the same event written again
            self.state.last_total = running
            self._on_usage(last, self.state.session_id, None, ts, None)
            if self.state.session_id is not None and any(counts(last)):
                self.state.last_call = call_key(self.state.session_id, counts(last))
        elif kind == "exec_command_end":
            call_id = _str(payload.get("call_id"))
            tool = self._tool(call_id) if call_id else None
            if tool is not None and isinstance(payload.get("exit_code"), int):
                tool.status = "success" if payload["exit_code"] == 0 else "error"
        elif kind == "patch_apply_end":
            call_id = _str(payload.get("call_id"))
            tool = self._tool(call_id) if call_id else None
            if tool is not None and isinstance(payload.get("success"), bool):
                tool.status = "success" if payload["success"] else "error"
        elif kind == "task_complete":
            self._session(ts)

    def _on_item(self, item: Mapping[str, Any], payload: Mapping[str, Any], ts: int | None) -> None:
        kind = item.get("type")
        if kind == "UserMessage":
            parts = item.get("content")
            texts = (
                [p["text"] for p in parts or [] if isinstance(p, dict) and isinstance(p.get("text"), str)]
                if isinstance(parts, list)
                else []
            )
            if texts:
                started = payload.get("started_at_ms")
                self._on_prompt("\n".join(texts), started if isinstance(started, int) else ts)
        elif kind in ("CommandExecution", "FileChange"):
            call_id = _str(item.get("id"))
            tool = self._tool(call_id) if call_id else None
            if tool is None:
                return
            started, completed = payload.get("started_at_ms"), payload.get("completed_at_ms")
            if isinstance(started, int) and isinstance(completed, int):
                tool.duration_ms = max(completed - started, 0)
            status = item.get("status")
            if kind == "CommandExecution" and isinstance(item.get("exit_code"), int):
                tool.status = "success" if item["exit_code"] == 0 else "error"
            elif status in ("failed", "declined"):
                tool.status = "error" if status == "failed" else "denied"
            elif status == "completed" and tool.status is None:
                tool.status = "success"
            changes = item.get("changes")
            if kind == "FileChange" and isinstance(changes, dict):
                for path in changes:
                    if isinstance(path, str) and path:
                        self._touch(tool.tool_use_id, path, ts)

    def _on_prompt(self, text: str, ts: int | None) -> None:
        sid = self.state.session_id
        kind = classify_prompt(text)
        if sid is None or kind is None or self.state.parent_id is not None:
            return
        key = prompt_key(sid, text)
        prompt = self.prompt(key, sid, ts)
        prompt.kind = kind
        prompt.text = text
        self.state.prompt_id = key
        if self.state.turn_id:
            self.state.turn_prompts[self.state.turn_id] = key
            while len(self.state.turn_prompts) > _MAX_TURNS:
                self.state.turn_prompts.pop(next(iter(self.state.turn_prompts)))
        self._session(ts)
