"""Full-text search on the SQL store: SQLite FTS5 or PostgreSQL tsvector (migration 0006_i13).

One query per record kind (prompts, tool calls, responses), each ranked by its engine (FTS5
bm25, PostgreSQL ts_rank) over the most recent RANKED matches and cut at the limit; the answers
are merged by score. Snippets are
cut in Python (domain/search_text.py), so they look alike on every backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent_trace.domain.search_text import prefix_last, query_terms, snippet
from agent_trace.store.port import Filters, SearchHit, SearchQuery
from agent_trace.store.sql.runner import SqlRunner
from agent_trace.store.sql.sqltext import in_params

# Characters of a field read back to cut a snippet from (the match is usually early; a match
# further in still ranks, and its record is shown without a snippet).
SNIPPET_SOURCE_CHARS = 200_000


# kind → (table, key column, time expression, tool-name column, [(field, column)])
KINDS: dict[str, tuple[str, str, str, str, list[tuple[str, str]]]] = {
    "prompt": ("prompts", "prompt_id", "t.ts_ms", "NULL", [("prompt", "text")]),
    "tool_call": (
        "tool_calls",
        "tool_use_id",
        "COALESCE(t.started_ms, t.ended_ms)",
        "t.tool_name",
        [("input", "input_json"), ("error", "error"), ("output", "output_text")],
    ),
    "response": ("llm_calls", "call_id", "t.ts_ms", "NULL", [("response", "response_text")]),
}


# Ranking reads each match's statistics (PostgreSQL: its whole tsvector); a word in a third of
# the records would cost seconds. Every backend ranks the most recent RANKED matches: SQLite's
# index walks them newest first and stops there; PostgreSQL sorts the matches by time (a small
# column) and ranks those; ClickHouse likewise.
RANKED = 5_000


def flush_pending(run: SqlRunner) -> None:
    """SQLite: index the rows noted since the last flush, in one statement per table (migration
    0007_fts_pending: a trigger indexing row by row made FTS5 write a segment per row). Called at
    the end of every write transaction, so the index never lags a commit."""
    if run.dialect != "sqlite":
        return
    tables = [kind[0] for kind in KINDS.values()]
    placeholders, params = in_params("t", [f"{t}_fts_pending" for t in tables])
    # A store still at an older revision has no pending tables (and no triggers noting rows).
    if not run.query(
        f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name IN ({placeholders})", params
    ):
        return
    for table, _key, _time, _tool, fields in KINDS.values():
        run.execute(index_pending_statement(table, [column for _field, column in fields]))
        run.execute(f"DELETE FROM {table}_fts_pending")


def index_pending_statement(table: str, columns: list[str]) -> str:
    """Index the rows of `table` noted in its pending table (SQLite FTS5)."""
    return (
        f"INSERT INTO {table}_fts (rowid, {', '.join(columns)}) SELECT t.rowid, "
        + ", ".join(f"t.{c}" for c in columns)
        # CROSS JOIN: SQLite keeps the left table outermost; the planner otherwise scans the
        # whole record table (the small pending table has no statistics) on every write.
        + f" FROM {table}_fts_pending q CROSS JOIN {table} t ON t.rowid = q.id WHERE "
        + " OR ".join(f"t.{c} IS NOT NULL" for c in columns)
    )


def fts5_match(terms: list[list[str]]) -> str:
    """FTS5 query: each term a quoted phrase of its words (words are letters and digits only,
    so nothing in them is FTS5 syntax), all required, the last word maybe a prefix."""
    parts = ['"' + " ".join(t) + '"' for t in terms]
    if prefix_last(terms):
        parts[-1] += "*"
    return " AND ".join(parts)


def pg_tsquery(terms: list[list[str]]) -> str:
    parts = [" <-> ".join(t) for t in terms]
    if prefix_last(terms):
        parts[-1] += ":*"
    return " & ".join(f"({p})" for p in parts)


def hits_from_rows(
    kind: str, rows: list[tuple[Any, ...]], terms: list[list[str]], fields: list[tuple[str, str]]
) -> list[SearchHit]:
    """Rows of (key, session_id, prompt_id, ts_ms, tool_name, agent_id, score, *field texts)."""
    hits = []
    for row in rows:
        texts = row[7:]
        found = next(
            (
                (name, cut)
                for (name, _), text in zip(fields, texts, strict=True)
                if (cut := snippet(text or "", terms))
            ),
            (fields[0][0], ""),
        )
        hits.append(
            SearchHit(
                kind=kind,
                session_id=str(row[1]),
                ref_id=str(row[0]),
                prompt_id=row[2],
                field=found[0],
                snippet=found[1],
                score=float(row[6] or 0.0),
                ts_ms=None if row[3] is None else int(row[3]),
                tool_name=row[4],
                agent_id=row[5],
            )
        )
    return hits


class SqlSearch:
    """Mixin of SqlStore: `search`."""

    runner: SqlRunner
    dialect: str
    ensure_fresh: Callable[[], None]
    _filter_sql: Callable[..., tuple[str, dict[str, Any]]]

    def search(self, query: SearchQuery) -> list[SearchHit]:
        terms = query_terms(query.text)
        if not terms:
            return []
        hits: list[SearchHit] = []
        for kind, spec in KINDS.items():
            if kind in query.kinds:
                hits.extend(self._search_kind(kind, spec, terms, query.filters, query.limit))
        hits.sort(key=lambda h: -h.score)
        return hits[: query.limit]

    def _search_kind(
        self,
        kind: str,
        spec: tuple[str, str, str, str, list[tuple[str, str]]],
        terms: list[list[str]],
        filters: Filters,
        limit: int,
    ) -> list[SearchHit]:
        table, key, time_expr, tool_col, fields = spec
        where, params = self._filter_sql(
            Filters(filters.since_ms, filters.until_ms, filters.project, None, filters.user, filters.agent),
            time_col=time_expr,
            project_col="s.project",
            user_col="s.user_id",
            agent_col="s.agent",
            model_col=None,
        )
        needs_session = bool(filters.project or filters.user or filters.agent)
        join = " JOIN sessions s ON s.session_id = t.session_id" if needs_session else ""
        extra = (" AND " + where[len(" WHERE ") :]) if where else ""
        texts = ", ".join(f"SUBSTR(t.{col}, 1, {SNIPPET_SOURCE_CHARS})" for _, col in fields)
        agent = "NULL" if kind == "prompt" else "t.agent_id"
        head = f"t.{key}, t.session_id, t.prompt_id, {time_expr}, {tool_col}, {agent}"
        params["limit"] = limit
        if self.dialect == "sqlite":
            fts = f"{table}_fts"
            params["match"] = fts5_match(terms)
            filtered = f" JOIN {table} t ON t.rowid = {fts}.rowid{join}" if extra else ""
            window = (
                f"SELECT {fts}.rowid AS rid, bm25({fts}) AS score FROM {fts}{filtered} "
                f"WHERE {fts} MATCH :match{extra} ORDER BY {fts}.rowid DESC LIMIT {RANKED}"
            )
            sql = (
                f"SELECT {head}, -w.score, {texts} FROM ({window}) w JOIN {table} t ON t.rowid = w.rid "
                f"ORDER BY w.score LIMIT :limit"
            )
        else:
            params["tsq"] = pg_tsquery(terms)
            window = (
                f"SELECT t.{key} AS k FROM {table} t{join} WHERE t.search_doc @@ to_tsquery('simple', :tsq)"
                f"{extra} ORDER BY {time_expr} DESC NULLS LAST LIMIT {RANKED}"
            )
            sql = (
                f"SELECT {head}, ts_rank(t.search_doc, q.tsq), {texts} FROM ({window}) w "
                f"JOIN {table} t ON t.{key} = w.k, to_tsquery('simple', :tsq) AS q(tsq) "
                f"ORDER BY 7 DESC LIMIT :limit"
            )
        return hits_from_rows(kind, self.runner.query(sql, params), terms, fields)
