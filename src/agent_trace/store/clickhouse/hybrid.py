"""The hybrid store: PostgreSQL (or SQLite) for sessions, users, commits, settings, import
progress and the change feed; ClickHouse for prompts, LLM calls, tool calls, file touches,
subagents, raw events and the rollups.

It is the SQL store (it keeps everything about sessions there) with the record tables moved:

- write: under the SQL writers' lock (one writer at a time, as on the SQL store), read the stored
  states of the batch's records from ClickHouse, write sessions and commits to SQL, merge each
  copy into its state with the SQL merge rules (store.clickhouse.merge) in arrival order, and
  write the states that changed (cancel row + new row, see store.clickhouse.events). A session
  whose project, user or agent changed has its records written again with the new dimensions;
  a changed session is mirrored to `session_traces`.
- derived data: the rollups are ClickHouse materialized views (always current); session summary
  columns in SQL are recomputed from ClickHouse for the sessions a write marked dirty.
- reads: rollups, replays and summaries come from ClickHouse with the SQL store's ordering and
  NULL rules; session lists come from SQL.

It is built by composition, not inheritance: it holds a SqlStore (built with
store.clickhouse.reads.ClickHouseRecords, so the SQL side's derived columns and its session list's
text filter read the records from ClickHouse) and answers what lives only in SQL by explicit
delegation (sql_side.SqlSide); every method that touches records is written here
(tests/store/test_hybrid_surface.py checks the whole port is).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from agent_trace.domain.records import RecordBatch, Session
from agent_trace.store.clickhouse import reads
from agent_trace.store.clickhouse import search as ch_search
from agent_trace.store.clickhouse.client import ClickHouseClient
from agent_trace.store.clickhouse.events import (
    FILE_TOUCH,
    LLM_CALL,
    PROMPT,
    SUBAGENT,
    TOOL_CALL,
    TRACE_COLUMNS,
    Dims,
    EventState,
    EventTables,
    Key,
    event_key,
    merge_call_into,
)
from agent_trace.store.clickhouse.merge import MERGERS
from agent_trace.store.clickhouse.migrate import (
    check_state,
    current_version,
    head_version,
    load_migrations,
    migrate,
)
from agent_trace.store.clickhouse.rekey import rekey_calls
from agent_trace.store.clickhouse.sql_side import SqlSide
from agent_trace.store.port import (
    DAY_MS,
    ActivityBucket,
    DayTotal,
    FileState,
    Filters,
    SearchHit,
    SearchQuery,
    SessionDetail,
    ToolBucket,
    UsageBucket,
)
from agent_trace.store.sql import call_keys, sqltext
from agent_trace.store.sql import reads as sql_reads
from agent_trace.store.sql import rows as sql_rows
from agent_trace.store.sql.adapter import SqlStore
from agent_trace.store.sql.backfill import backfill_users
from agent_trace.store.sql.runner import SqlRunner


def _dims(row: tuple[Any, ...] | None) -> Dims:
    if row is None:
        return ("", "", "")
    return (row[0] or "", row[1] or "", row[2] or "")


def _start(row: tuple[Any, ...] | None) -> Any:
    return None if row is None else row[3]


class HybridStore(SqlSide):
    """Store on SQL (sessions and friends) + ClickHouse (records and rollups)."""

    def __init__(self, runner: SqlRunner, url: str | None, client: ClickHouseClient) -> None:
        self.sql = SqlStore(runner, url, external=reads.ClickHouseRecords(client))
        self.client = client
        self.events = EventTables(client)

    @property
    def runner(self) -> SqlRunner:
        return self.sql.runner

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> None:
        self.migrate_schema()
        # Data back-fills write through this store, so ClickHouse's events and rollups follow too.
        backfill_users(self)

    def migrate_schema(self) -> None:
        self.sql.migrate_schema()
        # Under the SQL writers' lock, so two processes starting at once migrate ClickHouse once.
        with self.runner.transaction():
            self.sql.lock_writers()
            migrate(self.client)
            rekey_calls(self)

    def events_schema(self) -> tuple[int | None, int] | None:
        """(applied, newest known) ClickHouse migration versions."""
        return current_version(self.client), head_version()

    def pending_events_migrations(self) -> list[str]:
        """ClickHouse migrations not applied yet; raises MigrationStateError on a half-applied one."""
        return [m.label for m in check_state(self.client, load_migrations())]

    def health(self) -> dict[str, str]:
        out = self.sql.health()
        try:
            self.client.query("SELECT 1")
            out["events"] = "ok"
        except Exception as exc:  # report, never raise: health must answer
            out["events"] = f"error: {type(exc).__name__}"
        return out

    # -- writes ------------------------------------------------------------------------------

    def write(
        self,
        batch: RecordBatch,
        file_states: list[FileState] | None = None,
        *,
        also_dirty: Iterable[str] = (),
    ) -> None:
        raw_rows = sql_rows.clean_text_rows([sql_rows.raw_row(e) for e in batch.raw_events])
        sql_batch = RecordBatch(
            sessions=list(batch.sessions),
            commits=list(batch.commits),
            pull_requests=list(batch.pull_requests),
            pushed_commits=list(batch.pushed_commits),
        )
        known = {s.session_id for s in batch.sessions}
        for sid in sorted(self.sql.referenced_sessions(batch) - known):
            sql_batch.sessions.append(Session(session_id=sid))
            known.add(sid)
        with self.runner.transaction():
            self.sql.lock_writers()
            resolution = call_keys.resolve(self.runner, batch)
            incoming = _incoming(batch)
            fold_keys = [(LLM_CALL, bare) for bare, _ in resolution.folds]
            owners = self.events.owners([*(key for _, key, _ in incoming), *fold_keys])
            states = self.events.states(owners)
            # As the SQL store does: the sessions owning merged prompts, calls and tools change too.
            owners_touched = {states[k].session_id for k in states if k[0] in (PROMPT, LLM_CALL, TOOL_CALL)}
            involved = sorted(known | {s.session_id for s in states.values()})
            old_dims = self.sql.session_dims(involved)
            self.sql.write(sql_batch, file_states, also_dirty=owners_touched | set(also_dirty))
            new_dims = self.sql.session_dims(involved)
            moved = sorted(sid for sid in old_dims if _dims(old_dims[sid]) != _dims(new_dims.get(sid)))
            for key, state in self.events.session_states(moved).items():
                states.setdefault(key, state)
            # Merges build new row dicts and never change a stored one, so a shallow copy of
            # each state is a faithful "before".
            stored = {
                key: EventState(st.kind, st.event_id, st.row, st.row_version, st.dims)
                for key, st in states.items()
            }
            for kind, key, row in incoming:
                current = states.get(key)
                if current is None:
                    states[key] = EventState(kind, key[1], row)
                else:
                    current.row = MERGERS[kind](current.row, row)
            removed = self._fold(resolution.folds, states)
            holders = [(row["call_id"], row["session_id"]) for kind, _, row in incoming if kind == LLM_CALL]
            call_keys.save(self.runner, resolution, holders)
            restarted = [s for s in involved if _start(old_dims.get(s)) != _start(new_dims.get(s))]
            self._settle(states, stored, [k[1] for k in states if k[0] == LLM_CALL], restarted)
            new_dims.update(
                self.sql.session_dims(sorted({st.session_id for st in states.values()} - set(new_dims)))
            )
            changes: list[tuple[EventState | None, EventState, Dims]] = []
            for key, state in states.items():
                dims = _dims(new_dims.get(state.session_id))
                before = stored.get(key)
                if before is None:
                    changes.append((None, state, dims))
                elif before.row != state.row or before.dims != dims:
                    changes.append((before, state, dims))
            self.events.write(changes, removed)
            self._write_traces(sorted(known))
            self.events.insert_raw(raw_rows)

    def _fold(self, folds: Sequence[tuple[str, str]], states: dict[Key, EventState]) -> list[EventState]:
        """Merge calls stored under a bare request id into the message's call (call_keys
        Resolution.folds), repoint their tool calls; returns the states to cancel."""
        removed: list[EventState] = []
        for bare, key in folds:
            gone = states.get((LLM_CALL, bare))
            if bare == key or gone is None or gone.row_version == 0 or gone.row.get("message_id"):
                continue  # nothing stored under the bare request id
            del states[(LLM_CALL, bare)]
            merge_call_into(states, gone, key)
            removed.append(gone)
            call_keys.move_holders(self.runner, bare, key)
            for tool_key, tool in self.events.tools_of_call(bare).items():
                current = states.setdefault(tool_key, tool)
                current.row = {**current.row, "call_id": key}
        return removed

    def _settle(
        self,
        states: dict[Key, EventState],
        stored: dict[Key, EventState],
        call_ids: Sequence[str],
        restarted: Sequence[str],
    ) -> None:
        """Give each call to its owner (store/sql/call_keys.py): the states of calls that move
        change session (EventTables.write cancels them under the old one)."""
        affected = call_keys.affected_calls(self.runner, call_ids, restarted)
        wanted = call_keys.owners(self.runner, affected)
        missing = [(LLM_CALL, c) for c in sorted(wanted) if (LLM_CALL, c) not in states]
        if missing:
            loaded = self.events.states(self.events.owners(missing))
            for key, state in loaded.items():
                states[key] = state
                stored[key] = EventState(state.kind, state.event_id, state.row, state.row_version, state.dims)
        for key, state in states.items():
            if key[0] != LLM_CALL:
                continue
            owner = wanted.get(key[1])
            if owner is not None and owner != state.session_id:
                state.row = {**state.row, "session_id": owner}

    def _write_traces(self, session_ids: Sequence[str]) -> None:
        """Mirror the merged sessions that changed into session_traces."""
        current: dict[str, dict[str, Any]] = {}
        for chunk in sqltext.chunks(list(session_ids)):
            placeholders, params = sqltext.in_params("k", chunk)
            for r in self.runner.query(
                f"SELECT {', '.join(TRACE_COLUMNS)} FROM sessions WHERE session_id IN ({placeholders})",
                params,
            ):
                current[str(r[0])] = dict(zip(TRACE_COLUMNS, r, strict=True))
        stored = self.events.traces(list(current))
        changes = [
            (stored.get(sid), row)
            for sid, row in sorted(current.items())
            if sid not in stored or stored[sid][1] != row
        ]
        self.events.write_traces(changes)

    # -- derived data ------------------------------------------------------------------------

    def refresh_derived(self) -> None:
        # Rollups are ClickHouse materialized views (current after every write); the SqlStore
        # recomputes its session summary columns from ClickHouse (ClickHouseRecords).
        self.sql.refresh_derived()

    # -- reads -------------------------------------------------------------------------------

    def usage_buckets(self, filters: Filters) -> list[UsageBucket]:
        self.sql.ensure_fresh()
        rows = reads.bucket_rows(self.client, "usage", self.sql.bucket_filters(filters))
        return [sql_rows.usage_bucket(r) for r in rows]

    def activity_buckets(self, filters: Filters) -> list[ActivityBucket]:
        self.sql.ensure_fresh()
        f = self.sql.bucket_filters(filters)
        rows = reads.bucket_rows(
            self.client, "activity", Filters(f.since_ms, f.until_ms, f.project, None, f.user, f.agent)
        )
        return [sql_rows.activity_bucket(r) for r in rows]

    def tool_buckets(self, filters: Filters) -> list[ToolBucket]:
        self.sql.ensure_fresh()
        f = self.sql.bucket_filters(filters)
        rows = reads.bucket_rows(
            self.client, "tool", Filters(f.since_ms, f.until_ms, f.project, None, f.user, f.agent)
        )
        return [sql_rows.tool_bucket(r) for r in rows]

    def daily_totals(
        self,
        rollup: str,
        filters: Filters,
        utc_offsets: Sequence[tuple[int, int]],
        group_by: tuple[str, ...] = (),
    ) -> list[DayTotal]:
        f = sql_reads.daily_query_filters(rollup, filters, utc_offsets, group_by)
        self.sql.ensure_fresh()
        f = self.sql.bucket_filters(f)
        rows = reads.daily_rows(self.client, rollup, f, utc_offsets, group_by, DAY_MS)
        return sql_reads.day_totals(rollup, group_by, rows)

    def search(self, query: SearchQuery) -> list[SearchHit]:
        return ch_search.search(self.client, query)

    def session_detail(self, session_id: str) -> SessionDetail | None:
        self.sql.ensure_fresh()
        session_rows = self.sql.dict_rows(
            "SELECT * FROM sessions WHERE session_id = :sid", {"sid": session_id}
        )
        if not session_rows:
            return None
        records = reads.session_records(self.client, session_id)
        return SessionDetail(
            session=session_rows[0],
            prompts=records[PROMPT],
            llm_calls=records[LLM_CALL],
            tool_calls=records[TOOL_CALL],
            file_touches=records[FILE_TOUCH],
            subagents=records[SUBAGENT],
            commits=self.sql.dict_rows(
                "SELECT * FROM commits WHERE session_id = :sid ORDER BY ts_ms NULLS FIRST, sha",
                {"sid": session_id},
            ),
            pull_requests=self.sql.session_pull_requests(session_id),
        )

    def reported_calls(self, session_ids: Sequence[str]) -> list[dict[str, Any]]:
        self.sql.ensure_fresh()
        rows = reads.reported_call_rows(
            self.client, sorted(set(session_ids)), sql_reads.REPORTED_CALL_COLUMNS
        )
        out = [dict(zip(sql_reads.REPORTED_CALL_COLUMNS, r, strict=True)) for r in rows]
        out.sort(key=lambda r: (r["session_id"], r["ts_ms"] is not None, r["ts_ms"] or 0, r["call_id"]))
        return out

    def counts(self) -> dict[str, int]:
        out = {
            table: int(self.runner.query(f"SELECT COUNT(*) FROM {table}")[0][0])
            for table in ("sessions", "commits")
        }
        out.update(reads.record_counts(self.client))
        return {
            k: out[k]
            for k in ("sessions", "prompts", "llm_calls", "tool_calls", "subagents", "commits", "raw_events")
        }

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            self.sql.close()


def _incoming(batch: RecordBatch) -> list[tuple[str, Key, dict[str, Any]]]:
    """The batch's records as (kind, key, SQL-shaped row), in the order the SQL store applies them."""
    groups: list[tuple[str, list[dict[str, Any]]]] = [
        (PROMPT, [sql_rows.prompt_row(p) for p in batch.prompts]),
        (LLM_CALL, [sql_rows.call_row(c) for c in batch.llm_calls]),
        (TOOL_CALL, [sql_rows.tool_row(t) for t in batch.tool_calls]),
        (FILE_TOUCH, [sql_rows.touch_row(f) for f in batch.file_touches]),
        (SUBAGENT, [sql_rows.subagent_row(s) for s in batch.subagents]),
    ]
    out: list[tuple[str, Key, dict[str, Any]]] = []
    for kind, rows in groups:
        for row in sql_rows.clean_text_rows(rows):
            out.append((kind, (kind, event_key(kind, row)), row))
    return out
