"""The SQL Store adapter (SQLite, PostgreSQL): canonical records in, exact answers out.

All SQL lives in `statements.py` (writes, merges, rollups) and here (reads); both are portable
text run through a `SqlRunner`. Writes mark the 15-minute buckets and the sessions they touch in
work tables inside the same transaction; `refresh_derived` rebuilds exactly those rollup buckets
and session summaries, so derived numbers always equal a fresh computation from the records.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from agent_trace.domain.records import (
    BUCKET_MS,
    Commit,
    FileTouch,
    LlmCall,
    Prompt,
    RawEvent,
    RecordBatch,
    Session,
    Subagent,
    ToolCall,
    bucket_of,
)
from agent_trace.store.port import (
    DAY_MS,
    ROLLUP_DIMENSIONS,
    ROLLUP_METRICS,
    ActivityBucket,
    Change,
    DayTotal,
    FileState,
    Filters,
    SessionDetail,
    SessionPage,
    SessionQuery,
    SessionSummary,
    ToolBucket,
    TranscriptCursor,
    UsageBucket,
    UserInfo,
)
from agent_trace.store.sql import statements as st
from agent_trace.store.sql.runner import Row, SqlRunner

CHUNK = 512
HUMAN_PROMPT_KINDS = ("prompt", "command")


def _now_ms() -> int:
    return int(time.time() * 1000)


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))


def _in_params(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """Placeholders for `IN (…)`, padded to a power of two by repeating the last value: a few
    statement shapes instead of one per list length (databases cache statements by text)."""
    size = 1
    while size < len(values):
        size *= 2
    padded = list(values) + [values[-1]] * (size - len(values)) if values else [None]
    names = [f"{prefix}{i}" for i in range(len(padded))]
    return ", ".join(f":{n}" for n in names), dict(zip(names, padded, strict=True))


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def ascii_lower(value: str) -> str:
    """Lower-case ASCII letters only: what SQLite's LOWER, PostgreSQL's LOWER under the "C"
    collation (migration 0003) and ClickHouse's lower() all do, so searches agree everywhere."""
    return value.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# PostgreSQL cannot store U+0000 in text. Every backend stores U+FFFD in its place, so all agree.
_NUL = "\x00"


