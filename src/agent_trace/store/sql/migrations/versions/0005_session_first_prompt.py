"""Each session's first typed prompt, kept with its other summary columns.

Revision ID: 0005
Revises: 0004

The session list shows it on every row. Read from the prompts by a correlated subquery, it cost
a lookup per listed session - and with PostgreSQL + ClickHouse the prompts are in ClickHouse,
one more round trip per page. Kept here, refreshed with the counts (store.sql.derived
`_refresh_session_summaries`), the list is one index range scan. Existing sessions are marked
for the next refresh, which fills the column.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    collation = "C" if op.get_bind().dialect.name == "postgresql" else None  # see 0003
    op.add_column("sessions", sa.Column("first_prompt", sa.Text(collation=collation)))
    op.execute(
        "INSERT INTO dirty_sessions (session_id) SELECT s.session_id FROM sessions s "
        "WHERE NOT EXISTS (SELECT 1 FROM dirty_sessions d WHERE d.session_id = s.session_id)"
    )


def downgrade() -> None:
    # Plain ALTER TABLE … DROP COLUMN (SQLite 3.35+): Alembic's batch mode would copy the table
    # and lose the expression index of 0004, which SQLAlchemy cannot reflect.
    op.drop_column("sessions", "first_prompt")
