"""Read queries of the hybrid store on ClickHouse, each answering exactly as its SQL twin in
store/sql/adapter.py does (same rows, same order, same NULL handling)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_trace.domain.merge_rules import FAILED_STATUSES
from agent_trace.domain.prompts import HUMAN_PROMPT_KINDS
from agent_trace.domain.records import SIDECHAIN_AGENT
from agent_trace.store.clickhouse.client import ClickHouseClient
from agent_trace.store.clickhouse.events import (
    FILE_TOUCH,
    KIND_COLUMNS,
    LLM_CALL,
    PROMPT,
    RECORD_COLUMNS,
    SUBAGENT,
    TOOL_CALL,
    live,
)
from agent_trace.store.port import ROLLUP_METRICS, Filters
from agent_trace.store.sql.sqltext import ascii_lower
from agent_trace.store.sql.upsert import sql_list

Row = tuple[Any, ...]
_ERROR_STATUSES = f"({sql_list(FAILED_STATUSES)})"
_HUMAN_KINDS = f"({sql_list(HUMAN_PROMPT_KINDS)})"

# Rollup name (as in the Store port) → materialized-view table, its metric columns (in the
# SQL rollup's order) and the condition under which a group exists in the SQL rollup: groups
# whose every contribution was cancelled sum to zero and must not appear.
ROLLUPS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "usage": (
        "model_cost_daily",
        ROLLUP_METRICS["usage"],
        "calls != 0",
    ),
    "activity": (
        "daily_user_metrics",
        ("prompts", "tool_calls", "tool_errors", "sessions"),
        "prompts != 0 OR tool_calls != 0 OR tool_errors != 0 OR sessions != 0",
    ),
    "tool": ("tool_usage_daily", ("calls", "errors", "duration_ms"), "calls != 0"),
}
ROLLUP_DIMS = {
    "usage": ("project", "user_id", "agent", "model"),
    "activity": ("project", "user_id", "agent"),
    "tool": ("project", "user_id", "agent", "tool_name"),
}


def _like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def rollup_where(filters: Filters, *, with_model: bool) -> tuple[str, dict[str, Any]]:
    """WHERE for a rollup table; `filters` already widened to whole buckets (like the SQL store)."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if filters.since_ms is not None:
        where.append("bucket_ms >= {since_ms:Int64}")
        params["since_ms"] = filters.since_ms
    if filters.until_ms is not None:
        where.append("bucket_ms < {until_ms:Int64}")
        params["until_ms"] = filters.until_ms
    if filters.project:
        # The SQL store's case-sensitive suffix test; the suffix starts with '/', so a byte
        # suffix is a character suffix.
        where.append("(project = {project:String} OR endsWith(project, {project_tail:String}))")
        params["project"] = filters.project
        params["project_tail"] = "/" + filters.project.rstrip("/")
    if filters.user:
        where.append("user_id = {user:String}")
        params["user"] = filters.user
    if filters.agent:
        where.append("agent = {agent:String}")
        params["agent"] = filters.agent
    if filters.model and with_model:
        where.append("lower(model) LIKE {model:String}")
        params["model"] = "%" + _like_escape(ascii_lower(filters.model)) + "%"
    return (" WHERE " + " AND ".join(where)) if where else "", params


def bucket_rows(client: ClickHouseClient, rollup: str, filters: Filters) -> list[Row]:
    """(bucket_ms, *dims, *metrics) per existing group, sorted like the SQL store's rows."""
    table, metrics, exists = ROLLUPS[rollup]
    dims = ROLLUP_DIMS[rollup]
    where, params = rollup_where(filters, with_model=rollup == "usage")
    sums = ", ".join(f"sum({m}) AS {m}" for m in metrics)
    rows = client.query(
        f"SELECT bucket_ms, {', '.join(dims)}, {sums} FROM {table}{where} "
        f"GROUP BY bucket_ms, {', '.join(dims)} HAVING {exists}",
        params,
    )
    rows.sort(key=lambda r: (int(r[0]), *map(str, r[1 : 1 + len(dims)])))
    return rows


