"""SQLite: index new text once per write, not once per row.

Revision ID: 0007_fts_pending
Revises: 0007_i10_reread

0006_i13 kept each FTS5 index in step with an AFTER INSERT trigger. A statement that fires a
trigger runs under a savepoint, and FTS5 writes its pending terms to disk at every savepoint, so
each inserted row became a segment of its own: indexing cost twice the tokenising (1.7 s of CPU
per 200 MB of transcripts, half the writer's time). Now the triggers only note the rowid in
`<table>_fts_pending`; the store indexes every noted row in one INSERT … SELECT at the end of the
same write transaction (store/sql/search.flush_pending), so the index never lags a commit.

Updates and deletes still take a row's old words out at once — but only when the row was indexed
(not still pending), which an external-content index requires: deleting words it never held
corrupts it. PostgreSQL is untouched (its tsvector is a generated column).
"""

from __future__ import annotations

from alembic import op

revision = "0007_fts_pending"
down_revision = "0007_i10_reread"
branch_labels = None
depends_on = None

# (table, FTS columns): as 0006_i13 (a migration is history: written out, not imported).
TABLES = (
    ("prompts", ("text",)),
    ("tool_calls", ("input_json", "output_text", "error")),
    ("llm_calls", ("response_text",)),
)


def _parts(table: str, cols: tuple[str, ...]) -> dict[str, str]:
    return {
        "fts": f"{table}_fts",
        "pending": f"{table}_fts_pending",
        "names": ", ".join(cols),
        "new": ", ".join(f"new.{c}" for c in cols),
        "old": ", ".join(f"old.{c}" for c in cols),
        "any_new": " OR ".join(f"new.{c} IS NOT NULL" for c in cols),
        "any_old": " OR ".join(f"old.{c} IS NOT NULL" for c in cols),
        "changed": " OR ".join(f"old.{c} IS NOT new.{c}" for c in cols),
    }


def _drop_triggers(table: str) -> None:
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_fts_{suffix}")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, cols in TABLES:
        p = _parts(table, cols)
        _drop_triggers(table)
        op.execute(f"CREATE TABLE {p['pending']} (id INTEGER PRIMARY KEY)")
        # Not `INSERT OR IGNORE`: an UPSERT's own conflict handling overrides a trigger's.
        note = f"INSERT INTO {p['pending']} (id) SELECT new.rowid WHERE NOT EXISTS (SELECT 1 FROM {p['pending']} WHERE id = new.rowid)"
        op.execute(
            f"CREATE TRIGGER {p['fts']}_ai AFTER INSERT ON {table} WHEN {p['any_new']} BEGIN {note}; END"
        )
        indexed = f"({p['any_old']}) AND old.rowid NOT IN (SELECT id FROM {p['pending']})"
        op.execute(
            f"CREATE TRIGGER {p['fts']}_ad AFTER DELETE ON {table} BEGIN "
            f"INSERT INTO {p['fts']} ({p['fts']}, rowid, {p['names']}) "
            f"SELECT 'delete', old.rowid, {p['old']} WHERE {indexed}; "
            f"DELETE FROM {p['pending']} WHERE id = old.rowid; END"
        )
        op.execute(
            f"CREATE TRIGGER {p['fts']}_au AFTER UPDATE OF {p['names']} ON {table} WHEN {p['changed']} BEGIN "
            f"INSERT INTO {p['fts']} ({p['fts']}, rowid, {p['names']}) "
            f"SELECT 'delete', old.rowid, {p['old']} WHERE {indexed}; "
            f"{note} AND ({p['any_new']}); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, cols in TABLES:
        p = _parts(table, cols)
        any_row = p["any_new"].replace("new.", "t.")
        op.execute(
            f"INSERT INTO {p['fts']} (rowid, {p['names']}) SELECT t.rowid, "
            + ", ".join(f"t.{c}" for c in cols)
            + f" FROM {table} t JOIN {p['pending']} q ON q.id = t.rowid WHERE {any_row}"
        )
        _drop_triggers(table)
        op.execute(f"DROP TABLE {p['pending']}")
        # 0006_i13's triggers, as it created them.
        op.execute(
            f"CREATE TRIGGER {p['fts']}_ai AFTER INSERT ON {table} WHEN {p['any_new']} BEGIN "
            f"INSERT INTO {p['fts']} (rowid, {p['names']}) VALUES (new.rowid, {p['new']}); END"
        )
        op.execute(
            f"CREATE TRIGGER {p['fts']}_ad AFTER DELETE ON {table} WHEN {p['any_old']} BEGIN "
            f"INSERT INTO {p['fts']} ({p['fts']}, rowid, {p['names']}) VALUES ('delete', old.rowid, {p['old']}); END"
        )
        op.execute(
            f"CREATE TRIGGER {p['fts']}_au AFTER UPDATE OF {p['names']} ON {table} WHEN {p['changed']} BEGIN "
            f"INSERT INTO {p['fts']} ({p['fts']}, rowid, {p['names']}) SELECT 'delete', old.rowid, {p['old']} "
            f"WHERE {p['any_old']}; "
            f"INSERT INTO {p['fts']} (rowid, {p['names']}) SELECT new.rowid, {p['new']} WHERE {p['any_new']}; END"
        )
