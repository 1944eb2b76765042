"""Outcomes: commit provenance and fates, pull/merge requests, pushes, and each session's outcome.

Revision ID: 0006_i14
Revises: 0005

- commits gain what the hook handler and `agent-trace git scan` read from git (parent, patch-id,
  the keys of the added lines per file, the Co-Authored-By signal, the fates: on the default
  branch, reverted by, rewritten as) and the columns the refresh of derived data links
  (prompt_id, tool_use_id, agent_lines, pr_id).
- pull_requests and pushed_commits hold what the GitHub/GitLab webhooks delivered.
- sessions gain their outcome (label, score, signals as JSON) and commit totals, summary columns
  kept by the same refresh as the counts (store.sql.derived). Every session is marked for it.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0006_i14"
down_revision = "0006_i13"
branch_labels = None
depends_on = None

Big = sa.BigInteger
Flag = sa.SmallInteger


_Text = None  # a text column: byte order on PostgreSQL, as 0003 made every other one


def _kind(kind: type[sa.types.TypeEngine[Any]] | None) -> sa.types.TypeEngine[Any]:
    if kind is None:
        return sa.Text(collation="C") if op.get_bind().dialect.name == "postgresql" else sa.Text()
    return kind()


COMMIT_COLUMNS = (
    ("parent_sha", _Text),
    ("patch_id", _Text),
    ("files_json", _Text),
    ("co_authored", Flag),
    ("on_default", Flag),
    ("reverted_by", _Text),
    ("rewritten_as", _Text),
    ("prompt_id", _Text),
    ("tool_use_id", _Text),
    ("agent_lines", sa.Integer),
    ("pr_id", _Text),
)
SESSION_COLUMNS = (
    ("outcome_label", _Text),
    ("outcome_score", sa.Integer),
    ("outcome_signals", _Text),
    ("n_commits", sa.Integer),
    ("commit_lines", sa.Integer),
    ("agent_lines", sa.Integer),
    ("merged_prs", sa.Integer),
    ("primary_model", _Text),  # the model that cost the session most (outcomes by model)
)


def upgrade() -> None:
    text = _kind(_Text)
    for name, kind in COMMIT_COLUMNS:
        op.add_column("commits", sa.Column(name, _kind(kind)))
    op.create_index("ix_commits_patch_id", "commits", ["patch_id"])
    for name, kind in SESSION_COLUMNS:
        op.add_column("sessions", sa.Column(name, _kind(kind)))
    op.create_table(
        "pull_requests",
        sa.Column("pr_id", text, primary_key=True),
        sa.Column("provider", text, nullable=False),
        sa.Column("repo", text, nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("state", text),
        sa.Column("title", text),
        sa.Column("url", text),
        sa.Column("author", text),
        sa.Column("head_ref", text),
        sa.Column("head_sha", text),
        sa.Column("base_ref", text),
        sa.Column("merge_sha", text),
        sa.Column("opened_ms", Big),
        sa.Column("closed_ms", Big),
        sa.Column("merged_ms", Big),
        sa.Column("updated_ms", Big),
    )
    op.create_index("ix_pull_requests_head", "pull_requests", ["repo", "head_ref"])
    op.create_index("ix_pull_requests_head_sha", "pull_requests", ["head_sha"])
    op.create_table(
        "pushed_commits",
        sa.Column("repo", text, primary_key=True),
        sa.Column("ref", text, primary_key=True),
        sa.Column("sha", text, primary_key=True),
        sa.Column("ts_ms", Big),
    )
    op.create_index("ix_pushed_commits_sha", "pushed_commits", ["sha"])
    op.execute(
        "INSERT INTO dirty_sessions (session_id) SELECT s.session_id FROM sessions s "
        "WHERE NOT EXISTS (SELECT 1 FROM dirty_sessions d WHERE d.session_id = s.session_id)"
    )


def downgrade() -> None:
    op.drop_table("pushed_commits")
    op.drop_table("pull_requests")
    for name, _ in SESSION_COLUMNS:
        op.drop_column("sessions", name)
    op.drop_index("ix_commits_patch_id", table_name="commits")
    for name, _ in COMMIT_COLUMNS:
        op.drop_column("commits", name)
