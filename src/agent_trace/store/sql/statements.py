"""Portable SQL text for the merge rules of every canonical record.

One statement per table serves SQLite (3.24+) and PostgreSQL alike: `INSERT … ON CONFLICT (key)
DO UPDATE SET …` with `excluded.`, CASE instead of the dialects' different MIN/MAX/GREATEST, and
integer arithmetic for buckets. The merge rules are the heart of "one record per fact":

- first:   keep what was stored first (the session that owns a copied LLM call, the start cwd)
- latest:  the newest non-null value
- min/max: earliest start, latest end, running totals
- longer:  the longer of two texts (a deterministic union: order of arrival does not matter)
- agent:   latest, but a made-up sidechain agent id never replaces a real one
- usage:   the copy of an API request with the largest token total wins, all its counts together

The rule of each plain column is in the *_RULES dicts below; store/clickhouse/merge.py applies
the same dicts in Python for ClickHouse (tests/store/test_merge_rules.py proves both agree).
"""

from __future__ import annotations

from collections.abc import Sequence

from agent_trace.domain.records import BUCKET_MS, SIDECHAIN_AGENT


def _first(t: str, c: str) -> str:
    return f"COALESCE({t}.{c}, excluded.{c})"


def _latest(t: str, c: str) -> str:
    return f"COALESCE(excluded.{c}, {t}.{c})"


def _min(a: str, b: str) -> str:
    return f"(CASE WHEN {a} IS NULL THEN {b} WHEN {b} IS NULL THEN {a} WHEN {b} < {a} THEN {b} ELSE {a} END)"


def _max(a: str, b: str) -> str:
    return f"(CASE WHEN {a} IS NULL THEN {b} WHEN {b} IS NULL THEN {a} WHEN {b} > {a} THEN {b} ELSE {a} END)"


def _longer(t: str, c: str) -> str:
    # Equal lengths (the same JSON with keys in another order, say) fall back to the smaller
    # text, so the result never depends on the order of arrival.
    return (
        f"(CASE WHEN excluded.{c} IS NULL THEN {t}.{c} WHEN {t}.{c} IS NULL THEN excluded.{c} "
        f"WHEN LENGTH(excluded.{c}) > LENGTH({t}.{c}) THEN excluded.{c} "
        f"WHEN LENGTH(excluded.{c}) = LENGTH({t}.{c}) AND excluded.{c} < {t}.{c} THEN excluded.{c} "
        f"ELSE {t}.{c} END)"
    )


def _agent(t: str, c: str) -> str:
    # The newest non-null agent id, except that a made-up sidechain id (domain.records
    # SIDECHAIN_AGENT) never replaces a real one: the main file's copy of a subagent's lines and
    # its subagents/agent-<id>.jsonl copy then name one subagent, in any order.
    return (
        f"(CASE WHEN excluded.{c} IS NULL THEN {t}.{c} WHEN {t}.{c} IS NULL THEN excluded.{c} "
        f"WHEN excluded.{c} LIKE '{SIDECHAIN_AGENT}%' AND {t}.{c} NOT LIKE '{SIDECHAIN_AGENT}%' "
        f"THEN {t}.{c} ELSE excluded.{c} END)"
    )


def _bucket(expr: str) -> str:
    return f"(({expr}) - (({expr}) % {BUCKET_MS}))"


def _upsert(table: str, columns: Sequence[str], key: Sequence[str], sets: dict[str, str]) -> str:
    cols = ", ".join(columns)
    values = ", ".join(f":{c}" for c in columns)
    if not sets:
        return f"INSERT INTO {table} ({cols}) VALUES ({values}) ON CONFLICT ({', '.join(key)}) DO NOTHING"
    assignments = ", ".join(f"{c} = {expr}" for c, expr in sets.items())
    return f"INSERT INTO {table} ({cols}) VALUES ({values}) ON CONFLICT ({', '.join(key)}) DO UPDATE SET {assignments}"


