"""Users and instance settings; on PostgreSQL, every text column in byte ("C") order.

Revision ID: 0003
Revises: 0002

Why the collation: SQLite and ClickHouse compare text by bytes. A PostgreSQL database created with
a linguistic collation (en_US, ICU) sorts "a-b" before "ab" differently, and its LOWER() folds
non-ASCII letters, so ties in a replay, the order of a session list and free-text search would
differ from the other backends. Under "C", PostgreSQL orders by code point and LOWER() folds
ASCII only, exactly like the others. Later migrations create text columns with
`sa.Text(collation="C")` on PostgreSQL (see `text_type` below); tests/store/test_migrations.py
checks that every text column keeps it.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def text_type() -> sa.types.TypeEngine[str]:
    """Text in byte order on PostgreSQL; plain text elsewhere (SQLite already compares bytes)."""
    if op.get_bind().dialect.name == "postgresql":
        return sa.Text(collation="C")
    return sa.Text()


def _text_columns() -> list[tuple[str, str]]:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying') "
            "AND table_name <> 'alembic_version' ORDER BY table_name, ordinal_position"
        )
    )
    return [(str(r[0]), str(r[1])) for r in rows]


def _set_collation(collation: str) -> None:
    for table, column in _text_columns():
        op.execute(f'ALTER TABLE "{table}" ALTER COLUMN "{column}" TYPE TEXT COLLATE "{collation}"')


def upgrade() -> None:
    # Who uses the instance: one row per user id seen on a session. Times come from the sessions
    # themselves (earliest start, latest end), so they are the same whatever order data arrives in.
    op.create_table(
        "users",
        sa.Column("user_id", text_type(), primary_key=True),
        sa.Column("display_name", text_type()),
        sa.Column("email", text_type()),
        sa.Column("first_seen_ms", sa.BigInteger),
        sa.Column("last_seen_ms", sa.BigInteger),
    )
    # Instance-wide settings (key → value), e.g. the instance id that names this installation.
    op.create_table(
        "instance_settings",
        sa.Column("key", text_type(), primary_key=True),
        sa.Column("value", text_type(), nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(
        sa.table(
            "instance_settings",
            sa.column("key", sa.Text),
            sa.column("value", sa.Text),
            sa.column("updated_ms", sa.BigInteger),
        ),
        [{"key": "instance_id", "value": str(uuid.uuid4()), "updated_ms": 0}],
    )
    if op.get_bind().dialect.name == "postgresql":
        _set_collation("C")


def downgrade() -> None:
    op.drop_table("instance_settings")
    op.drop_table("users")
    if op.get_bind().dialect.name == "postgresql":
        _set_collation("default")