def daily_rows(
    client: ClickHouseClient,
    rollup: str,
    filters: Filters,
    offsets: Sequence[tuple[int, int]],
    group_by: tuple[str, ...],
    day_ms: int,
) -> list[Row]:
    """(day, *group_by, *metrics) per local day: each bucket's day = (bucket_ms + UTC offset in
    force) / day_ms, truncated, as the SQL store computes it. Summing the sign-weighted rows of a
    day gives the SQL rollup's sums (a group whose contributions were all cancelled adds zero),
    and a day's group exists in SQL exactly when its count is not zero: one flat GROUP BY."""
    table, metrics, exists = ROLLUPS[rollup]
    where, params = rollup_where(filters, with_model=rollup == "usage")
    ordered = sorted(offsets)
    params["offset_0"] = int(ordered[0][1])
    offset_sql = "{offset_0:Int64}"
    if len(ordered) > 1:
        branches: list[str] = []
        for i, (start, offset) in enumerate(reversed(ordered[1:]), start=1):
            params[f"from_{i}"] = int(start)
            params[f"offset_{i}"] = int(offset)
            branches.append(f"bucket_ms >= {{from_{i}:Int64}}, {{offset_{i}:Int64}}")
        offset_sql = f"multiIf({', '.join(branches)}, {{offset_0:Int64}})"
    params["day_ms"] = day_ms
    sums = ", ".join(f"sum({m}) AS {m}" for m in metrics)
    group = "".join(f", {d}" for d in group_by)
    return client.query(
        f"SELECT intDiv(bucket_ms + {offset_sql}, {{day_ms:Int64}}) AS day{group}, {sums} FROM {table}{where} "
        f"GROUP BY day{group} HAVING {exists} ORDER BY day{group}",
        params,
    )


# --- records ------------------------------------------------------------------------------------


def _nulls_first(value: Any) -> tuple[bool, Any]:
    return (value is not None, value if value is not None else 0)


# The SQL store's ORDER BY of each kind in a session replay (unknown times first, then the key:
# Python compares strings by code point, as SQLite, PostgreSQL under "C" and ClickHouse do).
_DETAIL_ORDER: dict[str, Any] = {
    PROMPT: lambda r: (_nulls_first(r["ts_ms"]), r["prompt_id"]),
    LLM_CALL: lambda r: (_nulls_first(r["ts_ms"]), r["call_id"]),
    TOOL_CALL: lambda r: (
        _nulls_first(r["started_ms"] if r["started_ms"] is not None else r["ended_ms"]),
        r["tool_use_id"],
    ),
    FILE_TOUCH: lambda r: (_nulls_first(r["ts_ms"]), r["path"], r["op"], r["tool_use_id"]),
    SUBAGENT: lambda r: (_nulls_first(r["started_ms"]), r["agent_id"]),
}


def session_records(client: ClickHouseClient, session_id: str) -> dict[str, list[dict[str, Any]]]:
    """A session's records per kind, as the SQL store's `SELECT * … ORDER BY` dicts (one query)."""
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KIND_COLUMNS}
    columns = ", ".join(RECORD_COLUMNS)
    head = f"event_type, session_id, {columns}"
    for r in client.query(
        f"SELECT {head} FROM {live(head, 'session_id = {sid:String}')}", {"sid": session_id}
    ):
        kind = str(r[0])
        values = dict(zip(RECORD_COLUMNS, r[2:], strict=True))
        values["session_id"] = r[1]
        out[kind].append({c: values[c] for c in KIND_COLUMNS[kind]})
    for kind, rows in out.items():
        rows.sort(key=_DETAIL_ORDER[kind])
    return out