def clean_text_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace NUL characters in the string values of `rows` (in place; returns `rows`)."""
    # One serialisation of the whole batch (C speed) tells whether any NUL is there at all, which
    # is almost never: then no Python loop over every value of every row.
    if not rows or b"\\u0000" not in orjson.dumps(rows):
        return rows
    for row in rows:
        for key, value in row.items():
            if isinstance(value, str) and _NUL in value:
                row[key] = value.replace(_NUL, "\ufffd")
    return rows


# Every writer and refresh on PostgreSQL takes this transaction-level advisory lock first: writes
# are idempotent merges that read before they write (dirty buckets, owners, dimensions), so one
# writer at a time is what keeps them exact - the same one-writer rule SQLite's BEGIN IMMEDIATE
# gives - and two writers can never deadlock on rows locked in different orders.
WRITER_LOCK_KEY = 0x61676E74  # "agnt"


# --- records → rows -----------------------------------------------------------------------------


def _session_row(s: Session, now: int) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "agent": s.agent,
        "project": s.project,
        "cwd": s.cwd,
        "user_id": s.user_id,
        "version": s.version,
        "entrypoint": s.entrypoint,
        "title": s.title,
        "started_ms": s.started_ms,
        "ended_ms": s.ended_ms,
        "end_reason": s.end_reason,
        "permission_mode": s.permission_mode,
        "git_repo": s.git_repo,
        "git_branch": s.git_branch,
        "git_head": s.git_head,
        "git_base_sha": s.git_base_sha,
        "git_lines_added": s.git_lines_added,
        "git_lines_removed": s.git_lines_removed,
        "git_files_changed": s.git_files_changed,
        "reported_cost_nusd": s.reported_cost_nusd,
        "compactions": s.compactions,
        "updated_ms": now,
    }


def _user_rows(session_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "user_id": r["user_id"],
            "first_seen_ms": r["started_ms"],
            "last_seen_ms": r["ended_ms"] if r["ended_ms"] is not None else r["started_ms"],
        }
        for r in session_rows
        if r["user_id"]
    ]


def _prompt_row(p: Prompt) -> dict[str, Any]:
    return {
        "prompt_id": p.prompt_id,
        "session_id": p.session_id,
        "ts_ms": p.ts_ms,
        "bucket_ms": None if p.ts_ms is None else bucket_of(p.ts_ms),
        "kind": p.kind,
        "text": p.text,
        "line_uuid": p.line_uuid,
        "duration_ms": p.duration_ms,
        "interrupted": _flag(p.interrupted),
        "api_errors": p.api_errors,
    }


def _call_row(c: LlmCall) -> dict[str, Any]:
    u = c.usage
    return {
        "call_id": c.call_id,
        "session_id": c.session_id,
        "message_id": c.message_id,
        "request_id": c.request_id,
        "agent_id": c.agent_id,
        "prompt_id": c.prompt_id,
        "model": c.model,
        "ts_ms": c.ts_ms,
        "bucket_ms": None if c.ts_ms is None else bucket_of(c.ts_ms),
        "has_usage": 0 if u is None else 1,
        "input_tokens": u.input_tokens if u else 0,
        "output_tokens": u.output_tokens if u else 0,
        "cache_creation_tokens": u.cache_creation_tokens if u else 0,
        "cache_5m_tokens": u.cache_5m_tokens if u else 0,
        "cache_1h_tokens": u.cache_1h_tokens if u else 0,
        "cache_read_tokens": u.cache_read_tokens if u else 0,
        "web_search_requests": u.web_search_requests if u else 0,
        "usage_total": u.total if u else 0,
        "is_sidechain": int(c.is_sidechain),
        "cost_nusd": c.cost_nusd,
        "reported_cost_nusd": c.reported_cost_nusd,
        "speed": c.speed,
        "stop_reason": c.stop_reason,
        "query_source": c.query_source,
        "duration_ms": c.duration_ms,
        "ttft_ms": c.ttft_ms,
        "response_text": c.response_text,
        "thinking": c.thinking,
        "tool_use_ids": orjson.dumps(list(c.tool_use_ids)).decode() if c.tool_use_ids else None,
    }


def _tool_row(t: ToolCall) -> dict[str, Any]:
    anchor = t.started_ms if t.started_ms is not None else t.ended_ms
    return {
        "tool_use_id": t.tool_use_id,
        "session_id": t.session_id,
        "tool_name": t.tool_name,
        "agent_id": t.agent_id,
        "prompt_id": t.prompt_id,
        "call_id": t.call_id,
        "started_ms": t.started_ms,
        "ended_ms": t.ended_ms,
        "bucket_ms": None if anchor is None else bucket_of(anchor),
        "duration_ms": t.duration_ms,
        "status": t.status,
        "error": t.error,
        "input_json": t.input_json,
        "output_text": t.output_text,
        "subagent_id": t.subagent_id,
    }


def _touch_row(f: FileTouch) -> dict[str, Any]:
    return {
        "tool_use_id": f.tool_use_id,
        "path": f.path,
        "op": f.op,
        "session_id": f.session_id,
        "ts_ms": f.ts_ms,
    }


def _subagent_row(s: Subagent) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "agent_id": s.agent_id,
        "agent_type": s.agent_type,
        "description": s.description,
        "parent_tool_use_id": s.parent_tool_use_id,
        "prompt_id": s.prompt_id,
        "model": s.model,
        "started_ms": s.started_ms,
        "ended_ms": s.ended_ms,
        "is_compaction": _flag(s.is_compaction),
    }


def _commit_row(c: Commit) -> dict[str, Any]:
    return {
        "sha": c.sha,
        "session_id": c.session_id,
        "repo": c.repo,
        "branch": c.branch,
        "message": c.message,
        "author": c.author,
        "ts_ms": c.ts_ms,
        "files_changed": c.files_changed,
        "insertions": c.insertions,
        "deletions": c.deletions,
    }


def _raw_row(e: RawEvent) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "source": e.source,
        "session_id": e.session_id,
        "kind": e.kind,
        "ts_ms": e.ts_ms,
        "received_ms": e.received_ms,
        "payload": e.payload,
    }


SESSION_SUMMARY_FIELDS = ", ".join(
    "s." + name
    for name in [
        "session_id",
        "agent",
        "project",
        "cwd",
        "user_id",
        "title",
        "version",
        "started_ms",
        "ended_ms",
        "last_activity_ms",
        "updated_ms",
        "git_repo",
        "git_branch",
        "n_prompts",
        "n_llm_calls",
        "n_tool_calls",
        "n_tool_errors",
        "n_subagents",
        "input_tokens",
        "output_tokens",
        "cache_creation_tokens",
        "cache_5m_tokens",
        "cache_1h_tokens",
        "cache_read_tokens",
        "cost_nusd",
        "unpriced_calls",
        "models",
        "reported_cost_nusd",
        "unpriced_models",
    ]
)
_SORTS = {
    "started": "COALESCE(s.started_ms, 0)",
    "updated": "s.updated_ms",
    "activity": "COALESCE(s.last_activity_ms, s.started_ms, 0)",
    "cost": "s.cost_nusd",
    "tokens": "(s.input_tokens + s.output_tokens + s.cache_creation_tokens + s.cache_read_tokens)",
    "prompts": "s.n_prompts",
    "tool_calls": "s.n_tool_calls",
}
SORT_KEYS = tuple(_SORTS)


# The collector's cursor on a shipped transcript is replaced whole: ingest.deltas owns its content.
_UPSERT_TRANSCRIPT_CURSOR = (
    "INSERT INTO transcript_cursors (session_id, path, end_offset, state, updated_ms) "
    "VALUES (:session_id, :path, :end_offset, :state, :updated_ms) ON CONFLICT (session_id, path) "
    "DO UPDATE SET end_offset = excluded.end_offset, state = excluded.state, updated_ms = excluded.updated_ms"
)


class InvalidQuery(ValueError):
    """A query parameter the store cannot use; the message names it."""


class SqlStore:
    """Store on SQLite or PostgreSQL through a SqlRunner."""

    def __init__(self, runner: SqlRunner, url: str | None = None) -> None:
        self.runner = runner
        self.url = url
        self.dialect = runner.dialect

    # -- schema ------------------------------------------------------------------------------

    def migrate(self) -> None:
        from agent_trace.store.sql.migrate import upgrade

        upgrade(self.runner)

    # -- writes ------------------------------------------------------------------------------

    def write(
        self,
        batch: RecordBatch,
        file_states: list[FileState] | None = None,
        *,
        also_dirty: Iterable[str] = (),
    ) -> None:
        """`also_dirty`: sessions whose summaries this write changes besides those it names (a
        store keeping LLM calls elsewhere passes the first owners of the calls it merges)."""
        now = _now_ms()
        # Every session a record points at gets a row (and a change event), even if the source
        # sent no session record of its own.
        known = {s.session_id for s in batch.sessions}
        sessions = list(batch.sessions)
        for sid in self._referenced_sessions(batch):
            if sid not in known:
                sessions.append(Session(session_id=sid))
                known.add(sid)
        session_rows = clean_text_rows([_session_row(s, now) for s in sessions])
        prompt_rows = clean_text_rows([_prompt_row(p) for p in batch.prompts])
        call_rows = clean_text_rows([_call_row(c) for c in batch.llm_calls])
        tool_rows = clean_text_rows([_tool_row(t) for t in batch.tool_calls])
        run = self.runner
        with run.transaction():
            self.lock_writers()
            dirty_buckets: set[int] = set()
            dirty_sessions: set[str] = set(known)
            old_dims = self._session_dims(list(known))
            dirty_buckets |= self._existing_buckets(
                "prompts", "prompt_id", [r["prompt_id"] for r in prompt_rows]
            )
            dirty_buckets |= self._existing_buckets("llm_calls", "call_id", [r["call_id"] for r in call_rows])
            dirty_buckets |= self._existing_buckets(
                "tool_calls", "tool_use_id", [r["tool_use_id"] for r in tool_rows]
            )
            # Records copied into another session keep their first owner: that session changes too.
            # Records copied into another session keep their first owner, whose summary a merge
            # can change (a larger usage, a worse status, another prompt kind): it is dirty too.
            dirty_sessions |= self._owners("llm_calls", "call_id", [r["call_id"] for r in call_rows])
            dirty_sessions |= self._owners("prompts", "prompt_id", [r["prompt_id"] for r in prompt_rows])
            dirty_sessions |= self._owners("tool_calls", "tool_use_id", [r["tool_use_id"] for r in tool_rows])
            dirty_sessions |= set(also_dirty)
            run.execute_many(st.UPSERT_SESSION, session_rows)
            run.execute_many(st.UPSERT_PROMPT, prompt_rows)
            run.execute_many(st.UPSERT_LLM_CALL, call_rows)
            run.execute_many(st.UPSERT_TOOL_CALL, tool_rows)
            run.execute_many(
                st.UPSERT_FILE_TOUCH, clean_text_rows([_touch_row(f) for f in batch.file_touches])
            )
            run.execute_many(st.UPSERT_SUBAGENT, clean_text_rows([_subagent_row(s) for s in batch.subagents]))
            run.execute_many(st.UPSERT_COMMIT, clean_text_rows([_commit_row(c) for c in batch.commits]))
            run.execute_many(st.UPSERT_USER, _user_rows(session_rows))
            run.execute_many(st.UPSERT_RAW_EVENT, clean_text_rows([_raw_row(e) for e in batch.raw_events]))
            for rows in (prompt_rows, call_rows, tool_rows):
                dirty_buckets.update(r["bucket_ms"] for r in rows if r["bucket_ms"] is not None)
            dirty_buckets |= self._existing_buckets(
                "prompts", "prompt_id", [r["prompt_id"] for r in prompt_rows]
            )
            dirty_buckets |= self._existing_buckets("llm_calls", "call_id", [r["call_id"] for r in call_rows])
            dirty_buckets |= self._existing_buckets(
                "tool_calls", "tool_use_id", [r["tool_use_id"] for r in tool_rows]
            )
            new_dims = self._session_dims(list(known))
            for sid, dims in new_dims.items():
                before = old_dims.get(sid)
                if before != dims:
                    if before is not None:
                        dirty_buckets |= self._session_buckets(sid)
                        if before[3] is not None:
                            dirty_buckets.add(bucket_of(before[3]))
                    if dims[3] is not None:
                        dirty_buckets.add(bucket_of(dims[3]))
            run.execute_many(st.MARK_BUCKET, [{"bucket_ms": b} for b in sorted(dirty_buckets)])
            run.execute_many(st.MARK_SESSION, [{"session_id": s} for s in sorted(dirty_sessions)])
            run.execute_many(
                st.ADD_CHANGE, [{"session_id": s, "changed_ms": now} for s in sorted(dirty_sessions)]
            )
            if file_states:
                run.execute_many(
                    st.UPSERT_FILE_STATE,
                    [
                        {
                            "path": f.path,
                            "size": f.size,
                            "mtime_ns": f.mtime_ns,
                            "safe_offset": f.safe_offset,
                            "parser_state": f.parser_state,
                            "updated_ms": now,
                        }
                        for f in file_states
                    ],
                )

    @staticmethod
    def _referenced_sessions(batch: RecordBatch) -> set[str]:
        ids: set[str] = set()
        for group in (batch.prompts, batch.llm_calls, batch.tool_calls, batch.file_touches, batch.subagents):
            ids.update(r.session_id for r in group)
        ids.update(c.session_id for c in batch.commits if c.session_id)
        ids.update(e.session_id for e in batch.raw_events if e.session_id)
        return ids

    def _existing_buckets(self, table: str, key: str, ids: Sequence[str]) -> set[int]:
        found: set[int] = set()
        unique = list(dict.fromkeys(ids))
        for chunk in _chunks(unique):
            placeholders, params = _in_params("k", chunk)
            rows = self.runner.query(
                f"SELECT DISTINCT bucket_ms FROM {table} WHERE {key} IN ({placeholders}) AND bucket_ms IS NOT NULL",
                params,
            )
            found.update(int(r[0]) for r in rows)
        return found

    def _owners(self, table: str, key: str, ids: Sequence[str]) -> set[str]:
        owners: set[str] = set()
        unique = list(dict.fromkeys(ids))
        for chunk in _chunks(unique):
            placeholders, params = _in_params("k", chunk)
            rows = self.runner.query(
                f"SELECT DISTINCT session_id FROM {table} WHERE {key} IN ({placeholders})", params
            )
            owners.update(str(r[0]) for r in rows)
        return owners

    def _session_dims(self, ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {}
        for chunk in _chunks(list(ids)):
            placeholders, params = _in_params("k", chunk)
            for row in self.runner.query(
                f"SELECT session_id, project, user_id, agent, started_ms FROM sessions "
                f"WHERE session_id IN ({placeholders})",
                params,
            ):
                dims[row[0]] = tuple(row[1:])
        return dims

    def _session_buckets(self, session_id: str) -> set[int]:
        rows = self.runner.query(
            "SELECT bucket_ms FROM llm_calls WHERE session_id = :sid AND bucket_ms IS NOT NULL "
            "UNION SELECT bucket_ms FROM prompts WHERE session_id = :sid AND bucket_ms IS NOT NULL "
            "UNION SELECT bucket_ms FROM tool_calls WHERE session_id = :sid AND bucket_ms IS NOT NULL",
            {"sid": session_id},
        )
        return {int(r[0]) for r in rows}

    # -- derived data ------------------------------------------------------------------------

    def _lock_suffix(self) -> str:
        # On PostgreSQL a concurrent writer re-marking a bucket waits for this refresh to commit,
        # so its mark survives and is picked up by the next refresh.
        return " FOR UPDATE" if self.dialect == "postgresql" else ""

    def has_pending_refresh(self) -> bool:
        rows = self.runner.query(
            "SELECT 1 FROM dirty_buckets UNION ALL SELECT 1 FROM dirty_sessions LIMIT 1",
        )
        return bool(rows)

    def health(self) -> dict[str, str]:
        """ "ok" or the error per database behind this store (never raises: /health reports it)."""
        try:
            self.runner.query("SELECT 1")
            return {"database": "ok"}
        except Exception as exc:  # any driver error means: not healthy
            return {"database": f"error: {type(exc).__name__}"}

    def lock_writers(self) -> None:
        """Inside a write transaction: wait until no other writer holds the lock (PostgreSQL;
        SQLite's BEGIN IMMEDIATE already admits one writer at a time)."""
        if self.dialect == "postgresql":
            self.runner.query("SELECT pg_advisory_xact_lock(:key)", {"key": WRITER_LOCK_KEY})

    def refresh_derived(self) -> None:
        run = self.runner
        with run.transaction():
            self.lock_writers()
            buckets = [
                int(r[0]) for r in run.query("SELECT bucket_ms FROM dirty_buckets" + self._lock_suffix())
            ]
            human = ", ".join(f"'{k}'" for k in HUMAN_PROMPT_KINDS)
            for chunk in _chunks(sorted(buckets)):
                placeholders, params = _in_params("b", chunk)
                statements = (
                    st.rebuild_usage_rollup(placeholders)
                    + st.rebuild_activity_rollup(placeholders, human)
                    + st.rebuild_tool_rollup(placeholders)
                )
                for sql in statements:
                    run.execute(sql, params)
                run.execute(f"DELETE FROM dirty_buckets WHERE bucket_ms IN ({placeholders})", params)
            sessions = [
                str(r[0]) for r in run.query("SELECT session_id FROM dirty_sessions" + self._lock_suffix())
            ]
            for chunk in _chunks(sorted(sessions)):
                self._refresh_session_summaries(chunk)
                placeholders, params = _in_params("s", chunk)
                run.execute(f"DELETE FROM dirty_sessions WHERE session_id IN ({placeholders})", params)

    def _refresh_session_summaries(self, session_ids: Sequence[str]) -> None:
        run = self.runner
        placeholders, params = _in_params("s", session_ids)
        summary: dict[str, dict[str, Any]] = {
            sid: {
                "sid": sid,
                "n_prompts": 0,
                "n_llm_calls": 0,
                "n_tool_calls": 0,
                "n_tool_errors": 0,
                "n_subagents": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_tokens": 0,
                "cache_5m_tokens": 0,
                "cache_1h_tokens": 0,
                "cache_read_tokens": 0,
                "cost_nusd": 0,
                "unpriced_calls": 0,
                "models": None,
                "unpriced_models": None,
                "last_activity_ms": None,
            }
            for sid in session_ids
        }
        models: dict[str, list[str]] = {sid: [] for sid in session_ids}
        unpriced: dict[str, list[str]] = {sid: [] for sid in session_ids}

        def bump_last(sid: str, value: Any) -> None:
            if value is not None:
                current = summary[sid]["last_activity_ms"]
                if current is None or value > current:
                    summary[sid]["last_activity_ms"] = int(value)

        llm_rows, prompt_rows, tool_rows, subagent_rows, first_rows = self._event_summary_rows(session_ids)
        for sid in session_ids:
            summary[sid]["first_prompt"] = None
        for row in first_rows:
            summary[row[0]]["first_prompt"] = row[1]
        for row in llm_rows:
            s = summary[row[0]]
            if row[1]:
                models[row[0]].append(str(row[1]))
                if row[10]:
                    unpriced[row[0]].append(str(row[1]))
            s["n_llm_calls"] += int(row[2])
            for index, name in enumerate(
                (
                    "input_tokens",
                    "output_tokens",
                    "cache_creation_tokens",
                    "cache_5m_tokens",
                    "cache_1h_tokens",
                    "cache_read_tokens",
                    "cost_nusd",
                    "unpriced_calls",
                ),
                start=3,
            ):
                s[name] += int(row[index] or 0)
            bump_last(row[0], row[11])
        for row in prompt_rows:
            summary[row[0]]["n_prompts"] = int(row[1] or 0)
            bump_last(row[0], row[2])
        for row in tool_rows:
            summary[row[0]]["n_tool_calls"] = int(row[1])
            summary[row[0]]["n_tool_errors"] = int(row[2] or 0)
            bump_last(row[0], row[3])
        for row in subagent_rows:
            summary[row[0]]["n_subagents"] = int(row[1])
        for row in run.query(
            f"SELECT session_id, ended_ms FROM sessions WHERE session_id IN ({placeholders})",
            params,
        ):
            bump_last(row[0], row[1])
        for sid, names in models.items():
            summary[sid]["models"] = ",".join(sorted(names)) or None
            summary[sid]["unpriced_models"] = ",".join(sorted(unpriced[sid])) or None
        run.execute_many(
            "UPDATE sessions SET n_prompts = :n_prompts, n_llm_calls = :n_llm_calls, n_tool_calls = :n_tool_calls, "
            "n_tool_errors = :n_tool_errors, n_subagents = :n_subagents, input_tokens = :input_tokens, "
            "output_tokens = :output_tokens, cache_creation_tokens = :cache_creation_tokens, "
            "cache_5m_tokens = :cache_5m_tokens, cache_1h_tokens = :cache_1h_tokens, "
            "cache_read_tokens = :cache_read_tokens, cost_nusd = :cost_nusd, unpriced_calls = :unpriced_calls, "
            "models = :models, unpriced_models = :unpriced_models, last_activity_ms = :last_activity_ms, "
            "first_prompt = :first_prompt WHERE session_id = :sid",
            list(summary.values()),
        )

    def _event_summary_rows(
        self, session_ids: Sequence[str]
    ) -> tuple[list[Row], list[Row], list[Row], list[Row], list[Row]]:
        """Per-session aggregates of the records, as rows of fixed shape (a store that keeps the
        records elsewhere, store.clickhouse.hybrid, answers the same rows from there):
        LLM calls with usage per (session, model): session_id, model, calls, the six token sums,
        cost sum, unpriced calls, latest ts_ms; prompts: session_id, human prompts, latest ts_ms;
        tool calls: session_id, calls, errors, latest end-or-start; subagents (not compactions):
        session_id, count; first prompts: session_id, the text of its first typed prompt (unknown
        times first, then by id)."""
        run = self.runner
        placeholders, params = _in_params("s", session_ids)
        human = ", ".join(f"'{k}'" for k in HUMAN_PROMPT_KINDS)
        return (
            run.query(
                "SELECT session_id, model, COUNT(*), SUM(input_tokens), SUM(output_tokens), "
                "SUM(cache_creation_tokens), SUM(cache_5m_tokens), SUM(cache_1h_tokens), SUM(cache_read_tokens), "
                "SUM(COALESCE(cost_nusd, 0)), SUM(CASE WHEN cost_nusd IS NULL THEN 1 ELSE 0 END), MAX(ts_ms) "
                f"FROM llm_calls WHERE has_usage = 1 AND session_id IN ({placeholders}) GROUP BY session_id, model",
                params,
            ),
            run.query(
                f"SELECT session_id, SUM(CASE WHEN kind IN ({human}) THEN 1 ELSE 0 END), MAX(ts_ms) "
                f"FROM prompts WHERE session_id IN ({placeholders}) GROUP BY session_id",
                params,
            ),
            run.query(
                "SELECT session_id, COUNT(*), SUM(CASE WHEN status IN ('error', 'denied', 'interrupted') THEN 1 ELSE 0 END), "
                f"MAX(COALESCE(ended_ms, started_ms)) FROM tool_calls WHERE session_id IN ({placeholders}) "
                "GROUP BY session_id",
                params,
            ),
            run.query(
                f"SELECT session_id, COUNT(*) FROM subagents WHERE session_id IN ({placeholders}) "
                "AND (is_compaction IS NULL OR is_compaction = 0) GROUP BY session_id",
                params,
            ),
            run.query(
                "SELECT session_id, text FROM (SELECT session_id, text, ROW_NUMBER() OVER (PARTITION BY session_id "
                "ORDER BY ts_ms NULLS FIRST, prompt_id) AS n FROM prompts "
                f"WHERE kind = 'prompt' AND session_id IN ({placeholders})) firsts WHERE n = 1",
                params,
            ),
        )

    def _ensure_fresh(self) -> None:
        if self.has_pending_refresh():
            self.refresh_derived()

    # -- import bookkeeping ------------------------------------------------------------------

    def users(self) -> list[UserInfo]:
        rows = self.runner.query(
            "SELECT user_id, display_name, email, first_seen_ms, last_seen_ms FROM users ORDER BY user_id"
        )
        return [UserInfo(str(r[0]), r[1], r[2], r[3], r[4]) for r in rows]

    def instance_settings(self) -> dict[str, str]:
        return {str(r[0]): str(r[1]) for r in self.runner.query("SELECT key, value FROM instance_settings")}

    def set_instance_setting(self, key: str, value: str) -> None:
        with self.runner.transaction():
            self.runner.execute(
                st.UPSERT_INSTANCE_SETTING, {"key": key, "value": value, "updated_ms": _now_ms()}
            )

    def file_states(self) -> dict[str, FileState]:
        rows = self.runner.query("SELECT path, size, mtime_ns, safe_offset, parser_state FROM import_files")
        return {r[0]: FileState(r[0], int(r[1]), int(r[2]), int(r[3]), r[4]) for r in rows}

    def transcript_cursor(self, session_id: str, path: str) -> TranscriptCursor | None:
        rows = self.runner.query(
            "SELECT end_offset, state FROM transcript_cursors WHERE session_id = :sid AND path = :path",
            {"sid": session_id, "path": path},
        )
        if not rows:
            return None
        return TranscriptCursor(session_id, path, int(rows[0][0]), str(rows[0][1]))

    def save_transcript_cursors(self, cursors: list[TranscriptCursor]) -> None:
        if not cursors:
            return
        now = _now_ms()
        with self.runner.transaction():
            self.runner.execute_many(
                _UPSERT_TRANSCRIPT_CURSOR,
                [
                    {
                        "session_id": c.session_id,
                        "path": c.path,
                        "end_offset": c.end_offset,
                        "state": c.state,
                        "updated_ms": now,
                    }
                    for c in cursors
                ],
            )

    # -- reads -------------------------------------------------------------------------------

    def _filter_sql(
        self,
        filters: Filters,
        *,
        time_col: str,
        project_col: str,
        user_col: str,
        agent_col: str,
        model_col: str | None,
    ) -> tuple[str, dict[str, Any]]:
        where: list[str] = []
        params: dict[str, Any] = {}
        if filters.since_ms is not None:
            where.append(f"{time_col} >= :since_ms")
            params["since_ms"] = filters.since_ms
        if filters.until_ms is not None:
            where.append(f"{time_col} < :until_ms")
            params["until_ms"] = filters.until_ms
        if filters.project:
            # Exact path, or its last folder(s): a case-sensitive suffix test written the same way
            # in every dialect (LIKE is case-insensitive on SQLite only). The suffix's own LENGTH
            # keeps integer parameters out of SUBSTR, which PostgreSQL would type as bigint.
            where.append(
                f"({project_col} = :project OR SUBSTR({project_col}, LENGTH({project_col}) - "
                f"LENGTH(CAST(:project_tail AS TEXT)) + 1) = :project_tail)"
            )
            params["project"] = filters.project
            params["project_tail"] = "/" + filters.project.rstrip("/")
        if filters.user:
            where.append(f"{user_col} = :user")
            params["user"] = filters.user
        if filters.agent:
            where.append(f"{agent_col} = :agent")
            params["agent"] = filters.agent
        if filters.model and model_col:
            where.append(f"LOWER({model_col}) LIKE :model ESCAPE '\\'")
            params["model"] = "%" + _like_escape(ascii_lower(filters.model)) + "%"
        return (" WHERE " + " AND ".join(where)) if where else "", params

    def _bucket_filters(self, filters: Filters) -> Filters:
        """Rollups hold whole buckets: widen `since` down and `until` up to bucket edges."""
        since = filters.since_ms
        until = filters.until_ms
        if since is not None:
            since = bucket_of(since)
        if until is not None and until % BUCKET_MS:
            until = bucket_of(until) + BUCKET_MS
        return Filters(since, until, filters.project, filters.model, filters.user, filters.agent)

    def usage_buckets(self, filters: Filters) -> list[UsageBucket]:
        self._ensure_fresh()
        where, params = self._filter_sql(
            self._bucket_filters(filters),
            time_col="bucket_ms",
            project_col="project",
            user_col="user_id",
            agent_col="agent",
            model_col="model",
        )
        rows = self.runner.query(
            "SELECT bucket_ms, project, user_id, agent, model, calls, input_tokens, output_tokens, "
            "cache_creation_tokens, cache_5m_tokens, cache_1h_tokens, cache_read_tokens, cost_nusd, "
            f"unpriced_calls, reported_cost_nusd FROM usage_rollup{where} ORDER BY bucket_ms",
            params,
        )
        # Rows of one bucket in key order (code points): the same order from every backend.
        return [_usage_bucket(r) for r in sorted(rows, key=lambda r: (int(r[0]), *map(str, r[1:5])))]

    def activity_buckets(self, filters: Filters) -> list[ActivityBucket]:
        self._ensure_fresh()
        f = self._bucket_filters(filters)
        where, params = self._filter_sql(
            Filters(f.since_ms, f.until_ms, f.project, None, f.user, f.agent),
            time_col="bucket_ms",
            project_col="project",
            user_col="user_id",
            agent_col="agent",
            model_col=None,
        )
        rows = self.runner.query(
            "SELECT bucket_ms, project, user_id, agent, prompts, tool_calls, tool_errors, sessions "
            f"FROM activity_rollup{where} ORDER BY bucket_ms",
            params,
        )
        rows.sort(key=lambda r: (int(r[0]), *map(str, r[1:4])))
        return [
            ActivityBucket(
                int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7])
            )
            for r in rows
        ]

    def tool_buckets(self, filters: Filters) -> list[ToolBucket]:
        self._ensure_fresh()
        f = self._bucket_filters(filters)
        where, params = self._filter_sql(
            Filters(f.since_ms, f.until_ms, f.project, None, f.user, f.agent),
            time_col="bucket_ms",
            project_col="project",
            user_col="user_id",
            agent_col="agent",
            model_col=None,
        )
        rows = self.runner.query(
            "SELECT bucket_ms, project, user_id, agent, tool_name, calls, errors, duration_ms "
            f"FROM tool_rollup{where} ORDER BY bucket_ms",
            params,
        )
        rows.sort(key=lambda r: (int(r[0]), *map(str, r[1:5])))
        return [
            ToolBucket(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]), int(r[6]), int(r[7]))
            for r in rows
        ]

    def daily_totals(
        self,
        rollup: str,
        filters: Filters,
        utc_offsets: Sequence[tuple[int, int]],
        group_by: tuple[str, ...] = (),
    ) -> list[DayTotal]:
        if rollup not in ROLLUP_METRICS:
            raise InvalidQuery(f"rollup={rollup!r}: must be one of {', '.join(ROLLUP_METRICS)}")
        unknown = [d for d in group_by if d not in ROLLUP_DIMENSIONS[rollup]]
        if unknown:
            raise InvalidQuery(
                f"group_by={','.join(unknown)}: {rollup} can be grouped by {', '.join(ROLLUP_DIMENSIONS[rollup])}"
            )
        if not utc_offsets:
            raise InvalidQuery("utc_offsets: at least one (from_ms, offset_ms) pair")
        self._ensure_fresh()
        f = self._bucket_filters(filters)
        if rollup != "usage":
            f = Filters(f.since_ms, f.until_ms, f.project, None, f.user, f.agent)
        where, params = self._filter_sql(
            f,
            time_col="bucket_ms",
            project_col="project",
            user_col="user_id",
            agent_col="agent",
            model_col="model" if rollup == "usage" else None,
        )
        # The offset in force at each bucket: the last segment starting at or before it.
        ordered = sorted(utc_offsets)
        offset_sql = f"{int(ordered[0][1])}"
        if len(ordered) > 1:
            branches = " ".join(
                f"WHEN bucket_ms >= {int(start)} THEN {int(offset)}"
                for start, offset in reversed(ordered[1:])
            )
            offset_sql = f"CASE {branches} ELSE {int(ordered[0][1])} END"
        day_sql = f"(bucket_ms + {offset_sql}) / {DAY_MS}"
        metrics = ROLLUP_METRICS[rollup]
        dims = "".join(f", {d}" for d in group_by)
        sums = ", ".join(f"SUM({m})" for m in metrics)
        rows = self.runner.query(
            f"SELECT {day_sql} AS day{dims}, {sums} FROM {rollup}_rollup{where} GROUP BY 1{dims} ORDER BY 1",
            params,
        )
        width = len(group_by)
        totals = [
            DayTotal(
                int(r[0]),
                tuple(str(v) for v in r[1 : 1 + width]),
                {m: int(v or 0) for m, v in zip(metrics, r[1 + width :], strict=True)},
            )
            for r in rows
        ]
        # Groups of one day in key order (code points): the same order from every backend.
        return sorted(totals, key=lambda t: (t.day, t.key))

    def list_sessions(self, query: SessionQuery) -> SessionPage:
        self._ensure_fresh()
        descending = query.sort.startswith("-")
        sort_name = query.sort.lstrip("-+")
        if sort_name not in _SORTS:
            raise InvalidQuery(
                f"sort={query.sort!r}: must be one of {', '.join(SORT_KEYS)} (prefix '-' = descending)"
            )
        if not 1 <= query.limit <= 1000:
            raise InvalidQuery(f"limit={query.limit}: must be between 1 and 1000")
        sort_expr = _SORTS[sort_name]
        where, params = self._filter_sql(
            query.filters,
            time_col="COALESCE(s.started_ms, 0)",
            project_col="s.project",
            user_col="s.user_id",
            agent_col="s.agent",
            model_col="s.models",
        )
        clauses = [where[len(" WHERE ") :]] if where else []
        if query.session_ids:
            if len(query.session_ids) > 1000:
                raise InvalidQuery(f"session_ids: at most 1000 per query, got {len(query.session_ids)}")
            placeholders, id_params = _in_params("sid", list(dict.fromkeys(query.session_ids)))
            clauses.append(f"s.session_id IN ({placeholders})")
            params.update(id_params)
        if query.text:
            params["text"] = "%" + _like_escape(ascii_lower(query.text)) + "%"
            clauses.append(
                "(LOWER(COALESCE(s.title, '')) LIKE :text ESCAPE '\\' OR LOWER(COALESCE(s.project, '')) LIKE :text "
                "ESCAPE '\\' OR LOWER(s.session_id) LIKE :text ESCAPE '\\' OR LOWER(COALESCE(s.git_branch, '')) "
                f"LIKE :text ESCAPE '\\' OR {self._prompt_text_match(query.text, params)})"
            )
        if query.cursor:
            try:
                value, cursor_sid = orjson.loads(base64.urlsafe_b64decode(query.cursor.encode()))
                value = int(value)
                cursor_sid = str(cursor_sid)
            except (ValueError, TypeError, orjson.JSONDecodeError):
                raise InvalidQuery("cursor: not a cursor this API returned") from None
            op = "<" if descending else ">"
            clauses.append(f"({sort_expr} {op} :cv OR ({sort_expr} = :cv AND s.session_id {op} :csid))")
            params["cv"] = value
            params["csid"] = cursor_sid
        where_sql = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        direction = "DESC" if descending else "ASC"
        params["limit"] = query.limit + 1
        rows = self.runner.query(
            f"SELECT {SESSION_SUMMARY_FIELDS}, {sort_expr}, {self._first_prompt_sql()} "
            f"FROM sessions s{where_sql} ORDER BY {sort_expr} {direction}, s.session_id {direction} LIMIT :limit",
            params,
        )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        sessions = [_summary(r) for r in rows]
        next_cursor = None
        if more and rows:
            last = rows[-1]
            token = orjson.dumps([int(last[29] or 0), last[0]])
            next_cursor = base64.urlsafe_b64encode(token).decode()
        return SessionPage(sessions, next_cursor)

    def _prompt_text_match(self, text: str, params: dict[str, Any]) -> str:
        """SQL, true when session `s` has a prompt whose text contains :text (set in `params`)."""
        return (
            "EXISTS (SELECT 1 FROM prompts p WHERE p.session_id = s.session_id "
            "AND LOWER(COALESCE(p.text, '')) LIKE :text ESCAPE '\\')"
        )

    def _first_prompt_sql(self) -> str:
        """SQL for the text of session `s`'s first typed prompt: a summary column (migration
        0005), kept by the refresh of derived data like the counts beside it."""
        return "s.first_prompt"

    def session_detail(self, session_id: str) -> SessionDetail | None:
        self._ensure_fresh()
        session_rows = self._dict_rows("SELECT * FROM sessions WHERE session_id = :sid", {"sid": session_id})
        if not session_rows:
            return None
        params = {"sid": session_id}
        return SessionDetail(
            session=session_rows[0],
            prompts=self._dict_rows(
                "SELECT * FROM prompts WHERE session_id = :sid ORDER BY ts_ms NULLS FIRST, prompt_id", params
            ),
            llm_calls=self._dict_rows(
                "SELECT * FROM llm_calls WHERE session_id = :sid ORDER BY ts_ms NULLS FIRST, call_id", params
            ),
            tool_calls=self._dict_rows(
                "SELECT * FROM tool_calls WHERE session_id = :sid ORDER BY COALESCE(started_ms, ended_ms) NULLS FIRST, tool_use_id",
                params,
            ),
            file_touches=self._dict_rows(
                "SELECT * FROM file_touches WHERE session_id = :sid ORDER BY ts_ms NULLS FIRST, path, op, tool_use_id",
                params,
            ),
            subagents=self._dict_rows(
                "SELECT * FROM subagents WHERE session_id = :sid ORDER BY started_ms NULLS FIRST, agent_id",
                params,
            ),
            commits=self._dict_rows(
                "SELECT * FROM commits WHERE session_id = :sid ORDER BY ts_ms NULLS FIRST, sha", params
            ),
        )

    def _dict_rows(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        # Column names come from the SELECT * expansion; portable through both runners.
        names, rows = self._query_with_names(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _query_with_names(
        self, sql: str, params: Mapping[str, Any]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        table = sql.split(" FROM ", 1)[1].split()[0]
        names = _TABLE_COLUMNS[table]
        explicit = sql.replace("SELECT *", "SELECT " + ", ".join(names), 1)
        return list(names), self.runner.query(explicit, params)

    def find_session_ids(self, prefix: str, limit: int = 10) -> list[str]:
        rows = self.runner.query(
            # A case-sensitive prefix test that reads the same in every dialect (see _filter_sql).
            "SELECT session_id FROM sessions WHERE SUBSTR(session_id, 1, LENGTH(CAST(:prefix AS TEXT))) = :prefix "
            "ORDER BY session_id LIMIT :limit",
            {"prefix": prefix, "limit": limit},
        )
        return [str(r[0]) for r in rows]

    def changes_since(self, seq: int, limit: int = 1000) -> list[Change]:
        rows = self.runner.query(
            "SELECT seq, session_id, changed_ms FROM session_changes WHERE seq > :seq ORDER BY seq LIMIT :limit",
            {"seq": seq, "limit": limit},
        )
        return [Change(int(r[0]), str(r[1]), int(r[2])) for r in rows]

    def last_change_seq(self) -> int:
        rows = self.runner.query("SELECT MAX(seq) FROM session_changes")
        return int(rows[0][0] or 0) if rows else 0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for table in ("sessions", "prompts", "llm_calls", "tool_calls", "subagents", "commits", "raw_events"):
            out[table] = int(self.runner.query(f"SELECT COUNT(*) FROM {table}")[0][0])
        return out

    def close(self) -> None:
        self.runner.close()


_TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sessions": (
        *st.SESSION_COLUMNS,
        "n_prompts",
        "n_llm_calls",
        "n_tool_calls",
        "n_tool_errors",
        "n_subagents",
        "input_tokens",
        "output_tokens",
        "cache_creation_tokens",
        "cache_5m_tokens",
        "cache_1h_tokens",
        "cache_read_tokens",
        "cost_nusd",
        "unpriced_calls",
        "models",
        "unpriced_models",
        "last_activity_ms",
    ),
    "prompts": st.PROMPT_COLUMNS,
    "llm_calls": st.LLM_CALL_COLUMNS,
    "tool_calls": st.TOOL_CALL_COLUMNS,
    "file_touches": st.FILE_TOUCH_COLUMNS,
    "subagents": st.SUBAGENT_COLUMNS,
    "commits": st.COMMIT_COLUMNS,
}


def _usage_bucket(r: Sequence[Any]) -> UsageBucket:
    n = [int(v or 0) for v in r[5:15]]
    return UsageBucket(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        n[0],
        n[1],
        n[2],
        n[3],
        n[4],
        n[5],
        n[6],
        n[7],
        n[8],
        n[9],
    )


def _summary(r: Sequence[Any]) -> SessionSummary:
    return SessionSummary(
        session_id=r[0],
        agent=r[1],
        project=r[2],
        cwd=r[3],
        user_id=r[4],
        title=r[5],
        version=r[6],
        started_ms=r[7],
        ended_ms=r[8],
        last_activity_ms=r[9],
        updated_ms=int(r[10] or 0),
        git_repo=r[11],
        git_branch=r[12],
        prompts=int(r[13]),
        llm_calls=int(r[14]),
        tool_calls=int(r[15]),
        tool_errors=int(r[16]),
        subagents=int(r[17]),
        input_tokens=int(r[18]),
        output_tokens=int(r[19]),
        cache_creation_tokens=int(r[20]),
        cache_5m_tokens=int(r[21]),
        cache_1h_tokens=int(r[22]),
        cache_read_tokens=int(r[23]),
        cost_nusd=int(r[24]),
        unpriced_calls=int(r[25]),
        models=tuple(m for m in (r[26] or "").split(",") if m),
        reported_cost_nusd=r[27],
        unpriced_models=tuple(m for m in (r[28] or "").split(",") if m),
        first_prompt=r[30],
    )
