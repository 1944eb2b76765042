"""Read every agent file once more on the next import, so copied calls get their true owner.

Revision ID: 0007_i10_reread
Revises: 0006_i9

Before issue 10 the upsert never moved a call: a call copied into a resumed or forked session file
stayed with whichever copy was stored first, and the other sessions holding it were not recorded
(0006_i10 could only fill `call_holders` with each call's current session). The owner rule (the
earliest-starting holder, whatever the order files arrive in) needs every holder, and only the
files know them. Forgetting what was read makes the next `agent-trace import` read each file from
its start: the writes are idempotent merges (nothing is counted twice), each one records its
holders, and the owners of copied calls are re-decided. Files that no longer exist keep what they
gave. One full re-read is the price, paid once.
"""

from __future__ import annotations

from alembic import op

revision = "0007_i10_reread"
down_revision = "0006_i9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM import_files")


def downgrade() -> None:
    """Nothing to restore: the next import reads the files again either way."""
