"""LLM calls keyed by message id; which sessions hold each call; request id → call; why a
call is unpriced.

Revision ID: 0006_i10
Revises: 0005

- Keys (issue 10): a call was keyed by its requestId, so two messages sharing one were merged.
  It is now "msg:" + message.id (domain.records.llm_call_id). Stored calls that know their
  message id are renamed here (and the tool calls pointing at them), so a re-import after the
  upgrade merges into them and counts nothing twice. Two stored rows of one message (kept apart
  before only by different request ids) become one: the streaming-duplicate rule keeps the copy
  with the largest usage.
- `call_aliases`: request id → the call holding it, so a record that knows only the request id
  (OTLP) merges into that call (store/sql/call_keys.py).
- `call_holders`: every session a call was seen in. The owner of a call is the earliest-starting
  holder (ties: the smaller session id), whatever the order files arrive in.

On PostgreSQL + ClickHouse the records are in ClickHouse: the hybrid store renames them there
(store/clickhouse/rekey.py) and fills these tables when it migrates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_i10"
down_revision = "0006_i15"
branch_labels = None
depends_on = None


def _text() -> sa.types.TypeEngine[str]:
    if op.get_bind().dialect.name == "postgresql":
        return sa.Text(collation="C")  # byte order, as every text column (see 0003)
    return sa.Text()


_NEW_KEY = "'msg:' || message_id"
_RENAMED = f"message_id IS NOT NULL AND call_id <> {_NEW_KEY}"


def upgrade() -> None:
    # Why a call is unpriced (domain.pricing UNPRICED_*), shown per call by the API.
    op.add_column("llm_calls", sa.Column("unpriced_reason", _text()))
    op.create_table(
        "call_holders",
        sa.Column("call_id", _text(), primary_key=True),
        sa.Column("session_id", _text(), primary_key=True),
    )
    op.create_index("ix_call_holders_session", "call_holders", ["session_id"])
    op.create_table(
        "call_aliases",
        sa.Column("request_id", _text(), primary_key=True),
        sa.Column("call_id", _text(), nullable=False),
    )
    # Rows of a message stored under two request ids: keep the largest copy (ties: smaller key).
    op.execute(
        "INSERT INTO dirty_buckets (bucket_ms) SELECT DISTINCT bucket_ms FROM llm_calls c "
        f"WHERE c.bucket_ms IS NOT NULL AND c.{_RENAMED} "
        "AND NOT EXISTS (SELECT 1 FROM dirty_buckets d WHERE d.bucket_ms = c.bucket_ms)"
    )
    op.execute(
        "INSERT INTO dirty_sessions (session_id) SELECT DISTINCT session_id FROM llm_calls c "
        f"WHERE c.{_RENAMED} AND NOT EXISTS (SELECT 1 FROM dirty_sessions d WHERE d.session_id = c.session_id)"
    )
    op.execute(
        "DELETE FROM llm_calls WHERE message_id IS NOT NULL AND EXISTS (SELECT 1 FROM llm_calls o "
        "WHERE o.message_id = llm_calls.message_id AND o.call_id <> llm_calls.call_id AND "
        "(o.usage_total > llm_calls.usage_total OR (o.usage_total = llm_calls.usage_total "
        "AND o.call_id < llm_calls.call_id)))"
    )
    op.execute(
        f"UPDATE tool_calls SET call_id = (SELECT {_NEW_KEY} FROM llm_calls c WHERE c.call_id = tool_calls.call_id) "
        f"WHERE call_id IN (SELECT call_id FROM llm_calls WHERE {_RENAMED})"
    )
    op.execute(f"UPDATE llm_calls SET call_id = {_NEW_KEY} WHERE {_RENAMED}")
    op.execute(
        "INSERT INTO call_aliases (request_id, call_id) SELECT request_id, MIN(call_id) FROM llm_calls "
        "WHERE request_id IS NOT NULL AND message_id IS NOT NULL GROUP BY request_id"
    )
    op.execute("INSERT INTO call_holders (call_id, session_id) SELECT call_id, session_id FROM llm_calls")


def downgrade() -> None:
    op.drop_column("llm_calls", "unpriced_reason")
    op.drop_table("call_aliases")
    op.drop_index("ix_call_holders_session", table_name="call_holders")
    op.drop_table("call_holders")
