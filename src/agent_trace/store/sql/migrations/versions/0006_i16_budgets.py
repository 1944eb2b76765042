"""Budgets, the alerts they raised, alert deliveries, and per-session overrides.

Revision ID: 0006_i16
Revises: 0005

- budgets: one row per scope + period + unit (domain/budgets.py); `limit_value` in nano-USD or tokens.
- budget_alerts: one row per threshold crossed, per budget, period and subject (the session for
  per-session budgets, else ''). The primary key is what makes an alert fire once: a restarted
  collector, or a second one beside it, inserts the same key and learns it is not new.
- alert_deliveries: one row per alert and channel (webhook, slack, email): status, attempts,
  last error, when to try again. Kept so the delivery history can be shown and retried.
- budget_allowances: sessions an admin let run past their block (`budgets allow --session ID`).
Kept on the SQL side with PostgreSQL + ClickHouse as well (small, transactional tables).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_i16"
down_revision = "0006_i10"
branch_labels = None
depends_on = None


def _text() -> sa.types.TypeEngine[str]:
    # Byte order on PostgreSQL, like every text column (see 0003).
    return sa.Text(collation="C") if op.get_bind().dialect.name == "postgresql" else sa.Text()


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("budget_id", _text(), primary_key=True),
        sa.Column("scope", _text(), nullable=False),
        sa.Column("period", _text(), nullable=False),
        sa.Column("unit", _text(), nullable=False),
        sa.Column("limit_value", sa.BigInteger, nullable=False),
        sa.Column("thresholds", _text(), nullable=False),
        sa.Column("mode", _text(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "budget_alerts",
        sa.Column("budget_id", _text(), primary_key=True),
        sa.Column("period_key", _text(), primary_key=True),
        sa.Column("subject", _text(), primary_key=True),
        sa.Column("threshold", sa.Integer, primary_key=True),
        sa.Column("spent", sa.BigInteger, nullable=False),
        sa.Column("limit_value", sa.BigInteger, nullable=False),
        sa.Column("message", _text(), nullable=False),
        sa.Column("crossed_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("budget_alerts_crossed", "budget_alerts", ["crossed_ms"])
    op.create_table(
        "alert_deliveries",
        sa.Column("budget_id", _text(), primary_key=True),
        sa.Column("period_key", _text(), primary_key=True),
        sa.Column("subject", _text(), primary_key=True),
        sa.Column("threshold", sa.Integer, primary_key=True),
        sa.Column("channel", _text(), primary_key=True),
        sa.Column("status", _text(), nullable=False),  # pending | sending | sent | failed
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", _text()),
        sa.Column("next_attempt_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_ms"])
    op.create_table(
        "budget_allowances",
        sa.Column("session_id", _text(), primary_key=True),
        sa.Column("allowed_ms", sa.BigInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("budget_allowances")
    op.drop_index("alert_deliveries_due", "alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_index("budget_alerts_crossed", "budget_alerts")
    op.drop_table("budget_alerts")
    op.drop_table("budgets")
