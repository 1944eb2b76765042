"""Transcript cursors: how far the collector has parsed transcripts shipped in hook deltas.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row per (session, transcript path) that a hook handler shipped lines of. `state` is JSON
    # owned by the collector (parser state, the tail still to re-read, ranges never received), so
    # the collector resumes exactly where it was after a restart.
    op.create_table(
        "transcript_cursors",
        sa.Column("session_id", sa.Text, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("end_offset", sa.BigInteger, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("session_id", "path"),
    )


def downgrade() -> None:
    op.drop_table("transcript_cursors")