def summary_rows(
    client: ClickHouseClient, session_ids: Sequence[str]
) -> tuple[list[Row], list[Row], list[Row], list[Row], list[Row]]:
    """SqlStore._event_summary_rows, from ClickHouse: the same four row shapes."""
    params = {"sids": list(session_ids)}
    records = live(
        "session_id, event_type, event_id, model, has_usage, input_tokens, output_tokens, cache_creation_tokens, "
        "cache_5m_tokens, cache_1h_tokens, cache_read_tokens, cost_nusd, ts_ms, kind, status, started_ms, "
        "ended_ms, is_compaction, agent_id",
        "session_id IN {sids:Array(String)}",
    )
    llm = client.query(
        "SELECT session_id, model, count(), sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens), "
        "sum(cache_5m_tokens), sum(cache_1h_tokens), sum(cache_read_tokens), sum(ifNull(cost_nusd, 0)), "
        f"countIf(cost_nusd IS NULL), max(ts_ms) FROM {records} "
        "WHERE event_type = 'llm_call' AND has_usage = 1 GROUP BY session_id, model",
        params,
    )
    prompts = client.query(
        f"SELECT session_id, countIf(kind IN {_HUMAN_KINDS}), max(ts_ms) FROM {records} "
        "WHERE event_type = 'prompt' GROUP BY session_id",
        params,
    )
    tools = client.query(
        f"SELECT session_id, count(), countIf(status IN {_ERROR_STATUSES}), max(coalesce(ended_ms, started_ms)) "
        f"FROM {records} WHERE event_type = 'tool_call' GROUP BY session_id",
        params,
    )
    subagents = client.query(
        f"SELECT session_id, count() FROM {records} WHERE event_type = 'subagent' "
        "AND (is_compaction IS NULL OR is_compaction = 0) "
        # As in SQL (store/sql/derived.py): a made-up sidechain subagent without calls of its own.
        f"AND (NOT startsWith(ifNull(agent_id, ''), '{SIDECHAIN_AGENT}') OR (session_id, agent_id) IN "
        f"(SELECT session_id, agent_id FROM {records} WHERE event_type = 'llm_call')) GROUP BY session_id",
        params,
    )
    return llm, prompts, tools, subagents, first_prompts(client, session_ids)


def reported_call_rows(
    client: ClickHouseClient, session_ids: Sequence[str], columns: Sequence[str]
) -> list[Row]:
    """Store.reported_calls from ClickHouse: live LLM calls with usage and a reported cost."""
    if not session_ids:
        return []
    names = ", ".join(columns)
    calls = live(
        f"{names}, has_usage",
        "session_id IN {sids:Array(String)} AND event_type = 'llm_call'",
    )
    return client.query(
        f"SELECT {names} FROM {calls} WHERE has_usage = 1 AND reported_cost_nusd IS NOT NULL",
        {"sids": list(session_ids)},
    )


def first_prompts(client: ClickHouseClient, session_ids: Sequence[str]) -> list[Row]:
    """(session_id, text) of each session's first typed prompt (unknown times first, then by id)."""
    if not session_ids:
        return []
    prompts = live(
        "session_id, event_type, event_id, prompt_id, ts_ms, kind, text",
        "session_id IN {sids:Array(String)} AND event_type = 'prompt'",
    )
    rows = client.query(
        f"SELECT session_id, text FROM {prompts} WHERE kind = 'prompt' "
        "ORDER BY session_id, ts_ms NULLS FIRST, prompt_id LIMIT 1 BY session_id",
        {"sids": list(session_ids)},
    )
    return [(str(r[0]), r[1]) for r in rows]


def sessions_with_prompt_text(client: ClickHouseClient, text: str) -> list[str]:
    """Sessions owning a prompt whose text contains `text` (ASCII case folded, as in SQL)."""
    prompts = live("session_id, event_type, event_id, text", "event_type = 'prompt'")
    rows = client.query(
        f"SELECT DISTINCT session_id FROM {prompts} WHERE lower(ifNull(text, '')) LIKE {{text:String}}",
        {"text": "%" + _like_escape(ascii_lower(text)) + "%"},
    )
    return sorted(str(r[0]) for r in rows)


