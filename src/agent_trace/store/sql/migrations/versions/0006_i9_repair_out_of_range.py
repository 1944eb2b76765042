"""Repair rows holding values outside the ranges of domain/limits.py.

Revision ID: 0006_i9
Revises: 0005

Before the collector checked ranges, a hook stamped past year 9999 (or before year 1) was stored,
and from then on every read that formatted the instant failed. Such instants (and their 15-minute
buckets) are set to NULL, like any instant a source does not know; durations and token counts
outside their range likewise (tokens become 0, the sum of nothing). The rollups of those buckets
are dropped and the touched sessions marked for the next refresh, which rebuilds their summary
columns from the repaired rows. The same ranges as domain/limits.py are written out here on
purpose: a migration is history, and must not change when the rules do.
"""

from __future__ import annotations

from alembic import op

revision = "0006_i9"
down_revision = "0006_i14"
branch_labels = None
depends_on = None

MIN_TS_MS = 946_684_800_000  # 2000-01-01
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
MAX_DURATION_MS = 366 * 86_400_000
MAX_TOKENS = 10**9

_INSTANTS = {
    "sessions": ("started_ms", "ended_ms", "last_activity_ms"),
    "prompts": ("ts_ms", "bucket_ms"),
    "llm_calls": ("ts_ms", "bucket_ms"),
    "tool_calls": ("started_ms", "ended_ms", "bucket_ms"),
    "file_touches": ("ts_ms",),
    "subagents": ("started_ms", "ended_ms"),
    "commits": ("ts_ms",),
    "raw_events": ("ts_ms",),
}
_DURATIONS = {
    "prompts": ("duration_ms",),
    "llm_calls": ("duration_ms", "ttft_ms"),
    "tool_calls": ("duration_ms",),
}
_TOKENS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_5m_tokens",
    "cache_1h_tokens",
    "cache_read_tokens",
)
_SESSION_OF = {"sessions", "prompts", "llm_calls", "tool_calls", "file_touches", "subagents", "raw_events"}


def _outside(column: str, low: int, high: int) -> str:
    return f"({column} < {low} OR {column} >= {high})"


def _mark(table: str, condition: str) -> None:
    if table not in _SESSION_OF:
        return
    op.execute(
        f"INSERT INTO dirty_sessions (session_id) SELECT DISTINCT t.session_id FROM {table} t "
        f"WHERE t.session_id IS NOT NULL AND ({condition}) AND NOT EXISTS "
        "(SELECT 1 FROM dirty_sessions d WHERE d.session_id = t.session_id)"
    )


def upgrade() -> None:
    for table, columns in _INSTANTS.items():
        for column in columns:
            condition = _outside(column, MIN_TS_MS, MAX_TS_MS)
            _mark(table, condition)
            op.execute(f"UPDATE {table} SET {column} = NULL WHERE {condition}")
    op.execute(f"UPDATE raw_events SET received_ms = {MIN_TS_MS} WHERE received_ms < {MIN_TS_MS}")
    op.execute(f"UPDATE raw_events SET received_ms = {MAX_TS_MS - 1} WHERE received_ms >= {MAX_TS_MS}")
    for table, columns in _DURATIONS.items():
        for column in columns:
            condition = _outside(column, 0, MAX_DURATION_MS + 1)
            _mark(table, condition)
            op.execute(f"UPDATE {table} SET {column} = NULL WHERE {condition}")
    tokens = " OR ".join(_outside(c, 0, MAX_TOKENS + 1) for c in _TOKENS)
    _mark("llm_calls", tokens)
    op.execute(
        "INSERT INTO dirty_buckets (bucket_ms) SELECT DISTINCT t.bucket_ms FROM llm_calls t "
        f"WHERE t.bucket_ms IS NOT NULL AND ({tokens}) AND NOT EXISTS "
        "(SELECT 1 FROM dirty_buckets d WHERE d.bucket_ms = t.bucket_ms)"
    )
    zeroed = ", ".join(f"{c} = 0" for c in _TOKENS)
    op.execute(f"UPDATE llm_calls SET {zeroed}, usage_total = 0, has_usage = 0 WHERE {tokens}")
    for rollup in ("usage_rollup", "activity_rollup", "tool_rollup"):
        op.execute(f"DELETE FROM {rollup} WHERE {_outside('bucket_ms', MIN_TS_MS, MAX_TS_MS)}")
    op.execute(f"DELETE FROM dirty_buckets WHERE {_outside('bucket_ms', MIN_TS_MS, MAX_TS_MS)}")


def downgrade() -> None:
    pass  # the out-of-range values are gone for good (they were never usable)
