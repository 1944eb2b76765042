"""The canonical records, import bookkeeping, rollups and the change feed.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

Big = sa.BigInteger
Flag = sa.SmallInteger  # 0/1: identical on SQLite and PostgreSQL in portable SQL


def _usage_columns() -> list[sa.Column]:
    return [
        sa.Column("input_tokens", Big, nullable=False, server_default="0"),
        sa.Column("output_tokens", Big, nullable=False, server_default="0"),
        sa.Column("cache_creation_tokens", Big, nullable=False, server_default="0"),
        sa.Column("cache_5m_tokens", Big, nullable=False, server_default="0"),
        sa.Column("cache_1h_tokens", Big, nullable=False, server_default="0"),
        sa.Column("cache_read_tokens", Big, nullable=False, server_default="0"),
    ]


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("agent", sa.Text),
        sa.Column("project", sa.Text),
        sa.Column("cwd", sa.Text),
        sa.Column("user_id", sa.Text),
        sa.Column("version", sa.Text),
        sa.Column("entrypoint", sa.Text),
        sa.Column("title", sa.Text),
        sa.Column("started_ms", Big),
        sa.Column("ended_ms", Big),
        sa.Column("end_reason", sa.Text),
        sa.Column("permission_mode", sa.Text),
        sa.Column("git_repo", sa.Text),
        sa.Column("git_branch", sa.Text),
        sa.Column("git_head", sa.Text),
        sa.Column("git_base_sha", sa.Text),
        sa.Column("git_lines_added", sa.Integer),
        sa.Column("git_lines_removed", sa.Integer),
        sa.Column("git_files_changed", sa.Integer),
        sa.Column("reported_cost_nusd", Big),
        sa.Column("compactions", sa.Integer),
        sa.Column("updated_ms", Big, nullable=False, server_default="0"),
        # Summary metrics, recomputed from the records whenever the session changes.
        sa.Column("n_prompts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("n_llm_calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("n_tool_calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("n_tool_errors", sa.Integer, nullable=False, server_default="0"),
        sa.Column("n_subagents", sa.Integer, nullable=False, server_default="0"),
        *_usage_columns(),
        sa.Column("cost_nusd", Big, nullable=False, server_default="0"),
        sa.Column("unpriced_calls", sa.Integer, nullable=False, server_default="0"),
        sa.Column("models", sa.Text),
        sa.Column("unpriced_models", sa.Text),
        sa.Column("last_activity_ms", Big),
    )
    op.create_index("ix_sessions_started", "sessions", ["started_ms"])
    op.create_index("ix_sessions_updated", "sessions", ["updated_ms"])
    op.create_index("ix_sessions_project", "sessions", ["project"])
    op.create_index("ix_sessions_user", "sessions", ["user_id"])

    op.create_table(
        "prompts",
        sa.Column("prompt_id", sa.Text, primary_key=True),
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("ts_ms", Big),
        sa.Column("bucket_ms", Big),
        sa.Column("kind", sa.Text),
        sa.Column("text", sa.Text),
        sa.Column("line_uuid", sa.Text),
        sa.Column("duration_ms", Big),
        sa.Column("interrupted", Flag),
        sa.Column("api_errors", sa.Integer),
    )
    op.create_index("ix_prompts_session", "prompts", ["session_id", "ts_ms"])
    op.create_index("ix_prompts_bucket", "prompts", ["bucket_ms"])

    op.create_table(
        "llm_calls",
        sa.Column("call_id", sa.Text, primary_key=True),
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text),
        sa.Column("request_id", sa.Text),
        sa.Column("agent_id", sa.Text),
        sa.Column("prompt_id", sa.Text),
        sa.Column("model", sa.Text),
        sa.Column("ts_ms", Big),
        sa.Column("bucket_ms", Big),
        sa.Column("has_usage", Flag, nullable=False, server_default="0"),
        *_usage_columns(),
        sa.Column("web_search_requests", sa.Integer, nullable=False, server_default="0"),
        sa.Column("usage_total", Big, nullable=False, server_default="0"),
        sa.Column("is_sidechain", Flag, nullable=False, server_default="0"),
        sa.Column("cost_nusd", Big),
        sa.Column("reported_cost_nusd", Big),
        sa.Column("speed", sa.Text),
        sa.Column("stop_reason", sa.Text),
        sa.Column("query_source", sa.Text),
        sa.Column("duration_ms", Big),
        sa.Column("ttft_ms", Big),
        sa.Column("response_text", sa.Text),
        sa.Column("thinking", sa.Text),
        sa.Column("tool_use_ids", sa.Text),
    )
    op.create_index("ix_llm_calls_session", "llm_calls", ["session_id", "ts_ms"])
    op.create_index("ix_llm_calls_bucket", "llm_calls", ["bucket_ms"])
    op.create_index("ix_llm_calls_prompt", "llm_calls", ["prompt_id"])

    op.create_table(
        "tool_calls",
        sa.Column("tool_use_id", sa.Text, primary_key=True),
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("tool_name", sa.Text),
        sa.Column("agent_id", sa.Text),
        sa.Column("prompt_id", sa.Text),
        sa.Column("call_id", sa.Text),
        sa.Column("started_ms", Big),
        sa.Column("ended_ms", Big),
        sa.Column("bucket_ms", Big),
        sa.Column("duration_ms", Big),
        sa.Column("status", sa.Text),
        sa.Column("error", sa.Text),
        sa.Column("input_json", sa.Text),
        sa.Column("output_text", sa.Text),
        sa.Column("subagent_id", sa.Text),
    )
    op.create_index("ix_tool_calls_session", "tool_calls", ["session_id", "started_ms"])
    op.create_index("ix_tool_calls_bucket", "tool_calls", ["bucket_ms"])
    op.create_index("ix_tool_calls_prompt", "tool_calls", ["prompt_id"])

    op.create_table(
        "file_touches",
        sa.Column("tool_use_id", sa.Text, primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("op", sa.Text, primary_key=True),
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("ts_ms", Big),
    )
    op.create_index("ix_file_touches_session", "file_touches", ["session_id"])

    op.create_table(
        "subagents",
        sa.Column("session_id", sa.Text, primary_key=True),
        sa.Column("agent_id", sa.Text, primary_key=True),
        sa.Column("agent_type", sa.Text),
        sa.Column("description", sa.Text),
        sa.Column("parent_tool_use_id", sa.Text),
        sa.Column("prompt_id", sa.Text),
        sa.Column("model", sa.Text),
        sa.Column("started_ms", Big),
        sa.Column("ended_ms", Big),
        sa.Column("is_compaction", Flag),
    )

    op.create_table(
        "commits",
        sa.Column("sha", sa.Text, primary_key=True),
        sa.Column("session_id", sa.Text),
        sa.Column("repo", sa.Text),
        sa.Column("branch", sa.Text),
        sa.Column("message", sa.Text),
        sa.Column("author", sa.Text),
        sa.Column("ts_ms", Big),
        sa.Column("files_changed", sa.Integer),
        sa.Column("insertions", sa.Integer),
        sa.Column("deletions", sa.Integer),
    )
    op.create_index("ix_commits_session", "commits", ["session_id"])

    op.create_table(
        "raw_events",
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("session_id", sa.Text),
        sa.Column("kind", sa.Text),
        sa.Column("ts_ms", Big),
        sa.Column("received_ms", Big, nullable=False),
        sa.Column("payload", sa.Text),
    )
    op.create_index("ix_raw_events_session", "raw_events", ["session_id", "received_ms"])
    op.create_index("ix_raw_events_received", "raw_events", ["received_ms"])

    op.create_table(
        "import_files",
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("size", Big, nullable=False),
        sa.Column("mtime_ns", Big, nullable=False),
        sa.Column("safe_offset", Big, nullable=False),
        sa.Column("parser_state", sa.Text),
        sa.Column("updated_ms", Big, nullable=False),
    )

    # Rollups per 15-minute bucket, rebuilt for the buckets a write touched (exact, idempotent).
    op.create_table(
        "usage_rollup",
        sa.Column("bucket_ms", Big, nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("agent", sa.Text, nullable=False),
        sa.Column("model", sa.Text, nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        *_usage_columns(),
        sa.Column("cost_nusd", Big, nullable=False),
        sa.Column("unpriced_calls", sa.Integer, nullable=False),
        sa.Column("reported_cost_nusd", Big, nullable=False),
    )
    op.create_index("ix_usage_rollup_bucket", "usage_rollup", ["bucket_ms"])
    op.create_table(
        "activity_rollup",
        sa.Column("bucket_ms", Big, nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("agent", sa.Text, nullable=False),
        sa.Column("prompts", sa.Integer, nullable=False),
        sa.Column("tool_calls", sa.Integer, nullable=False),
        sa.Column("tool_errors", sa.Integer, nullable=False),
        sa.Column("sessions", sa.Integer, nullable=False),
    )
    op.create_index("ix_activity_rollup_bucket", "activity_rollup", ["bucket_ms"])
    op.create_table(
        "tool_rollup",
        sa.Column("bucket_ms", Big, nullable=False),
        sa.Column("project", sa.Text, nullable=False),
        sa.Column("user_id", sa.Text, nullable=False),
        sa.Column("agent", sa.Text, nullable=False),
        sa.Column("tool_name", sa.Text, nullable=False),
        sa.Column("calls", sa.Integer, nullable=False),
        sa.Column("errors", sa.Integer, nullable=False),
        sa.Column("duration_ms", Big, nullable=False),
    )
    op.create_index("ix_tool_rollup_bucket", "tool_rollup", ["bucket_ms"])
    # Work queues drained by the derived-data refresh, written in the same transaction as the data.
    op.create_table("dirty_buckets", sa.Column("bucket_ms", Big, primary_key=True))
    op.create_table("dirty_sessions", sa.Column("session_id", sa.Text, primary_key=True))
    # The change feed behind live updates (SSE with Last-Event-ID).
    op.create_table(
        "session_changes",
        sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("changed_ms", Big, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "session_changes",
        "dirty_sessions",
        "dirty_buckets",
        "tool_rollup",
        "activity_rollup",
        "usage_rollup",
        "import_files",
        "raw_events",
        "commits",
        "subagents",
        "file_touches",
        "tool_calls",
        "llm_calls",
        "prompts",
        "sessions",
    ):
        op.drop_table(table)
