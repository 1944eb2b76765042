"""OpenCode, live: the logs agent-trace's OpenCode plugin sends (`agent-trace init --agent
opencode`) → canonical records. Pure.

OpenCode writes no per-request telemetry of its own, but a plugin sees its event bus: the whole
message `Info` (`message.updated`), every `Part` as it changes (`message.part.updated`) and the
session `Info` (`session.created|updated`) — the very objects it stores. The plugin
(cli/opencode_plugin.js) sends, when a model request ends and when the session goes idle, each
changed message whole, as one OTLP log:

* `event.name` = `opencode.message`, `session.id` = the root session (a child session a task
  spawned is rolled into its root, as the import does);
* `opencode.message` — the message `Info` (JSON);
* `opencode.parts` — all its parts so far (JSON list of `{part, first, last}`: the part and when
  the plugin first and last saw it, standing for the row times the database would have), but
  an assistant's text and reasoning parts, which come in `opencode.response_parts` (a response
  payload key: the raw event keeps them only at tier 3, domain/payload_keys.py);
* `opencode.sessions` — the `Info` of its session and of each parent up to the root (JSON list).

They go through the same rows → records mapping as the database (sources/opencode_store.py), so
a session captured live and imported later is one record per fact: each model request keyed by
its `step-finish` part id, each tool by its call id, each prompt by its user message id.
"""

from __future__ import annotations

from typing import Any

import orjson

from agent_trace.domain.records import AGENT_OPENCODE
from agent_trace.sources.opencode_store import OpencodeRows, message_row, part_row, session_row
from agent_trace.sources.otlp_build import Builder, merge_into
from agent_trace.sources.otlp_views import LogRecordView

EVENT_PREFIX = "opencode."
MESSAGE_EVENT = "opencode.message"


def _json(value: Any) -> Any:
    if not isinstance(value, str | bytes):
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def on_log(b: Builder, rec: LogRecordView, name: str, sid: str, ts: int | None) -> None:
    """One plugin log record; the Builder already has its (root) session and raw event."""
    session = b.sessions.get(sid)
    if session is not None:
        session.agent = AGENT_OPENCODE
    if name != MESSAGE_EVENT:
        return
    a = rec.attributes
    info = _json(a.get("opencode.message"))
    if not isinstance(info, dict):
        return
    sessions = _list(_json(a.get("opencode.sessions")))
    parts = [
        *_list(_json(a.get("opencode.parts"))),
        *_list(_json(a.get("opencode.response_parts"))),
    ]
    message = message_row(info)
    rows = OpencodeRows(session_row(s) for s in sessions if isinstance(s, dict))
    part_rows = [
        part_row(p["part"], message["id"], message["session_id"], (_int(p.get("first")), _int(p.get("last"))))
        for p in parts
        if isinstance(p, dict) and isinstance(p.get("part"), dict)
    ]
    batch = rows.records([message], part_rows)
    for found in batch.sessions:
        merge_into(b.session(found.session_id, rec.resource, a, rec.scope), found)
    for prompt in batch.prompts:
        b.prompt(prompt)
    for call in batch.llm_calls:
        b.call(call)
    for tool in batch.tool_calls:
        b.tool(tool)
    for touch in batch.file_touches:
        b.touch(touch)
    for sub in batch.subagents:
        b.subagent(sub)
