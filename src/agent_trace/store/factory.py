"""Open the Store that the settings name: one function, so every command and role agree."""

from __future__ import annotations

from agent_trace.config import Settings
from agent_trace.store.port import Store


class StoreUnavailable(RuntimeError):
    """The database cannot be opened; the message says which and why."""


def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The full store (SQLAlchemy engine; migrations applied unless `migrate` is False)."""
    from agent_trace.store.sql.adapter import SqlStore
    from agent_trace.store.sql.runner import SqlAlchemyRunner

    try:
        runner = SqlAlchemyRunner(settings.database_url)
        store = SqlStore(runner, settings.database_url)
        if migrate:
            store.migrate()
    except Exception as exc:  # driver errors vary by backend; name the URL without credentials
        raise StoreUnavailable(f"cannot open database {_redacted_url(settings.database_url)}: {exc}") from exc
    return store


def open_read_store(settings: Settings) -> Store:
    """A store for read-only commands. On SQLite at the current schema this avoids importing
    SQLAlchemy and Alembic entirely (a whole-process report then starts in ~50 ms)."""
    path = settings.sqlite_path
    if path is not None and path.is_file():
        from agent_trace.store.sql.adapter import SqlStore
        from agent_trace.store.sql.migrate import HEAD_REVISION, current_revision
        from agent_trace.store.sql.runner import SqliteRunner

        runner = SqliteRunner(path)
        if current_revision(runner) == HEAD_REVISION:
            return SqlStore(runner, settings.database_url)
        runner.close()
    return open_store(settings)


def _redacted_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