def _rules(table: str, rules: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for column, rule in rules.items():
        if rule == "first":
            out[column] = _first(table, column)
        elif rule == "latest":
            out[column] = _latest(table, column)
        elif rule == "min":
            out[column] = _min(f"{table}.{column}", f"excluded.{column}")
        elif rule == "max":
            out[column] = _max(f"{table}.{column}", f"excluded.{column}")
        elif rule == "longer":
            out[column] = _longer(table, column)
        elif rule == "agent":
            out[column] = _agent(table, column)
        else:
            out[column] = rule  # a literal SQL expression
    return out


SESSION_COLUMNS = (
    "session_id",
    "agent",
    "project",
    "cwd",
    "user_id",
    "version",
    "entrypoint",
    "title",
    "started_ms",
    "ended_ms",
    "end_reason",
    "permission_mode",
    "git_repo",
    "git_branch",
    "git_head",
    "git_base_sha",
    "git_lines_added",
    "git_lines_removed",
    "git_files_changed",
    "reported_cost_nusd",
    "compactions",
    "updated_ms",
)
UPSERT_SESSION = _upsert(
    "sessions",
    SESSION_COLUMNS,
    ["session_id"],
    _rules(
        "sessions",
        {
            "agent": "first",
            "project": "first",
            "cwd": "latest",
            # The first identity wins, except that Claude Code's anonymous telemetry hash
            # (`otel:…`) gives way to a real one (hook handler, import).
            "user_id": (
                "(CASE WHEN sessions.user_id IS NULL THEN excluded.user_id "
                "WHEN excluded.user_id IS NOT NULL AND sessions.user_id LIKE 'otel:%' "
                "AND excluded.user_id NOT LIKE 'otel:%' THEN excluded.user_id ELSE sessions.user_id END)"
            ),
            "version": "latest",
            "entrypoint": "latest",
            "title": "latest",
            "started_ms": "min",
            "ended_ms": "max",
            "end_reason": "latest",
            "permission_mode": "latest",
            "git_repo": "latest",
            "git_branch": "latest",
            "git_head": "latest",
            "git_base_sha": "first",
            "git_lines_added": "latest",
            "git_lines_removed": "latest",
            "git_files_changed": "latest",
            "reported_cost_nusd": "max",
            "compactions": "max",
            "updated_ms": "excluded.updated_ms",
        },
    ),
)

PROMPT_COLUMNS = (
    "prompt_id",
    "session_id",
    "ts_ms",
    "bucket_ms",
    "kind",
    "text",
    "line_uuid",
    "duration_ms",
    "interrupted",
    "api_errors",
)
PROMPT_RULES: dict[str, str] = {
    "kind": "latest",
    "text": "longer",
    "line_uuid": "latest",
    "duration_ms": "max",
    "interrupted": "max",
    "api_errors": "max",
}
_prompt_ts = _min("prompts.ts_ms", "excluded.ts_ms")
UPSERT_PROMPT = _upsert(
    "prompts",
    PROMPT_COLUMNS,
    ["prompt_id"],
    {
        "ts_ms": _prompt_ts,
        "bucket_ms": _bucket(_prompt_ts),
        **_rules(
            "prompts",
            PROMPT_RULES,
        ),
    },
)

USAGE_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_5m_tokens",
    "cache_1h_tokens",
    "cache_read_tokens",
    "web_search_requests",
)
LLM_CALL_COLUMNS = (
    "call_id",
    "session_id",
    "message_id",
    "request_id",
    "agent_id",
    "prompt_id",
    "model",
    "ts_ms",
    "bucket_ms",
    "has_usage",
    *USAGE_COLUMNS,
    "usage_total",
    "is_sidechain",
    "cost_nusd",
    "unpriced_reason",
    "reported_cost_nusd",
    "speed",
    "stop_reason",
    "query_source",
    "duration_ms",
    "ttft_ms",
    "response_text",
    "thinking",
    "tool_use_ids",
)
# The streaming-duplicate rule: a copy with usage beats one without; a larger total wins; on a
# tie a main-thread copy beats a sidechain copy, and a copy that knows the 1-hour cache-write
# split beats one that does not (OTLP spans carry no split, so they count every write as 5m).
# All usage columns move together.
_USAGE_WINS = (
    "(excluded.has_usage = 1 AND (llm_calls.has_usage = 0 OR excluded.usage_total > llm_calls.usage_total "
    "OR (excluded.usage_total = llm_calls.usage_total AND ((llm_calls.is_sidechain = 1 "
    "AND excluded.is_sidechain = 0) OR excluded.cache_1h_tokens > llm_calls.cache_1h_tokens))))"
)
LLM_CALL_RULES: dict[str, str] = {
    "message_id": "latest",
    "request_id": "latest",
    "agent_id": "agent",
    "prompt_id": "latest",
    "model": "latest",
    "reported_cost_nusd": "latest",
    "speed": "latest",
    "stop_reason": "latest",
    "query_source": "latest",
    "duration_ms": "max",  # each channel times it separately: keep one, by rule
    "ttft_ms": "latest",
    "response_text": "longer",
    "thinking": "longer",
    "tool_use_ids": "longer",
}
_call_ts = _min("llm_calls.ts_ms", "excluded.ts_ms")
_CALL_COST = (
    f"(CASE WHEN {_USAGE_WINS} THEN excluded.cost_nusd "
    "WHEN llm_calls.cost_nusd IS NULL AND excluded.usage_total = llm_calls.usage_total "
    "THEN excluded.cost_nusd ELSE llm_calls.cost_nusd END)"
)
UPSERT_LLM_CALL = _upsert(
    "llm_calls",
    LLM_CALL_COLUMNS,
    ["call_id"],
    {
        **{
            column: f"(CASE WHEN {_USAGE_WINS} THEN excluded.{column} ELSE llm_calls.{column} END)"
            for column in (*USAGE_COLUMNS, "usage_total", "is_sidechain", "has_usage")
        },
        # Cost follows the winning usage; a copy that brings a price to an unpriced call also wins.
        "cost_nusd": _CALL_COST,
        # Why the merged call is unpriced: none once it has a cost, else the newest reason.
        "unpriced_reason": (
            f"(CASE WHEN {_CALL_COST} IS NOT NULL THEN NULL "
            "ELSE COALESCE(excluded.unpriced_reason, llm_calls.unpriced_reason) END)"
        ),
        "ts_ms": _call_ts,
        "bucket_ms": _bucket(_call_ts),
        **_rules(
            "llm_calls",
            LLM_CALL_RULES,
        ),
    },
)

