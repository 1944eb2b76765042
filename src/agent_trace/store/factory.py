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

    if settings.events_url:
        return _open_hybrid(settings, migrate=migrate)
    try:
        runner = SqlAlchemyRunner(settings.database_url)
        store = SqlStore(runner, settings.database_url)
        if migrate:
            store.migrate()
    except Exception as exc:  # driver errors vary by backend; name the URL without credentials
        raise StoreUnavailable(f"cannot open database {_redacted_url(settings.database_url)}: {exc}") from exc
    return store


def _open_hybrid(settings: Settings, *, migrate: bool) -> Store:
    """SQL (sessions, users, commits, settings) + ClickHouse (records, rollups): store.clickhouse."""
    from agent_trace.store.clickhouse.client import open_client, parse_events_url
    from agent_trace.store.clickhouse.hybrid import HybridStore
    from agent_trace.store.sql.runner import SqlAlchemyRunner

    assert settings.events_url is not None
    try:
        events = parse_events_url(settings.events_url)
    except ValueError as exc:
        raise StoreUnavailable(str(exc)) from exc
    try:
        runner = SqlAlchemyRunner(settings.database_url)
    except Exception as exc:
        raise StoreUnavailable(f"cannot open database {_redacted_url(settings.database_url)}: {exc}") from exc
    try:
        client = open_client(settings.events_url)
    except Exception as exc:
        runner.close()
        raise StoreUnavailable(f"cannot open events database {events.redacted}: {exc}") from exc
    store = HybridStore(runner, settings.database_url, client)
    if migrate:
        try:
            store.migrate()
        except Exception as exc:
            store.close()
            raise StoreUnavailable(
                f"cannot migrate {_redacted_url(settings.database_url)} + {events.redacted}: {exc}"
            ) from exc
    return store


def open_writer_store(settings: Settings) -> Store:
    """A store for ONE writer thread (the collector's ingest queue), on an already migrated schema.

    On a SQLite file it keeps one stdlib sqlite3 connection open: a group commit is then a few
    statements on a warm connection, instead of a new connection (and its pragmas) and
    SQLAlchemy's per-statement overhead for every transaction. Elsewhere it is `open_store`.
    """
    path = settings.sqlite_path
    if path is None or settings.events_url:
        return open_store(settings, migrate=False)
    from agent_trace.store.sql.adapter import SqlStore
    from agent_trace.store.sql.runner import SqliteRunner

    try:
        return SqlStore(SqliteRunner(path), settings.database_url)
    except Exception as exc:
        raise StoreUnavailable(f"cannot open database {_redacted_url(settings.database_url)}: {exc}") from exc


def open_read_store(settings: Settings) -> Store:
    """A store for read-only commands. On SQLite at the current schema this avoids importing
    SQLAlchemy and Alembic entirely (a whole-process report then starts in ~50 ms)."""
    path = settings.sqlite_path
    if path is not None and path.is_file() and not settings.events_url:
        from agent_trace.store.sql.adapter import SqlStore
        from agent_trace.store.sql.migrate import HEAD_REVISION, current_revision
        from agent_trace.store.sql.runner import SqliteRunner

        runner = SqliteRunner(path)
        if current_revision(runner) == HEAD_REVISION:
            return SqlStore(runner, settings.database_url)
        runner.close()
    return open_store(settings)


def check_schema(store: Store) -> None:
    """Raise StoreUnavailable unless the schema is exactly what this agent-trace expects (used
    when a role starts with RUNTIME_RUN_MIGRATIONS=false: another process migrates)."""
    from agent_trace.store.sql.migrate import HEAD_REVISION, current_revision

    how = "run `agent-trace db upgrade`, or start one role with RUNTIME_RUN_MIGRATIONS=true"
    revision = current_revision(getattr(store, "runner", None))
    if revision != HEAD_REVISION:
        raise StoreUnavailable(
            f"database schema is at revision {revision or '(none)'}, this agent-trace needs {HEAD_REVISION}: {how}"
        )
    pending = getattr(store, "pending_events_migrations", None)
    if pending is not None:
        try:
            waiting = pending()
        except RuntimeError as exc:  # MigrationStateError: a half-applied migration, explained
            raise StoreUnavailable(str(exc)) from exc
        if waiting:
            raise StoreUnavailable(f"ClickHouse migrations {', '.join(waiting)} are not applied: {how}")


def _redacted_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
