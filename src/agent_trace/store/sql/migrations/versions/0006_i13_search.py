"""Full-text search over prompts, tool calls (input, output, error) and responses.

Revision ID: 0006_i13
Revises: 0005

What is indexed is what is stored: text after the privacy tier and secret redaction.

- SQLite: one FTS5 table per record table, with the record table as its external content (the
  text is not stored twice) and triggers keeping it in step with every insert, merge (update of
  a text column) and delete (since 0007_fts_pending, inserts are indexed once per write). Tokens: unicode61 (letters and digits; `/`, `.`, `_`, `-` split), so a
  path or identifier is found by its parts as a phrase.
- PostgreSQL: a stored generated `tsvector` column per record table (the `simple` configuration:
  no stemming, no stop words - code is not English) over the same letter-and-digit words, with a
  GIN index. Long texts are indexed up to SEARCH_CHARS characters (a tsvector holds at most 1 MB).

The store's `search` (store/sql/search.py) queries either; the hybrid store searches ClickHouse.
"""

from __future__ import annotations

from alembic import op

revision = "0006_i13"
down_revision = "0006_i16"
branch_labels = None
depends_on = None

# (table, FTS columns)
TABLES = (
    ("prompts", ("text",)),
    ("tool_calls", ("input_json", "output_text", "error")),
    ("llm_calls", ("response_text",)),
)
SEARCH_CHARS = 200_000


def _sqlite_upgrade() -> None:
    for table, cols in TABLES:
        fts = f"{table}_fts"
        names = ", ".join(cols)
        new = ", ".join(f"new.{c}" for c in cols)
        old = ", ".join(f"old.{c}" for c in cols)
        any_new = " OR ".join(f"new.{c} IS NOT NULL" for c in cols)
        any_old = " OR ".join(f"old.{c} IS NOT NULL" for c in cols)
        changed = " OR ".join(f"old.{c} IS NOT new.{c}" for c in cols)
        op.execute(
            f"CREATE VIRTUAL TABLE {fts} USING fts5({names}, content='{table}', content_rowid='rowid', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
        # Rows with no text at all (tier 1) never enter the index; 'delete' must then be skipped
        # for them too, since deleting what an external-content index never held corrupts it.
        op.execute(
            f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} WHEN {any_new} BEGIN "
            f"INSERT INTO {fts} (rowid, {names}) VALUES (new.rowid, {new}); END"
        )
        op.execute(
            f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} WHEN {any_old} BEGIN "
            f"INSERT INTO {fts} ({fts}, rowid, {names}) VALUES ('delete', old.rowid, {old}); END"
        )
        op.execute(
            f"CREATE TRIGGER {fts}_au AFTER UPDATE OF {names} ON {table} WHEN {changed} BEGIN "
            f"INSERT INTO {fts} ({fts}, rowid, {names}) SELECT 'delete', old.rowid, {old} WHERE {any_old}; "
            f"INSERT INTO {fts} (rowid, {names}) SELECT new.rowid, {new} WHERE {any_new}; END"
        )
        op.execute(
            f"INSERT INTO {fts} (rowid, {names}) SELECT rowid, {names} FROM {table} WHERE {any_new.replace('new.', '')}"
        )


def _pg_document(cols: tuple[str, ...]) -> str:
    parts = " || ' ' || ".join(f"left(coalesce({c}, ''), {SEARCH_CHARS})" for c in cols)
    # Letters and digits only, as SQLite's unicode61 splits: PostgreSQL's parser would otherwise
    # keep `src/app.py` as one "file" token that a search for `app.py` cannot find.
    return f"to_tsvector('simple'::regconfig, regexp_replace({parts}, '[^[:alnum:]]+', ' ', 'g'))"


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_upgrade()
        return
    for table, cols in TABLES:
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search_doc tsvector GENERATED ALWAYS AS ({_pg_document(cols)}) STORED"
        )
        op.execute(f"CREATE INDEX ix_{table}_search ON {table} USING gin (search_doc)")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table, _cols in TABLES:
        if dialect == "sqlite":
            for suffix in ("ai", "ad", "au"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")
            op.execute(f"DROP TABLE IF EXISTS {table}_fts")
        else:
            op.execute(f"DROP INDEX IF EXISTS ix_{table}_search")
            op.execute(f"ALTER TABLE {table} DROP COLUMN IF EXISTS search_doc")