TOOL_CALL_COLUMNS = (
    "tool_use_id",
    "session_id",
    "tool_name",
    "agent_id",
    "prompt_id",
    "call_id",
    "started_ms",
    "ended_ms",
    "bucket_ms",
    "duration_ms",
    "status",
    "error",
    "input_json",
    "output_text",
    "subagent_id",
)
TOOL_CALL_RULES: dict[str, str] = {
    "tool_name": "latest",
    "agent_id": "agent",
    "prompt_id": "latest",
    "call_id": "latest",
    "duration_ms": "max",  # each channel times it separately: keep one, by rule
    "error": "longer",
    "input_json": "longer",
    "output_text": "longer",
    "subagent_id": "latest",
}
_STATUS_RANK = "(CASE {x} WHEN 'denied' THEN 4 WHEN 'interrupted' THEN 3 WHEN 'error' THEN 2 ELSE 1 END)"
_tool_start = _min("tool_calls.started_ms", "excluded.started_ms")
_tool_end = _max("tool_calls.ended_ms", "excluded.ended_ms")
UPSERT_TOOL_CALL = _upsert(
    "tool_calls",
    TOOL_CALL_COLUMNS,
    ["tool_use_id"],
    {
        "started_ms": _tool_start,
        "ended_ms": _tool_end,
        "bucket_ms": _bucket(f"COALESCE({_tool_start}, {_tool_end})"),
        # The most telling status wins whatever the order: denied > interrupted > error > success.
        "status": (
            "(CASE WHEN excluded.status IS NULL THEN tool_calls.status WHEN tool_calls.status IS NULL "
            f"THEN excluded.status WHEN {_STATUS_RANK.format(x='excluded.status')} > "
            f"{_STATUS_RANK.format(x='tool_calls.status')} THEN excluded.status ELSE tool_calls.status END)"
        ),
        **_rules(
            "tool_calls",
            TOOL_CALL_RULES,
        ),
    },
)

FILE_TOUCH_COLUMNS = ("tool_use_id", "path", "op", "session_id", "ts_ms")
FILE_TOUCH_RULES: dict[str, str] = {"ts_ms": "min"}
UPSERT_FILE_TOUCH = _upsert(
    "file_touches",
    FILE_TOUCH_COLUMNS,
    ["tool_use_id", "path", "op"],
    _rules("file_touches", FILE_TOUCH_RULES),
)

SUBAGENT_COLUMNS = (
    "session_id",
    "agent_id",
    "agent_type",
    "description",
    "parent_tool_use_id",
    "prompt_id",
    "model",
    "started_ms",
    "ended_ms",
    "is_compaction",
)
SUBAGENT_RULES: dict[str, str] = {
    "agent_type": "latest",
    "description": "longer",
    "parent_tool_use_id": "latest",
    "prompt_id": "latest",
    "model": "latest",
    "started_ms": "min",
    "ended_ms": "max",
    "is_compaction": "max",
}
UPSERT_SUBAGENT = _upsert(
    "subagents",
    SUBAGENT_COLUMNS,
    ["session_id", "agent_id"],
    _rules(
        "subagents",
        SUBAGENT_RULES,
    ),
)

