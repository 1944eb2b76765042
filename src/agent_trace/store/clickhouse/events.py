"""The ClickHouse tables of the hybrid store: reading record states and writing their changes.

`agent_events` holds one live state per record (prompt, LLM call, tool call, file touch,
subagent), keyed by (session_id, event_type, event_id), plus cancelled states that
VersionedCollapsingMergeTree folds away (see migrations/0001_events.sql). `event_keys` maps a
record's natural key to its owning session, `session_traces` mirrors merged sessions, and
`raw_events` keeps what arrived. No merging happens here: store.clickhouse.hybrid decides what
changed, this module reads and writes rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from agent_trace.domain.tools import WRITE_TOOLS
from agent_trace.store.clickhouse.client import ClickHouseClient
from agent_trace.store.clickhouse.merge import MERGERS
from agent_trace.store.sql import statements as st

PROMPT, LLM_CALL, TOOL_CALL, FILE_TOUCH, SUBAGENT = (
    "prompt",
    "llm_call",
    "tool_call",
    "file_touch",
    "subagent",
)
# Per kind, the SQL schema's columns: rows read back as exactly the dicts the SQL store returns.
KIND_COLUMNS: dict[str, tuple[str, ...]] = {
    PROMPT: st.PROMPT_COLUMNS,
    LLM_CALL: st.LLM_CALL_COLUMNS,
    TOOL_CALL: st.TOOL_CALL_COLUMNS,
    FILE_TOUCH: st.FILE_TOUCH_COLUMNS,
    SUBAGENT: st.SUBAGENT_COLUMNS,
}
RECORD_COLUMNS: tuple[str, ...] = tuple(
    dict.fromkeys(c for cols in KIND_COLUMNS.values() for c in cols if c != "session_id")
)
# Columns that are NOT NULL in agent_events (0 for kinds that do not use them).
_ZERO_DEFAULT = frozenset({*st.USAGE_COLUMNS, "has_usage", "usage_total", "is_sidechain"})
DERIVED_COLUMNS = ("file_path", "edit_old_string", "edit_new_string", "written_content", "attributes")
INSERT_COLUMNS: tuple[str, ...] = (
    "event_type",
    "event_id",
    "session_id",
    "row_version",
    "sign",
    "project",
    "user_id",
    "agent",
    *RECORD_COLUMNS,
    *DERIVED_COLUMNS,
)
TRACE_COLUMNS: tuple[str, ...] = tuple(c for c in st.SESSION_COLUMNS if c != "updated_ms")
_MAX_ATTRIBUTE_CHARS = 2_000
_QUERY_CHUNK = 2_000

Key = tuple[str, str]  # (event_type, event_id)

# The live state of each record: its row with the highest row_version. A record's rows are
# pairs (v, +1) (v, -1) for every replaced state plus (newest, +1), so this equals FINAL's
# answer, without FINAL's merge of every column of every part (measured 5-7x slower for one
# session's records). Append to a query over agent_events (after its WHERE).
#
# A record that moved to another session (its owner changed, store/sql/call_keys.py) or was
# merged into another key leaves, under its old (session, key), a state and its cancel row of the
# same version and nothing newer: sorting `sign` ascending makes that cancel row the one kept, and
# `live(...)` drops it. (A replaced state always has a newer version, so this never hides one.)
LIVE = "ORDER BY session_id, event_type, event_id, row_version DESC, sign ASC LIMIT 1 BY session_id, event_type, event_id"


def live(columns: str, where: str) -> str:
    """A subquery of the live states (see LIVE) of the records `where` selects."""
    return f"(SELECT {columns} FROM (SELECT {columns}, sign FROM agent_events WHERE {where} {LIVE}) WHERE sign = 1)"


Dims = tuple[str, str, str]  # (project, user_id, agent) of the owning session, '' = unknown


def event_key(kind: str, row: Mapping[str, Any]) -> str:
    """The natural key of a record as one string (JSON for the two-part and three-part keys)."""
    if kind == PROMPT:
        return str(row["prompt_id"])
    if kind == LLM_CALL:
        return str(row["call_id"])
    if kind == TOOL_CALL:
        return str(row["tool_use_id"])
    if kind == FILE_TOUCH:
        return orjson.dumps([row["tool_use_id"], row["path"], row["op"]]).decode()
    return orjson.dumps([row["session_id"], row["agent_id"]]).decode()


def merge_call_into(states: dict[Key, EventState], call: EventState, key: str) -> None:
    """Merge an LLM call's state into the call `key` of `states` (created when absent), with the
    merge rules: a call re-keyed (store/clickhouse/rekey.py) or folded into another (hybrid)."""
    row = {**call.row, "call_id": key}
    target = states.get((LLM_CALL, key))
    if target is None:
        states[(LLM_CALL, key)] = EventState(LLM_CALL, key, row)
    else:
        target.row = MERGERS[LLM_CALL](target.row, row)


@dataclass
class EventState:
    """A record's state: its SQL-shaped row, the row_version it is stored under (0 = not stored)
    and the session dimensions it was stored with."""

    kind: str
    event_id: str
    row: dict[str, Any]
    row_version: int = 0
    dims: Dims | None = None

    @property
    def key(self) -> Key:
        return (self.kind, self.event_id)

    @property
    def session_id(self) -> str:
        return str(self.row["session_id"])


def tool_details(tool_name: str | None, input_json: str | None) -> tuple[Any, ...]:
    """file_path, edit_old_string, edit_new_string, written_content, attributes of a tool call."""
    empty: dict[str, str] = {}
    if not input_json:
        return (None, None, None, None, empty)
    try:
        data = orjson.loads(input_json)
    except orjson.JSONDecodeError:  # capped or redacted input: keep the text, derive nothing
        return (None, None, None, None, empty)
    if not isinstance(data, dict):
        return (None, None, None, None, empty)
    path = data.get("file_path") or data.get("notebook_path") or data.get("path")
    file_path = path if isinstance(path, str) and path else None
    old = new = written = None
    if isinstance(data.get("edits"), list):  # MultiEdit: every edit, one per line
        edits = [e for e in data["edits"] if isinstance(e, dict)]
        old = "\n".join(str(e.get("old_string", "")) for e in edits) or None
        new = "\n".join(str(e.get("new_string", "")) for e in edits) or None
    else:  # Edit (old_string/new_string), NotebookEdit (new_source), Write (content)
        old = _text(data.get("old_string"))
        new = _text(data.get("new_string")) or _text(data.get("new_source"))
        written = _text(data.get("content")) if tool_name in WRITE_TOOLS else None
    skip = {"old_string", "new_string", "new_source", "content", "edits"}
    attributes = {
        str(k): str(v)[:_MAX_ATTRIBUTE_CHARS]
        for k, v in data.items()
        if k not in skip and isinstance(v, (str, int, float, bool)) and v is not None
    }
    return (file_path, old, new, written, attributes)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _derived(state: EventState) -> tuple[Any, ...]:
    row = state.row
    if state.kind == TOOL_CALL:
        return tool_details(row.get("tool_name"), row.get("input_json"))
    if state.kind == FILE_TOUCH:
        return (row.get("path"), None, None, None, {})
    return (None, None, None, None, {})


# Per kind: the RECORD_COLUMNS a row of that kind fills (their positions), over a template
# holding every other column's value (0 for NOT NULL columns, else NULL). Building a row is then
# a copy and ~20 assignments, not ~60 lookups: it runs for every record written.
_TEMPLATE: list[Any] = [0 if c in _ZERO_DEFAULT else None for c in RECORD_COLUMNS]
_POSITIONS: dict[str, tuple[tuple[int, str], ...]] = {
    kind: tuple((i, c) for i, c in enumerate(RECORD_COLUMNS) if c in columns)
    for kind, columns in KIND_COLUMNS.items()
}


def _insert_row(state: EventState, row_version: int, sign: int, dims: Dims) -> list[Any]:
    row = state.row
    record = _TEMPLATE.copy()
    for index, column in _POSITIONS[state.kind]:
        value = row[column]
        if value is not None:
            record[index] = value
    return [state.kind, state.event_id, state.session_id, row_version, sign, *dims, *record, *_derived(state)]


class EventTables:
    """Reads and writes of the hybrid store's ClickHouse tables (all through one client)."""

    def __init__(self, client: ClickHouseClient) -> None:
        self.client = client

    # -- record states --------------------------------------------------------------------------

    def owners(self, keys: Iterable[Key]) -> dict[Key, str]:
        """The owning session of each key already stored. Looked up by event_id alone (the
        table's sorting key: one column is the cheapest IN), the kind matched here."""
        wanted = set(keys)
        out: dict[Key, str] = {}
        ids = sorted({event_id for _, event_id in wanted})
        for start in range(0, len(ids), _QUERY_CHUNK):
            # FINAL: a record that moved has a newer row here naming its new owner.
            for kind, event_id, session_id in self.client.query(
                "SELECT event_type, event_id, session_id FROM event_keys FINAL WHERE event_id IN {ids:Array(String)}",
                {"ids": ids[start : start + _QUERY_CHUNK]},
            ):
                key = (str(kind), str(event_id))
                if key in wanted:
                    out[key] = str(session_id)
        return out

    def states(self, owned: Mapping[Key, str]) -> dict[Key, EventState]:
        """The live state of each (key → owning session)."""
        triples = [(sid, kind, event_id) for (kind, event_id), sid in owned.items()]
        out: dict[Key, EventState] = {}
        for start in range(0, len(triples), _QUERY_CHUNK):
            out.update(
                self._load(
                    "(session_id, event_type, event_id) IN {keys:Array(Tuple(String, String, String))}",
                    {"keys": triples[start : start + _QUERY_CHUNK]},
                )
            )
        return out

    def session_states(self, session_ids: Sequence[str]) -> dict[Key, EventState]:
        """Every live record of these sessions."""
        if not session_ids:
            return {}
        return self._load("session_id IN {sids:Array(String)}", {"sids": list(session_ids)})

    def load_where(self, where: str) -> dict[Key, EventState]:
        """The live records a fixed condition selects (maintenance: store/clickhouse/rekey.py)."""
        return self._load(where, {})

    def tools_of_call(self, call_id: str) -> dict[Key, EventState]:
        """The live tool calls that name `call_id` as the call that asked for them."""
        return self._load("event_type = 'tool_call' AND call_id = {cid:String}", {"cid": call_id})

    def _load(self, where: str, params: Mapping[str, Any]) -> dict[Key, EventState]:
        columns = ", ".join(RECORD_COLUMNS)
        out: dict[Key, EventState] = {}
        head = "event_type, event_id, session_id, row_version, project, user_id, agent"
        for r in self.client.query(
            f"SELECT {head}, {columns} FROM {live(f'{head}, {columns}', where)}", params
        ):
            kind = str(r[0])
            values = dict(zip(RECORD_COLUMNS, r[7:], strict=True))
            values["session_id"] = str(r[2])
            row = {c: values[c] for c in KIND_COLUMNS[kind]}
            state = EventState(kind, str(r[1]), row, int(r[3]), (str(r[4]), str(r[5]), str(r[6])))
            out[state.key] = state
        return out

    def write(
        self,
        changes: Sequence[tuple[EventState | None, EventState, Dims]],
        removed: Sequence[EventState] = (),
    ) -> None:
        """Store new states: for each (stored state or None, new state, dims) a cancel row of the
        stored state and the new state one version up, all in one block so that the views see
        both. New keys are registered in event_keys first: should the block then fail, the next
        write finds the key, finds no state, and writes it as new (never a second live copy)."""
        if not changes and not removed:
            return
        # New keys, and keys whose owner changed (a moved record), name their session here.
        new_keys = [
            [s.kind, s.event_id, s.session_id]
            for old, s, _ in changes
            if old is None or old.session_id != s.session_id
        ]
        self.client.insert("event_keys", ["event_type", "event_id", "session_id"], new_keys)
        rows: list[list[Any]] = []
        for gone in removed:  # merged into another key: only its cancel row
            assert gone.dims is not None
            rows.append(_insert_row(gone, gone.row_version, -1, gone.dims))
        for old, new, dims in changes:
            version = 1
            if old is not None:
                assert old.dims is not None
                rows.append(_insert_row(old, old.row_version, -1, old.dims))
                version = old.row_version + 1
            rows.append(_insert_row(new, version, 1, dims))
        self.client.insert("agent_events", INSERT_COLUMNS, rows)

    # -- session traces -------------------------------------------------------------------------

    def traces(self, session_ids: Sequence[str]) -> dict[str, tuple[int, dict[str, Any]]]:
        """session_id → (row_version, session row) of the stored traces."""
        if not session_ids:
            return {}
        out: dict[str, tuple[int, dict[str, Any]]] = {}
        for start in range(0, len(session_ids), _QUERY_CHUNK):
            for r in self.client.query(
                f"SELECT row_version, {', '.join(TRACE_COLUMNS)} FROM session_traces "
                "WHERE session_id IN {sids:Array(String)} "
                "ORDER BY session_id, row_version DESC, sign DESC LIMIT 1 BY session_id",
                {"sids": list(session_ids[start : start + _QUERY_CHUNK])},
            ):
                row = dict(zip(TRACE_COLUMNS, r[1:], strict=True))
                out[str(row["session_id"])] = (int(r[0]), row)
        return out

    def write_traces(
        self, changes: Sequence[tuple[tuple[int, dict[str, Any]] | None, dict[str, Any]]]
    ) -> None:
        rows: list[list[Any]] = []
        for old, new in changes:
            version = 1
            if old is not None:
                rows.append(_trace_row(old[1], old[0], -1))
                version = old[0] + 1
            rows.append(_trace_row(new, version, 1))
        self.client.insert("session_traces", ("row_version", "sign", *TRACE_COLUMNS), rows)

    # -- raw events -----------------------------------------------------------------------------

    def insert_raw(self, rows: Sequence[Mapping[str, Any]]) -> None:
        columns = st.RAW_EVENT_COLUMNS
        self.client.insert("raw_events", columns, [[r[c] for c in columns] for r in rows])


def _trace_row(row: Mapping[str, Any], version: int, sign: int) -> list[Any]:
    return [version, sign, *(row[c] for c in TRACE_COLUMNS)]
