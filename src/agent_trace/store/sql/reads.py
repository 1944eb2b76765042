"""The read side of the SQL adapter: rollups, session lists, replays, the change feed."""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from agent_trace.domain.prompts import HUMAN_PROMPT_KINDS
from agent_trace.domain.records import BUCKET_MS, bucket_of
from agent_trace.store.port import (
    DAY_MS,
    ROLLUP_DIMENSIONS,
    ROLLUP_METRICS,
    ActivityBucket,
    Change,
    DayTotal,
    Filters,
    InvalidQuery,
    OutcomeRow,
    SessionDetail,
    SessionPage,
    SessionQuery,
    ToolBucket,
    UsageBucket,
)
from agent_trace.store.sql.external import ExternalRecords
from agent_trace.store.sql.rows import (
    SESSION_SUMMARY_FIELDS,
    TABLE_COLUMNS,
    activity_bucket,
    summary_from_row,
    tool_bucket,
    usage_bucket,
)
from agent_trace.store.sql.runner import SqlRunner
from agent_trace.store.sql.sqltext import ascii_lower, chunks, in_params, like_escape
from agent_trace.store.sql.statements import USAGE_COLUMNS
from agent_trace.store.sql.upsert import sql_list

# The columns of Store.reported_calls (reports/reconcile.py reads them).
REPORTED_CALL_COLUMNS = (
    "call_id",
    "session_id",
    "model",
    "speed",
    "ts_ms",
    *USAGE_COLUMNS,
    "cost_nusd",
    "reported_cost_nusd",
)

_SORTS = {
    "started": "COALESCE(s.started_ms, 0)",
    "updated": "s.updated_ms",
    "activity": "COALESCE(s.last_activity_ms, s.started_ms, 0)",
    "cost": "s.cost_nusd",
    "tokens": "(s.input_tokens + s.output_tokens + s.cache_creation_tokens + s.cache_read_tokens)",
    "prompts": "s.n_prompts",
    "tool_calls": "s.n_tool_calls",
    # Wall time as the session list shows it: from the start to the latest known moment.
    "duration": (
        "(COALESCE(CASE WHEN s.ended_ms > COALESCE(s.last_activity_ms, 0) THEN s.ended_ms "
        "ELSE s.last_activity_ms END, s.started_ms, 0) - COALESCE(s.started_ms, 0))"
    ),
    "user": "COALESCE(s.user_id, '')",
    "repo": "COALESCE(s.git_repo, s.project, '')",
}
_TEXT_SORTS = frozenset({"user", "repo"})

SORT_KEYS = tuple(_SORTS)


def daily_query_filters(
    rollup: str, filters: Filters, utc_offsets: Sequence[tuple[int, int]], group_by: tuple[str, ...]
) -> Filters:
    """Check a `daily_totals` query (every backend answers it alike) and return its filters: only
    the usage rollup has a model dimension."""
    if rollup not in ROLLUP_METRICS:
        raise InvalidQuery("rollup", f"must be one of {', '.join(ROLLUP_METRICS)}", given=repr(rollup))
    unknown = [d for d in group_by if d not in ROLLUP_DIMENSIONS[rollup]]
    if unknown:
        raise InvalidQuery(
            "group_by",
            f"{rollup} can be grouped by {', '.join(ROLLUP_DIMENSIONS[rollup])}",
            given=",".join(unknown),
        )
    if not utc_offsets:
        raise InvalidQuery("utc_offsets", "at least one (from_ms, offset_ms) pair")
    if rollup != "usage":
        return Filters(filters.since_ms, filters.until_ms, filters.project, None, filters.user, filters.agent)
    return filters