COMMIT_COLUMNS = (
    "sha",
    "session_id",
    "repo",
    "branch",
    "message",
    "author",
    "ts_ms",
    "files_changed",
    "insertions",
    "deletions",
    "parent_sha",
    "patch_id",
    "files_json",
    "co_authored",
    "on_default",
    "reverted_by",
    "rewritten_as",
)
# Linked by the refresh of derived data (domain.provenance), never by a write.
COMMIT_DERIVED_COLUMNS = ("prompt_id", "tool_use_id", "agent_lines", "pr_id")
UPSERT_COMMIT = _upsert(
    "commits",
    COMMIT_COLUMNS,
    ["sha"],
    _rules(
        "commits",
        {
            "session_id": "first",
            "repo": "latest",
            "branch": "latest",
            "message": "longer",
            "author": "latest",
            "ts_ms": "min",
            "files_changed": "latest",
            "insertions": "latest",
            "deletions": "latest",
            "parent_sha": "latest",
            "patch_id": "latest",
            "files_json": "longer",
            "co_authored": "max",
            "on_default": "max",
            "reverted_by": "latest",
            "rewritten_as": "latest",
        },
    ),
)

PULL_REQUEST_COLUMNS = (
    "pr_id",
    "provider",
    "repo",
    "number",
    "state",
    "title",
    "url",
    "author",
    "head_ref",
    "head_sha",
    "base_ref",
    "merge_sha",
    "opened_ms",
    "closed_ms",
    "merged_ms",
    "updated_ms",
)
# A replayed or late delivery never undoes a newer one: merged is final, and the state follows
# the delivery with the newest `updated_ms` (GitHub's pull_request.updated_at / GitLab's).
_PR_NEWER = "(excluded.updated_ms IS NOT NULL AND (pull_requests.updated_ms IS NULL OR excluded.updated_ms > pull_requests.updated_ms))"
UPSERT_PULL_REQUEST = _upsert(
    "pull_requests",
    PULL_REQUEST_COLUMNS,
    ["pr_id"],
    {
        "state": "(CASE WHEN pull_requests.state = 'merged' OR excluded.state = 'merged' THEN 'merged' "
        f"WHEN pull_requests.state IS NULL OR {_PR_NEWER} THEN excluded.state ELSE pull_requests.state END)",
        **_rules(
            "pull_requests",
            {
                "title": "latest",
                "url": "latest",
                "author": "first",
                "head_ref": "latest",
                "head_sha": "latest",
                "base_ref": "latest",
                "merge_sha": "latest",
                "opened_ms": "min",
                "closed_ms": "max",
                "merged_ms": "max",
                "updated_ms": "max",
            },
        ),
    },
)
PUSHED_COMMIT_COLUMNS = ("repo", "ref", "sha", "ts_ms")
UPSERT_PUSHED_COMMIT = _upsert(
    "pushed_commits",
    PUSHED_COMMIT_COLUMNS,
    ["repo", "ref", "sha"],
    _rules("pushed_commits", {"ts_ms": "min"}),
)

RAW_EVENT_COLUMNS = ("event_id", "source", "session_id", "kind", "ts_ms", "received_ms", "payload")
UPSERT_RAW_EVENT = _upsert("raw_events", RAW_EVENT_COLUMNS, ["event_id"], {})

FILE_STATE_COLUMNS = ("path", "size", "mtime_ns", "safe_offset", "parser_state", "updated_ms")
UPSERT_FILE_STATE = _upsert(
    "import_files",
    FILE_STATE_COLUMNS,
    ["path"],
    {c: f"excluded.{c}" for c in FILE_STATE_COLUMNS[1:]},
)

# A user is known from the sessions that name them: earliest start, latest end or start.
USER_COLUMNS = ("user_id", "first_seen_ms", "last_seen_ms")
UPSERT_USER = _upsert(
    "users", USER_COLUMNS, ["user_id"], _rules("users", {"first_seen_ms": "min", "last_seen_ms": "max"})
)
UPSERT_INSTANCE_SETTING = _upsert(
    "instance_settings",
    ("key", "value", "updated_ms"),
    ["key"],
    {"value": "excluded.value", "updated_ms": "excluded.updated_ms"},
)

MARK_BUCKET = "INSERT INTO dirty_buckets (bucket_ms) VALUES (:bucket_ms) ON CONFLICT (bucket_ms) DO NOTHING"
MARK_SESSION = (
    "INSERT INTO dirty_sessions (session_id) VALUES (:session_id) ON CONFLICT (session_id) DO NOTHING"
)
ADD_CHANGE = "INSERT INTO session_changes (session_id, changed_ms) VALUES (:session_id, :changed_ms)"

# --- derived data -------------------------------------------------------------------------------

_DIMS = "COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, '')"


