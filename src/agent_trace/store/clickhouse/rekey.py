"""The ClickHouse half of SQL migration 0006_i10: LLM calls re-keyed by message id.

Stores written before issue 10 keyed a call by its requestId. The SQL migration renames the
calls kept in SQL; on PostgreSQL + ClickHouse the calls are in ClickHouse, so this renames them
there, once, when the hybrid store migrates: each live call that knows its message id and is
not keyed "msg:" + message id is cancelled and written again under that key (merged with the
rules of store.clickhouse.merge when two old rows are one message), the tool calls pointing at
it follow, and the SQL tables of store/sql/call_keys.py are filled from what is stored. An
instance setting records that it ran, so later starts do not scan the calls again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent_trace.domain.records import MESSAGE_KEY_PREFIX
from agent_trace.store.clickhouse.events import LLM_CALL, Dims, EventState, Key, merge_call_into
from agent_trace.store.sql import call_keys
from agent_trace.store.sql import statements as st
from agent_trace.store.sql.sqltext import now_ms

if TYPE_CHECKING:
    from agent_trace.store.clickhouse.hybrid import HybridStore

MARKER = "clickhouse_calls_keyed_by_message_id"


def rekey_calls(store: HybridStore) -> None:
    """Run inside the store's transaction, under the writers' lock (HybridStore.migrate)."""
    if store.instance_settings().get(MARKER) == "1":
        return
    events = store.events
    old = events.load_where(
        "event_type = 'llm_call' AND message_id IS NOT NULL AND event_id != concat('msg:', message_id)"
    )
    targets: dict[Key, EventState] = {}
    wanted = sorted({(LLM_CALL, MESSAGE_KEY_PREFIX + str(s.row["message_id"])) for s in old.values()})
    stored_targets = events.states(events.owners(wanted))
    for key, state in stored_targets.items():
        targets[key] = EventState(state.kind, state.event_id, dict(state.row), state.row_version, state.dims)
    tools: dict[Key, EventState] = {}
    tools_before: dict[Key, EventState] = {}
    for gone in sorted(old.values(), key=lambda s: s.event_id):
        new_key = MESSAGE_KEY_PREFIX + str(gone.row["message_id"])
        merge_call_into(targets, gone, new_key)
        for tool_key, tool in events.tools_of_call(gone.event_id).items():
            tools_before.setdefault(tool_key, tool)
            current = tools.setdefault(
                tool_key, EventState(tool.kind, tool.event_id, tool.row, tool.row_version, tool.dims)
            )
            current.row = {**current.row, "call_id": new_key}
    sessions = sorted({s.session_id for s in [*targets.values(), *tools.values()]})
    dims_rows = store.sql.session_dims(sessions)

    def dims(session_id: str) -> Dims:
        row = dims_rows.get(session_id)
        return ("", "", "") if row is None else (row[0] or "", row[1] or "", row[2] or "")

    changes: list[tuple[EventState | None, EventState, Dims]] = []
    for key, state in targets.items():
        changes.append((stored_targets.get(key), state, dims(state.session_id)))
    for key, state in tools.items():
        changes.append((tools_before[key], state, dims(state.session_id)))
    events.write(changes, list(old.values()))
    _fill_sql_tables(store)
    store.runner.execute(st.UPSERT_INSTANCE_SETTING, {"key": MARKER, "value": "1", "updated_ms": now_ms()})


def _fill_sql_tables(store: HybridStore) -> None:
    """call_aliases and call_holders from the calls in ClickHouse (as 0006_i10 does in SQL)."""
    aliases: dict[str, str] = {}
    holders: list[dict[str, str]] = []
    for state in store.events.load_where("event_type = 'llm_call'").values():
        holders.append({"call_id": state.event_id, "session_id": state.session_id})
        request_id, message_id = state.row.get("request_id"), state.row.get("message_id")
        if request_id and message_id:
            best = aliases.get(str(request_id))
            if best is None or state.event_id < best:
                aliases[str(request_id)] = state.event_id
    resolution = call_keys.Resolution(new_aliases=aliases)
    call_keys.save(store.runner, resolution, [(h["call_id"], h["session_id"]) for h in holders])
