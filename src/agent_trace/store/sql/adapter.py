"""The SQL Store adapter (SQLite, PostgreSQL): canonical records in, exact answers out.

All SQL is portable text run through a `SqlRunner`: the merge rules of every write are in
`statements.py`, rows in `rows.py`, the rollup/summary refresh in `derived.py`, the queries in
`reads.py`; this module composes them and owns the write path. Writes mark the 15-minute buckets
and the sessions they touch in work tables inside the same transaction, so derived numbers always
equal a fresh computation from the records.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from agent_trace.domain.records import RecordBatch, Session, bucket_of
from agent_trace.store.port import FileState, TranscriptCursor, UserInfo
from agent_trace.store.sql import call_keys
from agent_trace.store.sql import statements as st
from agent_trace.store.sql.budgets import SqlBudgets
from agent_trace.store.sql.derived import SqlDerived
from agent_trace.store.sql.external import ExternalRecords
from agent_trace.store.sql.identity import SqlIdentity
from agent_trace.store.sql.outcomes import SqlOutcomes
from agent_trace.store.sql.reads import SORT_KEYS, SqlReads
from agent_trace.store.sql.rows import (
    call_row,
    clean_text_rows,
    commit_row,
    file_state_row,
    prompt_row,
    pull_request_row,
    pushed_commit_row,
    raw_row,
    session_row,
    subagent_row,
    tool_row,
    touch_row,
    user_rows,
)
from agent_trace.store.sql.runner import SqlRunner
from agent_trace.store.sql.search import SqlSearch, flush_pending
from agent_trace.store.sql.sqltext import chunks, in_params, now_ms

__all__ = ["SORT_KEYS", "SqlStore"]

# The collector's cursor on a shipped transcript is replaced whole: ingest.deltas owns its content.
_UPSERT_TRANSCRIPT_CURSOR = (
    "INSERT INTO transcript_cursors (session_id, path, end_offset, state, updated_ms) "
    "VALUES (:session_id, :path, :end_offset, :state, :updated_ms) ON CONFLICT (session_id, path) "
    "DO UPDATE SET end_offset = excluded.end_offset, state = excluded.state, updated_ms = excluded.updated_ms"
)


class SqlStore(SqlReads, SqlOutcomes, SqlDerived, SqlIdentity, SqlBudgets, SqlSearch):
    """Store on SQLite or PostgreSQL through a SqlRunner.

    With `external`, the record tables are in another database (store/sql/external.py): this
    store then writes and derives only what SQL keeps, and the owner of the records (the hybrid
    store) settles LLM call keys and owners there itself."""

    def __init__(
        self, runner: SqlRunner, url: str | None = None, external: ExternalRecords | None = None
    ) -> None:
        self.runner = runner
        self.url = url
        self.dialect = runner.dialect
        self.external = external

    def migrate(self) -> None:
        from agent_trace.store.sql.backfill import backfill_users

        self.migrate_schema()
        backfill_users(self)  # data fixes that need the write path (migration 0006_i11)

    def migrate_schema(self) -> None:
        from agent_trace.store.sql.migrate import upgrade

        upgrade(self.runner)

    def schema_revision(self) -> str | None:
        from agent_trace.store.sql.migrate import current_revision

        return current_revision(self.runner)

    def downgrade_schema(self, revision: str) -> None:
        from agent_trace.store.sql.migrate import downgrade

        downgrade(self.runner, revision)

    def events_schema(self) -> tuple[int | None, int] | None:
        return None  # no events database beside this one

    def pending_events_migrations(self) -> list[str]:
        return []

    def write(
        self,
        batch: RecordBatch,
        file_states: list[FileState] | None = None,
        *,
        also_dirty: Iterable[str] = (),
    ) -> None:
        """`also_dirty`: sessions whose summaries this write changes besides those it names (a
        store keeping LLM calls elsewhere passes the first owners of the calls it merges)."""
        now = now_ms()
        # Every session a record points at gets a row (and a change event), even if the source
        # sent no session record of its own.
        known = {s.session_id for s in batch.sessions}
        sessions = list(batch.sessions)
        for sid in self.referenced_sessions(batch):
            if sid not in known:
                sessions.append(Session(session_id=sid))
                known.add(sid)
        session_rows = clean_text_rows([session_row(s, now) for s in sessions])
        prompt_rows = clean_text_rows([prompt_row(p) for p in batch.prompts])
        run = self.runner
        with run.transaction():
            self.lock_writers()
            resolution = call_keys.resolve(run, batch)
            call_rows = clean_text_rows([call_row(c) for c in batch.llm_calls])
            tool_rows = clean_text_rows([tool_row(t) for t in batch.tool_calls])
            dirty_buckets: set[int] = set()
            dirty_sessions: set[str] = set(known)
            old_dims = self.session_dims(list(known))
            # What the merged records already hold: their buckets (a merged record keeps the
            # earlier instant, so its bucket is its stored one or the new row's: no second read
            # after the upserts is needed) and their first owners — records copied into another
            # session keep their first owner, whose summary a merge can change (a larger usage, a
            # worse status, another prompt kind): it is dirty too.
            for table, key, rows in (
                ("prompts", "prompt_id", prompt_rows),
                ("llm_calls", "call_id", call_rows),
                ("tool_calls", "tool_use_id", tool_rows),
            ):
                buckets, owners = self._stored_buckets_and_owners(table, key, [r[key] for r in rows])
                dirty_buckets |= buckets
                dirty_sessions |= owners
            dirty_sessions |= set(also_dirty)
            run.execute_many(st.UPSERT_SESSION, session_rows)
            run.execute_many(st.UPSERT_PROMPT, prompt_rows)
            run.execute_many(st.UPSERT_LLM_CALL, call_rows)
            run.execute_many(st.UPSERT_TOOL_CALL, tool_rows)
            self._upsert_the_rest(batch, session_rows)
            # A pull request or push changes the outcome of the sessions whose commits it holds.
            dirty_sessions |= self._sessions_of_git_events(batch)
            for rows in (prompt_rows, call_rows, tool_rows):
                dirty_buckets.update(r["bucket_ms"] for r in rows if r["bucket_ms"] is not None)
            new_dims = self.session_dims(list(known))
            if self.external is None:
                folded = self._fold_calls(resolution.folds, dirty_buckets, dirty_sessions)
                call_keys.save(run, resolution, [(r["call_id"], r["session_id"]) for r in call_rows])
                restarted = [s for s, dims in new_dims.items() if old_dims.get(s, (None,) * 4)[3] != dims[3]]
                self._settle_owners(
                    call_keys.affected_calls(run, [r["call_id"] for r in call_rows] + folded, restarted),
                    dirty_buckets,
                    dirty_sessions,
                )
            dirty_buckets |= self._buckets_of_changed_dims(old_dims, new_dims)
            run.execute_many(st.MARK_BUCKET, [{"bucket_ms": b} for b in sorted(dirty_buckets)])
            run.execute_many(st.MARK_SESSION, [{"session_id": s} for s in sorted(dirty_sessions)])
            run.execute_many(
                st.ADD_CHANGE, [{"session_id": s, "changed_ms": now} for s in sorted(dirty_sessions)]
            )
            flush_pending(run)
            if file_states:
                run.execute_many(st.UPSERT_FILE_STATE, [file_state_row(f, now) for f in file_states])

    def _upsert_the_rest(self, batch: RecordBatch, session_rows: list[dict[str, Any]]) -> None:
        """The records a write stores as they come (no buckets, owners or call keys to settle)."""
        run = self.runner
        run.execute_many(st.UPSERT_FILE_TOUCH, clean_text_rows([touch_row(f) for f in batch.file_touches]))
        run.execute_many(st.UPSERT_SUBAGENT, clean_text_rows([subagent_row(s) for s in batch.subagents]))
        run.execute_many(st.UPSERT_COMMIT, clean_text_rows([commit_row(c) for c in batch.commits]))
        run.execute_many(
            st.UPSERT_PULL_REQUEST, clean_text_rows([pull_request_row(p) for p in batch.pull_requests])
        )
        run.execute_many(
            st.UPSERT_PUSHED_COMMIT, clean_text_rows([pushed_commit_row(p) for p in batch.pushed_commits])
        )
        run.execute_many(st.UPSERT_USER, user_rows(session_rows))
        run.execute_many(st.UPSERT_RAW_EVENT, clean_text_rows([raw_row(e) for e in batch.raw_events]))

    def _buckets_of_changed_dims(
        self, old_dims: dict[str, tuple[Any, ...]], new_dims: dict[str, tuple[Any, ...]]
    ) -> set[int]:
        """A session whose project, user, agent or start changed moves its records' rollups: the
        buckets its records and its old and new start fall in."""
        buckets: set[int] = set()
        for sid, dims in new_dims.items():
            before = old_dims.get(sid)
            if before != dims:
                if before is not None:
                    buckets |= self._session_buckets(sid)
                    if before[3] is not None:
                        buckets.add(bucket_of(before[3]))
                if dims[3] is not None:
                    buckets.add(bucket_of(dims[3]))
        return buckets

    def _fold_calls(
        self, folds: Sequence[tuple[str, str]], dirty_buckets: set[int], dirty_sessions: set[str]
    ) -> list[str]:
        """Merge calls stored under a bare request id into the message's call now known to hold
        that request id (call_keys.Resolution.folds); returns the keys merged into."""
        run = self.runner
        merged: list[str] = []
        columns = ", ".join(st.LLM_CALL_COLUMNS)
        target = dict(folds)
        found: list[dict[str, Any]] = []
        for chunk in chunks(sorted(target)):  # one query per chunk: folds are rare, checks are not
            placeholders, params = in_params("k", chunk)
            found += [
                dict(zip(st.LLM_CALL_COLUMNS, r, strict=True))
                for r in run.query(
                    f"SELECT {columns} FROM llm_calls WHERE call_id IN ({placeholders}) AND message_id IS NULL",
                    params,
                )
            ]
        for row in found:
            bare = str(row["call_id"])
            key = target[bare]
            row["call_id"] = key
            if row["bucket_ms"] is not None:
                dirty_buckets.add(int(row["bucket_ms"]))
            dirty_sessions.add(str(row["session_id"]))
            run.execute(st.UPSERT_LLM_CALL, row)
            run.execute("DELETE FROM llm_calls WHERE call_id = :k", {"k": bare})
            run.execute("UPDATE tool_calls SET call_id = :key WHERE call_id = :k", {"key": key, "k": bare})
            call_keys.move_holders(run, bare, key)
            merged.append(key)
        return merged

    def _settle_owners(self, call_ids: set[str], dirty_buckets: set[int], dirty_sessions: set[str]) -> None:
        """Give each call to its owner (call_keys.owners), marking what a move changes."""
        if not call_ids:
            return
        wanted = call_keys.owners(self.runner, call_ids)
        for chunk in chunks(sorted(wanted)):
            placeholders, params = in_params("c", chunk)
            rows = self.runner.query(
                f"SELECT call_id, session_id, bucket_ms FROM llm_calls WHERE call_id IN ({placeholders})",
                params,
            )
            moves = [(str(r[0]), str(r[1]), r[2]) for r in rows if wanted.get(str(r[0]), r[1]) != r[1]]
            for call_id, current, bucket in moves:
                dirty_sessions.update((current, wanted[call_id]))
                if bucket is not None:
                    dirty_buckets.add(int(bucket))
            self.runner.execute_many(
                "UPDATE llm_calls SET session_id = :owner WHERE call_id = :call_id",
                [{"owner": wanted[c], "call_id": c} for c, _, _ in moves],
            )

    @staticmethod
    def referenced_sessions(batch: RecordBatch) -> set[str]:
        ids: set[str] = set()
        for group in (batch.prompts, batch.llm_calls, batch.tool_calls, batch.file_touches, batch.subagents):
            ids.update(r.session_id for r in group)
        ids.update(c.session_id for c in batch.commits if c.session_id)
        ids.update(e.session_id for e in batch.raw_events if e.session_id)
        return ids

    def _sessions_of_git_events(self, batch: RecordBatch) -> set[str]:
        if not batch.pull_requests and not batch.pushed_commits:
            return set()
        shas = [p.sha for p in batch.pushed_commits]
        shas += [s for p in batch.pull_requests for s in (p.head_sha, p.merge_sha) if s]
        refs = {(p.repo, p.head_ref) for p in batch.pull_requests if p.head_ref}
        refs |= {(p.repo, p.ref) for p in batch.pushed_commits}
        found = self._owners_where("sha", shas)
        found |= self._owners_where("pr_id", [p.pr_id for p in batch.pull_requests])
        for repo, ref in sorted(refs):
            rows = self.runner.query(
                "SELECT DISTINCT session_id FROM commits WHERE repo = :repo AND branch = :ref "
                "AND session_id IS NOT NULL",
                {"repo": repo, "ref": ref},
            )
            found.update(str(r[0]) for r in rows)
        return found

    def _owners_where(self, column: str, values: Sequence[str]) -> set[str]:
        owners: set[str] = set()
        for chunk in chunks(list(dict.fromkeys(values))):
            placeholders, params = in_params("k", chunk)
            rows = self.runner.query(
                f"SELECT DISTINCT session_id FROM commits WHERE {column} IN ({placeholders}) "
                "AND session_id IS NOT NULL",
                params,
            )
            owners.update(str(r[0]) for r in rows)
        return owners

    def _stored_buckets_and_owners(
        self, table: str, key: str, ids: Sequence[str]
    ) -> tuple[set[int], set[str]]:
        """The buckets and sessions of the stored records among `ids` (one read per chunk)."""
        buckets: set[int] = set()
        owners: set[str] = set()
        for chunk in chunks(list(dict.fromkeys(ids))):
            placeholders, params = in_params("k", chunk)
            rows = self.runner.query(
                f"SELECT DISTINCT bucket_ms, session_id FROM {table} WHERE {key} IN ({placeholders})", params
            )
            for bucket, owner in rows:
                if bucket is not None:
                    buckets.add(int(bucket))
                owners.add(str(owner))
        return buckets, owners

    def session_dims(self, ids: Sequence[str]) -> dict[str, tuple[Any, ...]]:
        dims: dict[str, tuple[Any, ...]] = {}
        for chunk in chunks(list(ids)):
            placeholders, params = in_params("k", chunk)
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

    def health(self) -> dict[str, str]:
        """ "ok" or the error per database behind this store (never raises: /health reports it)."""
        try:
            self.runner.query("SELECT 1")
            return {"database": "ok"}
        except Exception as exc:  # any driver error means: not healthy
            return {"database": f"error: {type(exc).__name__}"}

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
                st.UPSERT_INSTANCE_SETTING, {"key": key, "value": value, "updated_ms": now_ms()}
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
        now = now_ms()
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

    def close(self) -> None:
        self.runner.close()
