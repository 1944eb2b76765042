"""Portable SQL text for the merge of every canonical record, one upsert per table.

One statement per table serves SQLite (3.24+) and PostgreSQL alike (store/sql/upsert.py renders
the rules). The rule of every column is in domain/merge_rules.py; store/clickhouse/merge.py
applies the same rules in Python (tests/store/test_merge_rules.py proves all agree).
"""

from __future__ import annotations

from agent_trace.domain import merge_rules as mr
from agent_trace.store.sql.upsert import (
    bucket,
    larger,
    merged_cost,
    merged_status,
    merged_unpriced_reason,
    smaller,
    upsert,
    usage_wins,
)
from agent_trace.store.sql.upsert import rules as _rules

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
UPSERT_SESSION = upsert(
    "sessions",
    SESSION_COLUMNS,
    ["session_id"],
    {
        **_rules("sessions", mr.SESSION_RULES),
        # The first identity wins, except that Claude Code's anonymous telemetry hash
        # (`otel:…`) gives way to a real one (hook handler, import).
        "user_id": (
            "(CASE WHEN sessions.user_id IS NULL THEN excluded.user_id "
            "WHEN excluded.user_id IS NOT NULL AND sessions.user_id LIKE 'otel:%' "
            "AND excluded.user_id NOT LIKE 'otel:%' THEN excluded.user_id ELSE sessions.user_id END)"
        ),
        "updated_ms": "excluded.updated_ms",
    },
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
_prompt_ts = smaller("prompts.ts_ms", "excluded.ts_ms")
UPSERT_PROMPT = upsert(
    "prompts",
    PROMPT_COLUMNS,
    ["prompt_id"],
    {
        "ts_ms": _prompt_ts,
        "bucket_ms": bucket(_prompt_ts),
        **_rules(
            "prompts",
            mr.PROMPT_RULES,
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
# Which copy's usage wins, and the cost and unpriced reason that follow it: merge_rules.
_USAGE_WINS = usage_wins("llm_calls")
_CALL_COST = merged_cost("llm_calls", _USAGE_WINS)
_call_ts = smaller("llm_calls.ts_ms", "excluded.ts_ms")
UPSERT_LLM_CALL = upsert(
    "llm_calls",
    LLM_CALL_COLUMNS,
    ["call_id"],
    {
        **{
            column: f"(CASE WHEN {_USAGE_WINS} THEN excluded.{column} ELSE llm_calls.{column} END)"
            for column in (*USAGE_COLUMNS, *mr.USAGE_FOLLOWERS)
        },
        "cost_nusd": _CALL_COST,
        "unpriced_reason": merged_unpriced_reason("llm_calls", _CALL_COST),
        "ts_ms": _call_ts,
        "bucket_ms": bucket(_call_ts),
        **_rules(
            "llm_calls",
            mr.LLM_CALL_RULES,
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
_tool_start = smaller("tool_calls.started_ms", "excluded.started_ms")
_tool_end = larger("tool_calls.ended_ms", "excluded.ended_ms")
UPSERT_TOOL_CALL = upsert(
    "tool_calls",
    TOOL_CALL_COLUMNS,
    ["tool_use_id"],
    {
        "started_ms": _tool_start,
        "ended_ms": _tool_end,
        "bucket_ms": bucket(f"COALESCE({_tool_start}, {_tool_end})"),
        "status": merged_status("tool_calls"),
        **_rules(
            "tool_calls",
            mr.TOOL_CALL_RULES,
        ),
    },
)

FILE_TOUCH_COLUMNS = ("tool_use_id", "path", "op", "session_id", "ts_ms")
UPSERT_FILE_TOUCH = upsert(
    "file_touches",
    FILE_TOUCH_COLUMNS,
    ["tool_use_id", "path", "op"],
    _rules("file_touches", mr.FILE_TOUCH_RULES),
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
UPSERT_SUBAGENT = upsert(
    "subagents",
    SUBAGENT_COLUMNS,
    ["session_id", "agent_id"],
    _rules(
        "subagents",
        mr.SUBAGENT_RULES,
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
UPSERT_COMMIT = upsert(
    "commits",
    COMMIT_COLUMNS,
    ["sha"],
    _rules("commits", mr.COMMIT_RULES),
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
UPSERT_PULL_REQUEST = upsert(
    "pull_requests",
    PULL_REQUEST_COLUMNS,
    ["pr_id"],
    {
        "state": "(CASE WHEN pull_requests.state = 'merged' OR excluded.state = 'merged' THEN 'merged' "
        f"WHEN pull_requests.state IS NULL OR {_PR_NEWER} THEN excluded.state ELSE pull_requests.state END)",
        **_rules("pull_requests", mr.PULL_REQUEST_RULES),
    },
)
PUSHED_COMMIT_COLUMNS = ("repo", "ref", "sha", "ts_ms")
UPSERT_PUSHED_COMMIT = upsert(
    "pushed_commits",
    PUSHED_COMMIT_COLUMNS,
    ["repo", "ref", "sha"],
    _rules("pushed_commits", mr.PUSHED_COMMIT_RULES),
)

RAW_EVENT_COLUMNS = ("event_id", "source", "session_id", "kind", "ts_ms", "received_ms", "payload")
UPSERT_RAW_EVENT = upsert("raw_events", RAW_EVENT_COLUMNS, ["event_id"], {})

FILE_STATE_COLUMNS = ("path", "size", "mtime_ns", "safe_offset", "parser_state", "updated_ms")
UPSERT_FILE_STATE = upsert(
    "import_files",
    FILE_STATE_COLUMNS,
    ["path"],
    {c: f"excluded.{c}" for c in FILE_STATE_COLUMNS[1:]},
)

USER_COLUMNS = ("user_id", "first_seen_ms", "last_seen_ms")
UPSERT_USER = upsert("users", USER_COLUMNS, ["user_id"], _rules("users", mr.USER_RULES))
UPSERT_INSTANCE_SETTING = upsert(
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
