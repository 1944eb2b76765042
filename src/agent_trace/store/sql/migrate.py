"""Alembic migrations for the SQL adapter, run programmatically on an open connection."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# The newest revision in migrations/versions. The lean read path compares the database's
# alembic_version with this without importing Alembic; a test keeps the two in step.
HEAD_REVISION = "0007_fts_pending"
MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _config(connection: Any) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


def upgrade(runner: Any, revision: str = "head") -> None:
    """Upgrade the database behind a SqlAlchemyRunner to `revision`."""
    from alembic import command

    engine = getattr(runner, "engine", None)
    if engine is None:
        raise TypeError("migrations need the SQLAlchemy runner (SqlAlchemyRunner)")
    with engine.begin() as connection:
        _lock(connection)
        command.upgrade(_config(connection), revision)


def downgrade(runner: Any, revision: str) -> None:
    from alembic import command

    with runner.engine.begin() as connection:
        _lock(connection)
        command.downgrade(_config(connection), revision)


# Held for the migration's transaction: when several roles start at once against one PostgreSQL
# server, one migrates and the others wait, then find the schema current (SQLite's write lock
# does the same there). A constant distinct from the store's writer lock.
MIGRATION_LOCK_KEY = 0x61676D69  # "agmi"


def _lock(connection: Any) -> None:
    if connection.dialect.name == "postgresql":
        from sqlalchemy import text

        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def current_revision(runner: Any) -> str | None:
    """The database's schema revision, or None for an empty database (no Alembic import).

    Only a missing `alembic_version` table means "empty": any other failure (a file that is not
    a database, a server that does not answer) is raised, never reported as an empty schema."""
    try:
        rows = runner.query("SELECT version_num FROM alembic_version")
    except Exception as exc:
        if _is_missing_table(exc):
            return None
        raise
    return str(rows[0][0]) if rows else None


def _is_missing_table(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", None) or exc)
    return "no such table" in text or ("alembic_version" in text and "does not exist" in text)


def script_head() -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    head = ScriptDirectory.from_config(config).get_current_head()
    return str(head)


def known_revisions() -> list[str]:
    """Every revision id, oldest first (what `db downgrade` accepts besides `base`)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return [str(s.revision) for s in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))]