def rebuild_usage_rollup(bucket_list: str) -> list[str]:
    return [
        f"DELETE FROM usage_rollup WHERE bucket_ms IN ({bucket_list})",
        "INSERT INTO usage_rollup (bucket_ms, project, user_id, agent, model, calls, input_tokens, "
        "output_tokens, cache_creation_tokens, cache_5m_tokens, cache_1h_tokens, cache_read_tokens, "
        "cost_nusd, unpriced_calls, reported_cost_nusd) "
        f"SELECT c.bucket_ms, {_DIMS}, COALESCE(c.model, ''), COUNT(*), SUM(c.input_tokens), "
        "SUM(c.output_tokens), SUM(c.cache_creation_tokens), SUM(c.cache_5m_tokens), "
        "SUM(c.cache_1h_tokens), SUM(c.cache_read_tokens), SUM(COALESCE(c.cost_nusd, 0)), "
        "SUM(CASE WHEN c.cost_nusd IS NULL THEN 1 ELSE 0 END), SUM(COALESCE(c.reported_cost_nusd, 0)) "
        "FROM llm_calls c LEFT JOIN sessions s ON s.session_id = c.session_id "
        f"WHERE c.has_usage = 1 AND c.bucket_ms IN ({bucket_list}) "
        "GROUP BY c.bucket_ms, COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, ''), "
        "COALESCE(c.model, '')",
    ]


def rebuild_activity_rollup(bucket_list: str, human_kinds: str) -> list[str]:
    return [
        f"DELETE FROM activity_rollup WHERE bucket_ms IN ({bucket_list})",
        _activity_insert(bucket_list, human_kinds),
    ]


def _activity_insert(bucket_list: str, human_kinds: str) -> str:
    return (
        "INSERT INTO activity_rollup (bucket_ms, project, user_id, agent, prompts, tool_calls, tool_errors, sessions) "
        "SELECT bucket_ms, project, user_id, agent, SUM(prompts), SUM(tool_calls), SUM(tool_errors), SUM(sessions) "
        "FROM ("
        f"SELECT p.bucket_ms AS bucket_ms, COALESCE(s.project, '') AS project, COALESCE(s.user_id, '') AS user_id, "
        "COALESCE(s.agent, '') AS agent, COUNT(*) AS prompts, 0 AS tool_calls, 0 AS tool_errors, 0 AS sessions "
        "FROM prompts p LEFT JOIN sessions s ON s.session_id = p.session_id "
        f"WHERE p.bucket_ms IN ({bucket_list}) AND p.kind IN ({human_kinds}) "
        "GROUP BY p.bucket_ms, COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, '') "
        "UNION ALL "
        "SELECT t.bucket_ms, COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, ''), 0, COUNT(*), "
        "SUM(CASE WHEN t.status IN ('error', 'denied', 'interrupted') THEN 1 ELSE 0 END), 0 "
        "FROM tool_calls t LEFT JOIN sessions s ON s.session_id = t.session_id "
        f"WHERE t.bucket_ms IN ({bucket_list}) "
        "GROUP BY t.bucket_ms, COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, '') "
        "UNION ALL "
        f"SELECT {_bucket('s.started_ms')}, COALESCE(s.project, ''), COALESCE(s.user_id, ''), "
        "COALESCE(s.agent, ''), 0, 0, 0, COUNT(*) FROM sessions s "
        f"WHERE s.started_ms IS NOT NULL AND {_bucket('s.started_ms')} IN ({bucket_list}) "
        f"GROUP BY {_bucket('s.started_ms')}, COALESCE(s.project, ''), COALESCE(s.user_id, ''), "
        "COALESCE(s.agent, '')"
        ") parts GROUP BY bucket_ms, project, user_id, agent"
    )


def rebuild_tool_rollup(bucket_list: str) -> list[str]:
    return [
        f"DELETE FROM tool_rollup WHERE bucket_ms IN ({bucket_list})",
        "INSERT INTO tool_rollup (bucket_ms, project, user_id, agent, tool_name, calls, errors, duration_ms) "
        f"SELECT t.bucket_ms, {_DIMS}, COALESCE(t.tool_name, ''), COUNT(*), "
        "SUM(CASE WHEN t.status IN ('error', 'denied', 'interrupted') THEN 1 ELSE 0 END), "
        "SUM(COALESCE(t.duration_ms, 0)) "
        "FROM tool_calls t LEFT JOIN sessions s ON s.session_id = t.session_id "
        f"WHERE t.bucket_ms IN ({bucket_list}) "
        "GROUP BY t.bucket_ms, COALESCE(s.project, ''), COALESCE(s.user_id, ''), COALESCE(s.agent, ''), "
        "COALESCE(t.tool_name, '')",
    ]
