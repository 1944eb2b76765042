"""OpenCode's session store (rows of its SQLite `opencode.db`, or the JSON files of its older
`storage/` folder — the same objects) → canonical records. Pure: dicts in, records out.

What the rows hold (OpenCode `packages/opencode/src/session`, and the database our own runs of
1.18.33 wrote): a `session` (id, `parent_id` for a child session a task spawned, directory,
title, version), `message`s (`data.role` user|assistant; an assistant message carries
`modelID`, `providerID`, `parentID` = the user message it answers, `tokens`, `cost`) and `part`s
(`text`, `tool` with `callID`/`tool`/`state`, `step-start`, `step-finish` with `tokens`).

* One model request is one step: its `step-finish` part has that request's own `tokens`. A
  message that took several steps keeps only the last step's tokens on the message, so calls are
  read from the step-finish parts (keyed by the part id); a message with no step parts (older
  stores) is one call keyed by the message id.
* `tokens.input` EXCLUDES the cache (`cache.read`, `cache.write` are apart) and `tokens.output`
  EXCLUDES `tokens.reasoning`, which is billed as output: canonical output = output + reasoning.
* A child session (`parent_id`) is rolled into its root session as a subagent: its calls and
  tools carry the child's id as agent id.
* A prompt is a user message (its text parts, synthetic ones excepted), keyed by its id.

The same objects also come whole — a session `Info`, a message `Info`, a `Part` as OpenCode's
API, its event bus and its older `storage/` JSON files hold them: `session_row`, `message_row`
and `part_row` turn them into rows exactly as OpenCode's own JSON → SQLite migration does
(`packages/opencode/src/storage/json-migration.ts`), so every channel goes through one mapping
and names every fact with the same key.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from agent_trace.domain.prompts import classify_prompt
from agent_trace.domain.records import (
    AGENT_OPENCODE,
    NANO_PER_USD,
    FileTouch,
    LlmCall,
    Prompt,
    RecordBatch,
    Session,
    Subagent,
    ToolCall,
    Usage,
)
from agent_trace.domain.tools import kind_touch
from agent_trace.sources.usage_keys import as_count

_STATUS = {"completed": "success", "error": "error"}


def opencode_usage(tokens: Mapping[str, Any]) -> Usage:
    cache = _dict(tokens.get("cache"))
    written = as_count(cache.get("write"))
    return Usage(
        input_tokens=as_count(tokens.get("input")),
        output_tokens=as_count(tokens.get("output")) + as_count(tokens.get("reasoning")),
        cache_creation_tokens=written,
        cache_5m_tokens=written,
        cache_read_tokens=as_count(cache.get("read")),
    )


def _created_updated(obj: Mapping[str, Any]) -> tuple[int | None, int | None]:
    times = _dict(obj.get("time"))
    return _int(times.get("created")), _int(times.get("updated"))


def session_row(info: Mapping[str, Any], session_id: str | None = None) -> dict[str, Any]:
    """A session `Info` (`parentID`, `time.created` …) as its `session` row."""
    created, updated = _created_updated(info)
    return {
        "id": session_id or _str(info.get("id")),
        "parent_id": _str(info.get("parentID")),
        "directory": _str(info.get("directory")),
        "title": _str(info.get("title")),
        "version": _str(info.get("version")),
        "time_created": created,
        "time_updated": updated if updated is not None else created,
    }


def message_row(info: Mapping[str, Any], session_id: str | None = None) -> dict[str, Any]:
    """A message `Info` as its `message` row (the object itself is the row's `data`)."""
    created, updated = _created_updated(info)
    return {
        "id": _str(info.get("id")),
        "session_id": session_id or _str(info.get("sessionID")),
        "time_created": created,
        "time_updated": updated if updated is not None else created,
        "data": info,
    }


def part_row(
    part: Mapping[str, Any],
    message_id: str | None = None,
    session_id: str | None = None,
    seen: tuple[int | None, int | None] = (None, None),
) -> dict[str, Any]:
    """A `Part` as its `part` row. A part has no time of its own (OpenCode stamps the row when it
    writes it): `seen` is when it was first and last seen, where the caller knows that."""
    created, updated = _created_updated(part)
    return {
        "id": _str(part.get("id")),
        "message_id": message_id or _str(part.get("messageID")),
        "session_id": session_id or _str(part.get("sessionID")),
        "time_created": created if created is not None else seen[0],
        "time_updated": updated if updated is not None else seen[1],
        "data": part,
    }


def _data(row: Mapping[str, Any]) -> dict[str, Any]:
    data = row.get("data")
    if isinstance(data, str | bytes):
        try:
            data = orjson.loads(data)
        except orjson.JSONDecodeError:
            return {}
    return data if isinstance(data, dict) else {}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class OpencodeRows:
    """Turns the rows of one read into records; `sessions` must hold every session (roots of
    child sessions included), `messages` and `parts` may be the changed ones only."""

    def __init__(self, sessions: Iterable[Mapping[str, Any]]) -> None:
        self.sessions = {str(s["id"]): s for s in sessions if s.get("id")}

    def root_of(self, session_id: str) -> str:
        seen = {session_id}
        current = session_id
        while True:
            parent = _str(self.sessions.get(current, {}).get("parent_id"))
            if parent is None or parent in seen:
                return current
            seen.add(parent)
            current = parent

    def records(
        self, messages: Iterable[Mapping[str, Any]], parts: Iterable[Mapping[str, Any]]
    ) -> RecordBatch:
        batch = RecordBatch()
        msgs = {str(m["id"]): m for m in messages if m.get("id")}
        msg_data = {mid: _data(m) for mid, m in msgs.items()}
        by_message: dict[str, list[tuple[str, dict[str, Any], Mapping[str, Any]]]] = {}
        for part in parts:
            pid, mid = _str(part.get("id")), _str(part.get("message_id"))
            if pid and mid:
                by_message.setdefault(mid, []).append((pid, _data(part), part))
        touched_sessions: set[str] = set()
        for mid in sorted(set(msgs) | set(by_message)):
            row = msgs.get(mid)
            data = msg_data.get(mid, {})
            own_session = _str((row or {}).get("session_id")) or next(
                (_str(p[2].get("session_id")) for p in by_message.get(mid, [])), None
            )
            if own_session is None:
                continue
            root = self.root_of(own_session)
            agent_id = own_session if root != own_session else None
            touched_sessions.add(own_session)
            created = _int(_dict(data.get("time")).get("created")) or _int((row or {}).get("time_created"))
            if data.get("role") == "user":
                self._prompt(batch, mid, root, created, by_message.get(mid, []), agent_id)
            elif data.get("role") == "assistant" or by_message.get(mid):
                self._assistant(batch, mid, data, root, agent_id, created, sorted(by_message.get(mid, [])))
        for sid in touched_sessions:
            self._session(batch, sid)
        return batch

    def _session(self, batch: RecordBatch, sid: str) -> None:
        row = self.sessions.get(sid)
        root = self.root_of(sid)
        if row is None:
            batch.sessions.append(Session(session_id=root, agent=AGENT_OPENCODE))
            return
        created, updated = _int(row.get("time_created")), _int(row.get("time_updated"))
        if root != sid:
            batch.subagents.append(
                Subagent(
                    session_id=root,
                    agent_id=sid,
                    description=_str(row.get("title")),
                    started_ms=created,
                    ended_ms=updated,
                )
            )
            return
        directory = _str(row.get("directory"))
        batch.sessions.append(
            Session(
                session_id=sid,
                agent=AGENT_OPENCODE,
                project=directory,
                cwd=directory,
                title=_str(row.get("title")),
                version=_str(row.get("version")),
                started_ms=created,
                ended_ms=updated,
            )
        )

    def _prompt(
        self,
        batch: RecordBatch,
        mid: str,
        sid: str,
        ts: int | None,
        parts: list[tuple[str, dict[str, Any], Mapping[str, Any]]],
        agent_id: str | None,
    ) -> None:
        if agent_id is not None:
            return  # a child session's "user" message is the task prompt its parent wrote
        texts = [
            d["text"]
            for _, d, _ in sorted(parts, key=lambda p: p[0])
            if d.get("type") == "text" and isinstance(d.get("text"), str) and not d.get("synthetic")
        ]
        text = "\n".join(texts)
        kind = classify_prompt(text) if text else None
        if not parts or (text and kind is None):
            return
        batch.prompts.append(Prompt(mid, sid, ts_ms=ts, kind=kind, text=text or None))

    def _assistant(
        self,
        batch: RecordBatch,
        mid: str,
        data: Mapping[str, Any],
        sid: str,
        agent_id: str | None,
        created: int | None,
        parts: list[tuple[str, dict[str, Any], Mapping[str, Any]]],
    ) -> None:
        model = _str(data.get("modelID"))
        prompt_id = _str(data.get("parentID")) if agent_id is None else None
        steps = [p for p in parts if p[1].get("type") == "step-finish"]
        step_tools: list[str] = []
        texts: list[str] = []
        last_ts = created

        def call(key: str, tokens: Mapping[str, Any], ts: int | None, cost: Any) -> LlmCall:
            reported = round(cost * NANO_PER_USD) if isinstance(cost, int | float) and cost > 0 else None
            return LlmCall(
                call_id=key,
                session_id=sid,
                message_id=mid,
                agent_id=agent_id,
                prompt_id=prompt_id,
                model=model,
                ts_ms=ts,
                usage=opencode_usage(tokens),
                is_sidechain=agent_id is not None,
                reported_cost_nusd=reported,
                stop_reason=_str(data.get("finish")),
            )

        for pid, part, row in parts:
            kind = part.get("type")
            ts = _int(row.get("time_created")) or last_ts
            if kind == "tool":
                tool = self._tool(batch, part, sid, agent_id, prompt_id, ts)
                if tool is not None:
                    step_tools.append(tool.tool_use_id)
            elif kind == "text" and isinstance(part.get("text"), str) and not part.get("synthetic"):
                texts.append(part["text"])
            elif kind == "step-finish" and isinstance(part.get("tokens"), dict):
                found = call("opencode:" + pid, part["tokens"], ts, part.get("cost"))
                found.tool_use_ids = tuple(step_tools)
                if texts:
                    found.response_text = "\n".join(texts)
                for tool in batch.tool_calls[-len(step_tools) :] if step_tools else []:
                    tool.call_id = found.call_id
                batch.llm_calls.append(found)
                step_tools, texts = [], []
            last_ts = ts
        if not steps and isinstance(data.get("tokens"), dict):
            found = call("opencode:" + mid, data["tokens"], created, data.get("cost"))
            found.tool_use_ids = tuple(step_tools)
            if texts:
                found.response_text = "\n".join(texts)
            if found.usage is not None and found.usage.total:
                batch.llm_calls.append(found)

    def _tool(
        self,
        batch: RecordBatch,
        part: Mapping[str, Any],
        sid: str,
        agent_id: str | None,
        prompt_id: str | None,
        ts: int | None,
    ) -> ToolCall | None:
        tool_use_id = _str(part.get("callID"))
        if tool_use_id is None:
            return None
        state = _dict(part.get("state"))
        times = _dict(state.get("time"))
        started, ended = _int(times.get("start")), _int(times.get("end"))
        status = _STATUS.get(str(state.get("status")))
        metadata = _dict(state.get("metadata"))
        if status == "success" and isinstance(metadata.get("exit"), int) and metadata["exit"] != 0:
            status = "error"
        output = state.get("output") if isinstance(state.get("output"), str) else None
        error = state.get("error") if isinstance(state.get("error"), str) else None
        tool_input = state.get("input")
        name = _str(part.get("tool"))
        tool = ToolCall(
            tool_use_id=tool_use_id,
            session_id=sid,
            tool_name=name,
            agent_id=agent_id,
            prompt_id=prompt_id,
            started_ms=started or ts,
            ended_ms=ended,
            duration_ms=(ended - started) if started is not None and ended is not None else None,
            status=status,  # type: ignore[arg-type]
            input_json=orjson.dumps(tool_input).decode() if isinstance(tool_input, dict) else None,
            output_text=output,
            error=(error or output) if status == "error" else None,
        )
        batch.tool_calls.append(tool)
        touch = kind_touch(name, tool_input if isinstance(tool_input, dict) else None)
        if touch is not None:
            batch.file_touches.append(FileTouch(tool_use_id, touch[0], touch[1], sid, started or ts))
        return tool
