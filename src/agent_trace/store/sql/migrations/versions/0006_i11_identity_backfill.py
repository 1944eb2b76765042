"""Sessions recorded without a user, or only with telemetry's account id, get the store's user.

Revision ID: 0006_i11
Revises: 0005

One identity rule now holds on every path (agent_trace.identity): configured user, else git
user.email, else the OS login name. Stores written before it hold sessions with no user (imported
without $USER, delivered from the spool) or with `otel:<account id>` (telemetry only). Where the
store names exactly ONE real user - a developer's own store - those sessions are that user's;
with several real users nothing is guessed.

The re-attribution itself must go through the store's writer (rollups are keyed by user, and with
ClickHouse they live there), which Alembic cannot reach: this migration only leaves a mark in
instance_settings, and `store.sql.backfill.backfill_users` (run by every store's migrate()) does
the work and removes the mark.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_i11"
down_revision = "0005"
branch_labels = None
depends_on = None

MARK = "backfill_users"


def upgrade() -> None:
    op.execute(sa.text("DELETE FROM instance_settings WHERE key = :key").bindparams(key=MARK))
    op.execute(
        sa.text(
            "INSERT INTO instance_settings (key, value, updated_ms) VALUES (:key, 'pending', 0)"
        ).bindparams(key=MARK)
    )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM instance_settings WHERE key = :key").bindparams(key=MARK))
