"""Derived data of the SQL adapter: 15-minute rollups and per-session summary columns.

Writes mark the buckets and sessions they touch (`dirty_buckets`, `dirty_sessions`) in their own
transaction; `refresh_derived` rebuilds exactly those from the records, so every derived number
equals a fresh computation. Reads call `ensure_fresh` first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_trace.domain.merge_rules import FAILED_STATUSES
from agent_trace.domain.prompts import HUMAN_PROMPT_KINDS
from agent_trace.domain.records import NO_MODEL_LABEL, SIDECHAIN_AGENT
from agent_trace.store.port import USAGE_SUMS
from agent_trace.store.sql import rollup_sql
from agent_trace.store.sql.external import ExternalRecords
from agent_trace.store.sql.runner import Row, SqlRunner
from agent_trace.store.sql.search import flush_pending
from agent_trace.store.sql.sqltext import chunks, in_params
from agent_trace.store.sql.upsert import sql_list

# Every writer and refresh on PostgreSQL takes this transaction-level advisory lock first: writes
# are idempotent merges that read before they write (dirty buckets, owners, dimensions), so one
# writer at a time is what keeps them exact - the same one-writer rule SQLite's BEGIN IMMEDIATE
# gives - and two writers can never deadlock on rows locked in different orders.
WRITER_LOCK_KEY = 0x61676E74  # "agnt"


class SqlDerived:
    """Mixin of SqlStore: the refresh of rollups and session summaries."""

    runner: SqlRunner
    dialect: str
    external: ExternalRecords | None

    def _lock_suffix(self) -> str:
        # On PostgreSQL a concurrent writer re-marking a bucket waits for this refresh to commit,
        # so its mark survives and is picked up by the next refresh.
        return " FOR UPDATE" if self.dialect == "postgresql" else ""

    def has_pending_refresh(self) -> bool:
        rows = self.runner.query(
            "SELECT 1 FROM dirty_buckets UNION ALL SELECT 1 FROM dirty_sessions LIMIT 1",
        )
        return bool(rows)

    def lock_writers(self) -> None:
        """Inside a write transaction: wait until no other writer holds the lock (PostgreSQL;
        SQLite's BEGIN IMMEDIATE already admits one writer at a time)."""
        if self.dialect == "postgresql":
            self.runner.query("SELECT pg_advisory_xact_lock(:key)", {"key": WRITER_LOCK_KEY})

    def refresh_derived(self) -> None:
        run = self.runner
        with run.transaction():
            self.lock_writers()
            flush_pending(run)  # rows noted by a statement outside Store.write (a migration)
            buckets: list[int] = []
            if self.external is not None:
                # The records' rollups are materialized views beside them, current after every
                # write: bucket marks (session dimension changes) need no work here.
                run.execute("DELETE FROM dirty_buckets")
            else:
                query = "SELECT bucket_ms FROM dirty_buckets" + self._lock_suffix()
                buckets = [int(r[0]) for r in run.query(query)]
            human = sql_list(HUMAN_PROMPT_KINDS)
            for chunk in chunks(sorted(buckets)):
                placeholders, params = in_params("b", chunk)
                statements = (
                    rollup_sql.rebuild_usage_rollup(placeholders)
                    + rollup_sql.rebuild_activity_rollup(placeholders, human)
                    + rollup_sql.rebuild_tool_rollup(placeholders)
                )
                for sql in statements:
                    run.execute(sql, params)
                run.execute(f"DELETE FROM dirty_buckets WHERE bucket_ms IN ({placeholders})", params)
            sessions = [
                str(r[0]) for r in run.query("SELECT session_id FROM dirty_sessions" + self._lock_suffix())
            ]
            for chunk in chunks(sorted(sessions)):
                self._refresh_session_summaries(chunk)
                placeholders, params = in_params("s", chunk)
                run.execute(f"DELETE FROM dirty_sessions WHERE session_id IN ({placeholders})", params)

    def _refresh_session_summaries(self, session_ids: Sequence[str]) -> None:
        run = self.runner
        placeholders, params = in_params("s", session_ids)
        summary = {sid: _empty_summary(sid) for sid in session_ids}
        models: dict[str, list[str]] = {sid: [] for sid in session_ids}
        unpriced: dict[str, list[str]] = {sid: [] for sid in session_ids}

        def bump_last(sid: str, value: Any) -> None:
            if value is not None:
                current = summary[sid]["last_activity_ms"]
                if current is None or value > current:
                    summary[sid]["last_activity_ms"] = int(value)

        llm_rows, prompt_rows, tool_rows, subagent_rows, first_rows = self._event_summary_rows(session_ids)
        for row in first_rows:
            summary[row[0]]["first_prompt"] = row[1]
        best_model = _add_llm_rows(summary, models, unpriced, llm_rows)
        for row in llm_rows:
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
            summary[sid]["primary_model"] = best_model[sid][2] if sid in best_model else None
            summary[sid]["models"] = ",".join(sorted(names)) or None
            summary[sid]["unpriced_models"] = ",".join(sorted(unpriced[sid])) or None
        run.execute_many(
            "UPDATE sessions SET n_prompts = :n_prompts, n_llm_calls = :n_llm_calls, n_tool_calls = :n_tool_calls, "
            "n_tool_errors = :n_tool_errors, n_subagents = :n_subagents, input_tokens = :input_tokens, "
            "output_tokens = :output_tokens, cache_creation_tokens = :cache_creation_tokens, "
            "cache_5m_tokens = :cache_5m_tokens, cache_1h_tokens = :cache_1h_tokens, "
            "cache_read_tokens = :cache_read_tokens, cost_nusd = :cost_nusd, unpriced_calls = :unpriced_calls, "
            "models = :models, unpriced_models = :unpriced_models, last_activity_ms = :last_activity_ms, "
            "first_prompt = :first_prompt, primary_model = :primary_model WHERE session_id = :sid",
            list(summary.values()),
        )
        self._refresh_outcomes(session_ids)

    def _refresh_outcomes(self, session_ids: Sequence[str]) -> None:
        """Commit links and session outcomes (store.sql.outcomes.SqlOutcomes)."""

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
        if self.external is not None:
            return self.external.summary_rows(session_ids)
        run = self.runner
        placeholders, params = in_params("s", session_ids)
        human = sql_list(HUMAN_PROMPT_KINDS)
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
                f"SELECT session_id, COUNT(*), SUM(CASE WHEN status IN ({sql_list(FAILED_STATUSES)}) THEN 1 ELSE 0 END), "
                f"MAX(COALESCE(ended_ms, started_ms)) FROM tool_calls WHERE session_id IN ({placeholders}) "
                "GROUP BY session_id",
                params,
            ),
            run.query(
                f"SELECT session_id, COUNT(*) FROM subagents sa WHERE session_id IN ({placeholders}) "
                # A made-up sidechain subagent whose calls all went to a real one is that one.
                f"AND (agent_id NOT LIKE '{SIDECHAIN_AGENT}%' OR EXISTS (SELECT 1 FROM llm_calls c "
                "WHERE c.session_id = sa.session_id AND c.agent_id = sa.agent_id)) "
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

    def ensure_fresh(self) -> None:
        if self.has_pending_refresh():
            self.refresh_derived()


def _empty_summary(sid: str) -> dict[str, Any]:
    return {
        "sid": sid,
        "n_prompts": 0,
        "n_llm_calls": 0,
        "n_tool_calls": 0,
        "n_tool_errors": 0,
        "n_subagents": 0,
        **dict.fromkeys(USAGE_SUMS, 0),
        "models": None,
        "unpriced_models": None,
        "last_activity_ms": None,
        "first_prompt": None,
    }


def _add_llm_rows(
    summary: dict[str, dict[str, Any]],
    models: dict[str, list[str]],
    unpriced: dict[str, list[str]],
    llm_rows: list[tuple[Any, ...]],
) -> dict[str, tuple[int, int, str]]:
    """Sum the per-model LLM rows (session, model, calls, the USAGE_SUMS…, unpriced, last) into
    each session's summary; returns each session's rank of its costliest model (outcomes count
    results under it; ties by name)."""
    best_model: dict[str, tuple[int, int, str]] = {}
    for row in llm_rows:
        s = summary[row[0]]
        if row[1]:
            models[row[0]].append(str(row[1]))
        if row[10]:
            unpriced[row[0]].append(str(row[1]) if row[1] else NO_MODEL_LABEL)
        s["n_llm_calls"] += int(row[2])
        rank = (int(row[9] or 0), -int(row[2]), str(row[1] or ""))
        if row[1] and (best_model.get(row[0]) is None or rank > best_model[row[0]]):
            best_model[row[0]] = rank
        for index, name in enumerate(USAGE_SUMS, start=3):
            s[name] += int(row[index] or 0)
    return best_model