def day_totals(rollup: str, group_by: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> list[DayTotal]:
    """Rows of (day, *group key, *metric sums) as DayTotals, the groups of one day in key order
    (code points): the same order from every backend."""
    metrics = ROLLUP_METRICS[rollup]
    width = len(group_by)
    totals = [
        DayTotal(
            int(r[0]),
            tuple(str(v) for v in r[1 : 1 + width]),
            {m: int(v or 0) for m, v in zip(metrics, r[1 + width :], strict=True)},
        )
        for r in rows
    ]
    return sorted(totals, key=lambda t: (t.day, t.key))


class SqlReads:
    """Mixin of SqlStore: every query the Store port answers from SQL."""

    runner: SqlRunner
    dialect: str
    external: ExternalRecords | None  # where the record tables are, when not in this database
    ensure_fresh: Callable[[], None]  # SqlDerived: rebuild what writes left pending

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
            params["model"] = "%" + like_escape(ascii_lower(filters.model)) + "%"
        return (" WHERE " + " AND ".join(where)) if where else "", params

    def bucket_filters(self, filters: Filters) -> Filters:
        """Rollups hold whole buckets: widen `since` down and `until` up to bucket edges."""
        since = filters.since_ms
        until = filters.until_ms
        if since is not None:
            since = bucket_of(since)
        if until is not None and until % BUCKET_MS:
            until = bucket_of(until) + BUCKET_MS
        return Filters(since, until, filters.project, filters.model, filters.user, filters.agent)

    def usage_buckets(self, filters: Filters) -> list[UsageBucket]:
        self.ensure_fresh()
        where, params = self._filter_sql(
            self.bucket_filters(filters),
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
        return [usage_bucket(r) for r in sorted(rows, key=lambda r: (int(r[0]), *map(str, r[1:5])))]

    def _rollup_rows(self, table: str, columns: str, filters: Filters, keys: int) -> list[Any]:
        """Rows of a rollup without a model dimension, in bucket order and then key order (code
        points: the same order from every backend); the key is the `keys` columns after bucket_ms."""
        self.ensure_fresh()
        f = self.bucket_filters(filters)
        where, params = self._filter_sql(
            Filters(f.since_ms, f.until_ms, f.project, None, f.user, f.agent),
            time_col="bucket_ms",
            project_col="project",
            user_col="user_id",
            agent_col="agent",
            model_col=None,
        )
        rows = self.runner.query(f"SELECT {columns} FROM {table}{where} ORDER BY bucket_ms", params)
        rows.sort(key=lambda r: (int(r[0]), *map(str, r[1 : 1 + keys])))
        return rows

    def activity_buckets(self, filters: Filters) -> list[ActivityBucket]:
        rows = self._rollup_rows(
            "activity_rollup",
            "bucket_ms, project, user_id, agent, prompts, tool_calls, tool_errors, sessions",
            filters,
            keys=3,
        )
        return [activity_bucket(r) for r in rows]

    def tool_buckets(self, filters: Filters) -> list[ToolBucket]:
        rows = self._rollup_rows(
            "tool_rollup",
            "bucket_ms, project, user_id, agent, tool_name, calls, errors, duration_ms",
            filters,
            keys=4,
        )
        return [tool_bucket(r) for r in rows]

    def daily_totals(
        self,
        rollup: str,
        filters: Filters,
        utc_offsets: Sequence[tuple[int, int]],
        group_by: tuple[str, ...] = (),
    ) -> list[DayTotal]:
        f = daily_query_filters(rollup, filters, utc_offsets, group_by)
        self.ensure_fresh()
        f = self.bucket_filters(f)
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
        return day_totals(rollup, group_by, rows)

    def list_sessions(self, query: SessionQuery) -> SessionPage:
        self.ensure_fresh()
        descending = query.sort.startswith("-")
        sort_name = query.sort.lstrip("-+")
        if sort_name not in _SORTS:
            raise InvalidQuery(
                "sort",
                f"must be one of {', '.join(SORT_KEYS)} (prefix '-' = descending)",
                given=repr(query.sort),
            )
        if not 1 <= query.limit <= 1000:
            raise InvalidQuery("limit", "must be between 1 and 1000", given=str(query.limit))
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
                raise InvalidQuery("session_ids", f"at most 1000 per query, got {len(query.session_ids)}")
            placeholders, id_params = in_params("sid", list(dict.fromkeys(query.session_ids)))
            clauses.append(f"s.session_id IN ({placeholders})")
            params.update(id_params)
        if query.text:
            params["text"] = "%" + like_escape(ascii_lower(query.text)) + "%"
            clauses.append(
                "(LOWER(COALESCE(s.title, '')) LIKE :text ESCAPE '\\' OR LOWER(COALESCE(s.project, '')) LIKE :text "
                "ESCAPE '\\' OR LOWER(s.session_id) LIKE :text ESCAPE '\\' OR LOWER(COALESCE(s.git_branch, '')) "
                f"LIKE :text ESCAPE '\\' OR {self._prompt_text_match(query.text, params)})"
            )
        if query.cursor:
            try:
                value, cursor_sid = orjson.loads(base64.urlsafe_b64decode(query.cursor.encode()))
                value = str(value) if sort_name in _TEXT_SORTS else int(value)
                cursor_sid = str(cursor_sid)
            except (ValueError, TypeError, orjson.JSONDecodeError):
                raise InvalidQuery("cursor", "not a cursor this API returned") from None
            op = "<" if descending else ">"
            clauses.append(f"({sort_expr} {op} :cv OR ({sort_expr} = :cv AND s.session_id {op} :csid))")
            params["cv"] = value
            params["csid"] = cursor_sid
        where_sql = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        direction = "DESC" if descending else "ASC"
        params["limit"] = query.limit + 1
        rows = self.runner.query(
            f"SELECT {SESSION_SUMMARY_FIELDS}, {sort_expr}, {self._first_prompt_sql()}, "
            "s.outcome_label, s.outcome_score, s.n_commits "
            f"FROM sessions s{where_sql} ORDER BY {sort_expr} {direction}, s.session_id {direction} LIMIT :limit",
            params,
        )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        sessions = [summary_from_row(r) for r in rows]
        next_cursor = None
        if more and rows:
            last = rows[-1]
            sort_value = str(last[29] or "") if sort_name in _TEXT_SORTS else int(last[29] or 0)
            token = orjson.dumps([sort_value, last[0]])
            next_cursor = base64.urlsafe_b64encode(token).decode()
        return SessionPage(sessions, next_cursor)

    def _prompt_text_match(self, text: str, params: dict[str, Any]) -> str:
        """SQL, true when session `s` has a prompt whose text contains :text (set in `params`)."""
        if self.external is not None:
            matches = self.external.sessions_with_prompt_text(text)
            if not matches:
                return "1 = 0"
            if self.dialect == "postgresql":
                params["prompt_matches"] = matches
                return "s.session_id = ANY(CAST(:prompt_matches AS TEXT[]))"
            params["prompt_matches"] = orjson.dumps(matches).decode()
            return "s.session_id IN (SELECT value FROM json_each(:prompt_matches))"
        return (
            "EXISTS (SELECT 1 FROM prompts p WHERE p.session_id = s.session_id "
            "AND LOWER(COALESCE(p.text, '')) LIKE :text ESCAPE '\\')"
        )

    def _first_prompt_sql(self) -> str:
        """SQL for the text of session `s`'s first typed prompt: a summary column (migration
        0005), kept by the refresh of derived data like the counts beside it."""
        return "s.first_prompt"

    def session_commits(self, session_ids: Sequence[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for chunk in chunks(list(dict.fromkeys(session_ids))):
            placeholders, params = in_params("s", chunk)
            out += self.dict_rows(
                f"SELECT * FROM commits WHERE session_id IN ({placeholders}) ORDER BY sha", params
            )
        return out

    def outcome_rows(self, filters: Filters) -> list[OutcomeRow]:
        self.ensure_fresh()
        where, params = self._filter_sql(
            filters,
            time_col="s.started_ms",
            project_col="s.project",
            user_col="s.user_id",
            agent_col="s.agent",
            model_col="s.models",
        )
        rows = self.runner.query(
            "SELECT s.session_id, s.project, s.user_id, s.started_ms, s.cost_nusd, s.outcome_label, "
            "s.outcome_score, s.n_commits, s.merged_prs, s.agent_lines, s.commit_lines, s.primary_model, "
            f"SUBSTR(COALESCE(s.title, s.first_prompt), 1, 200) FROM sessions s{where} ORDER BY s.session_id",
            params,
        )
        return [
            OutcomeRow(
                str(r[0]),
                r[1],
                r[2],
                r[3],
                int(r[4] or 0),
                r[5],
                r[6],
                int(r[7] or 0),
                int(r[8] or 0),
                int(r[9] or 0),
                int(r[10] or 0),
                r[11],
                r[12],
            )
            for r in rows
        ]

    def session_pull_requests(self, session_id: str) -> list[dict[str, Any]]:
        """The pull/merge requests holding the session's commits (linked by store.sql.outcomes)."""
        return self.dict_rows(
            "SELECT * FROM pull_requests WHERE pr_id IN (SELECT pr_id FROM commits WHERE session_id = :sid) "
            "ORDER BY number, pr_id",
            {"sid": session_id},
        )

    def session_detail(self, session_id: str) -> SessionDetail | None:
        self.ensure_fresh()
        session_rows = self.dict_rows("SELECT * FROM sessions WHERE session_id = :sid", {"sid": session_id})
        if not session_rows:
            return None
        params = {"sid": session_id}
        return SessionDetail(
            session=session_rows[0],
            prompts=self.dict_rows(
                "SELECT * FROM prompts WHERE session_id = :sid ORDER BY ts_ms NULLS FIRST, prompt_id", params
            ),
            llm_calls=self.dict_rows(
                "SELECT * FROM llm_calls WHERE session_id = :sid ORDER BY ts_ms NULLS FIRST, call_id", params
            ),
            tool_calls=self.dict_rows(
                "SELECT * FROM tool_calls WHERE session_id = :sid ORDER BY COALESCE(started_ms, ended_ms) NULLS FIRST, tool_use_id",
                params,
            ),
            file_touches=self.dict_rows(
                "SELECT * FROM file_touches WHERE session_id = :sid ORDER BY ts_ms NULLS FIRST, path, op, tool_use_id",
                params,
            ),
            subagents=self.dict_rows(
                "SELECT * FROM subagents WHERE session_id = :sid ORDER BY started_ms NULLS FIRST, agent_id",
                params,
            ),
            commits=self.dict_rows(
                "SELECT * FROM commits WHERE session_id = :sid ORDER BY ts_ms NULLS FIRST, sha", params
            ),
            pull_requests=self.session_pull_requests(session_id),
        )

    def dict_rows(self, sql: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
        # Column names come from the SELECT * expansion; portable through both runners.
        names, rows = self._query_with_names(sql, params)
        return [dict(zip(names, row, strict=True)) for row in rows]

    def _query_with_names(
        self, sql: str, params: Mapping[str, Any]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        table = sql.split(" FROM ", 1)[1].split()[0]
        names = TABLE_COLUMNS[table]
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

    def reported_calls(self, session_ids: Sequence[str]) -> list[dict[str, Any]]:
        self.ensure_fresh()
        out: list[dict[str, Any]] = []
        for chunk in chunks(sorted(set(session_ids))):
            placeholders, params = in_params("s", chunk)
            rows = self.runner.query(
                f"SELECT {', '.join(REPORTED_CALL_COLUMNS)} FROM llm_calls WHERE session_id IN ({placeholders}) "
                "AND has_usage = 1 AND reported_cost_nusd IS NOT NULL",
                params,
            )
            out += [dict(zip(REPORTED_CALL_COLUMNS, r, strict=True)) for r in rows]
        out.sort(key=lambda r: (r["session_id"], r["ts_ms"] is not None, r["ts_ms"] or 0, r["call_id"]))
        return out

    def counts(self) -> dict[str, int]:
        """Rows per kind; `prompts` counts what the reports count (typed prompts and slash
        commands, not task notifications), so the import summary and `report` agree."""
        out: dict[str, int] = {}
        human = sql_list(HUMAN_PROMPT_KINDS)
        for table in ("sessions", "prompts", "llm_calls", "tool_calls", "subagents", "commits", "raw_events"):
            where = f" WHERE kind IN ({human})" if table == "prompts" else ""
            out[table] = int(self.runner.query(f"SELECT COUNT(*) FROM {table}{where}")[0][0])
        return out
