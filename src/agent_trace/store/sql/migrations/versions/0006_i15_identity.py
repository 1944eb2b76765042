"""People, teams, tokens, login sessions and the tamper-evident audit log (issue 15).

Revision ID: 0006_i15
Revises: 0005

`users` (0003) stays what it was: every user id seen on a session. `accounts` are the people who
may sign in or send data: the account's `user_id` is the id their sessions carry, so a person's
data and their account meet without a join table. Tokens and login sessions are stored only as
SHA-256 digests of high-entropy random strings (a fast hash is right for those; passwords use
argon2). The audit log is append-only and hash-chained: `entry_hash` covers the previous
entry's hash, so editing or deleting any row breaks every later link (domain/audit_chain.py).
On PostgreSQL, text in byte order like every other column (see 0003).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_i15"
down_revision = "0006_i11"
branch_labels = None
depends_on = None


def _text() -> sa.types.TypeEngine[str]:
    if op.get_bind().dialect.name == "postgresql":
        return sa.Text(collation="C")
    return sa.Text()


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("user_id", _text(), primary_key=True),
        sa.Column("email", _text()),
        sa.Column("display_name", _text()),
        sa.Column("role", _text(), nullable=False),  # admin | member | viewer
        sa.Column("disabled", sa.Integer, nullable=False, server_default="0"),
        sa.Column("password_hash", _text()),  # argon2id, None = no local password
        sa.Column("source", _text(), nullable=False),  # cli | oidc
        sa.Column("oidc_subject", _text(), unique=True),  # issuer + " " + sub
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("updated_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "teams",
        sa.Column("team_id", _text(), primary_key=True),
        # What members see of each other's sessions: metadata | content.
        sa.Column("member_access", _text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", _text(), primary_key=True),
        sa.Column("user_id", _text(), primary_key=True),
    )
    op.create_index("team_members_user", "team_members", ["user_id"])
    op.create_table(
        "api_tokens",
        sa.Column("token_hash", _text(), primary_key=True),
        sa.Column("user_id", _text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
    )
    op.create_index("api_tokens_user", "api_tokens", ["user_id"])
    op.create_table(
        "login_sessions",
        sa.Column("session_hash", _text(), primary_key=True),
        sa.Column("user_id", _text(), nullable=False),
        sa.Column("csrf_token", _text(), nullable=False),
        sa.Column("created_ms", sa.BigInteger, nullable=False),
        sa.Column("expires_ms", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("actor", _text()),
        sa.Column("action", _text(), nullable=False),
        sa.Column("target", _text()),
        sa.Column("detail", _text(), nullable=False),  # canonical JSON object
        sa.Column("prev_hash", _text(), nullable=False),
        sa.Column("entry_hash", _text(), nullable=False),
    )
    op.create_index("audit_log_at", "audit_log", ["at_ms"])


def downgrade() -> None:
    op.drop_index("audit_log_at", "audit_log")
    op.drop_table("audit_log")
    op.drop_table("login_sessions")
    op.drop_index("api_tokens_user", "api_tokens")
    op.drop_table("api_tokens")
    op.drop_index("team_members_user", "team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
    op.drop_table("accounts")