def record_counts(client: ClickHouseClient) -> dict[str, int]:
    # Each replaced state is cancelled by a row of sign -1: the signs of a record sum to 1.
    by_kind = {
        str(k): int(n)
        for k, n in client.query("SELECT event_type, sum(sign) FROM agent_events GROUP BY event_type")
    }
    raw = client.query("SELECT uniqExact(event_id) FROM raw_events")
    # As the reports count prompts: typed prompts and slash commands (see the SQL store's counts).
    human = client.query(
        f"SELECT sum(sign) FROM agent_events WHERE event_type = '{PROMPT}' AND kind IN {_HUMAN_KINDS}"
    )
    return {
        "prompts": int(human[0][0] or 0) if human else 0,
        "llm_calls": by_kind.get(LLM_CALL, 0),
        "tool_calls": by_kind.get(TOOL_CALL, 0),
        "subagents": by_kind.get(SUBAGENT, 0),
        "raw_events": int(raw[0][0]) if raw else 0,
    }


def outcome_inputs(
    client: ClickHouseClient, session_ids: Sequence[str], with_commits: Sequence[str]
) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]:
    """SqlOutcomes._outcome_inputs from ClickHouse: the fields the outcome rules read (one query)."""
    from agent_trace.domain.outcomes import BASH_RULE_WORDS
    from agent_trace.store.sql.outcomes import LLM_FIELDS, PROMPT_FIELDS, RULE_TOOLS, TOOL_FIELDS

    fields = {PROMPT: PROMPT_FIELDS, LLM_CALL: LLM_FIELDS, TOOL_CALL: TOOL_FIELDS}
    columns = list(dict.fromkeys(c for f in fields.values() for c in f if c != "session_id"))
    out: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]] = {
        sid: ([], [], []) for sid in session_ids
    }
    records = live(
        "event_type, session_id, " + ", ".join(columns),
        "session_id IN {sids:Array(String)} AND event_type IN ('prompt', 'llm_call', 'tool_call')",
    )
    slot = {PROMPT: 0, LLM_CALL: 1, TOOL_CALL: 2}
    last_call: dict[str, tuple[int, str]] = {}
    committed = set(with_commits)
    for r in client.query(f"SELECT * FROM {records}", {"sids": list(session_ids)}):
        kind = str(r[0])
        values = dict(zip(columns, r[2:], strict=True))
        values["session_id"] = sid = str(r[1])
        if kind == TOOL_CALL:
            # The same rows as SqlOutcomes._outcome_inputs: rule tools and failures only.
            relevant = (
                values.get("tool_name") in RULE_TOOLS or (values.get("status") or "success") != "success"
            )
            if not relevant and values.get("tool_name") == "Bash":
                text = str(values.get("input_json") or "")
                relevant = any(word in text for word in BASH_RULE_WORDS)
            if not relevant:
                continue
            if (
                values.get("tool_name") == "Write"
                and values.get("status") == "success"
                and sid not in committed
            ):
                values["input_json"] = None
            commit_like = "commit" in str(values.get("input_json") or "")
            if values.get("tool_name") != "Bash" or values.get("output_text") is None or not commit_like:
                values["output_text"] = None
            else:
                values["output_text"] = str(values["output_text"])[:4000]
        if kind == LLM_CALL:
            # Only the main thread's last call, as the SQL store's window query.
            if values.get("agent_id") or values.get("ts_ms") is None:
                continue
            rank = (int(values["ts_ms"]), str(values["call_id"]))
            if sid in last_call and last_call[sid] >= rank:
                continue
            last_call[sid] = rank
            out[sid][1].clear()
        out[sid][slot[kind]].append({c: values[c] for c in fields[kind]})
    return out


class ClickHouseRecords:
    """store.sql.external.ExternalRecords from ClickHouse: the record reads the hybrid store's SQL
    side needs for its derived columns and its session list's text filter."""

    def __init__(self, client: ClickHouseClient) -> None:
        self.client = client

    def summary_rows(
        self, session_ids: Sequence[str]
    ) -> tuple[list[Row], list[Row], list[Row], list[Row], list[Row]]:
        return summary_rows(self.client, session_ids)

    def outcome_inputs(
        self, session_ids: Sequence[str], with_commits: Sequence[str]
    ) -> dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]]:
        return outcome_inputs(self.client, session_ids, with_commits)

    def sessions_with_prompt_text(self, text: str) -> list[str]:
        return sessions_with_prompt_text(self.client, text)
