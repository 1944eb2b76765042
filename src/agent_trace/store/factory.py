"""Open the Store a database URL names: one module, so every command and role agree.

It takes plain arguments (the SQL database URL, the optional ClickHouse events URL); the caller
(server, cli) passes them from its Settings.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent_trace.store.port import Store, StoreAdmin
from agent_trace.store.sql.runner import SqliteRunner
from agent_trace.store.sql.urls import sqlite_file


class StoreUnavailable(RuntimeError):
    """The database cannot be opened; the message says which and why."""


def open_store(database_url: str, events_url: str | None = None, *, migrate: bool = True) -> Store:
    """The full store (SQLAlchemy engine; migrations applied unless `migrate` is False): SQL, or
    SQL + ClickHouse when `events_url` is set."""
    from agent_trace.store.sql.adapter import SqlStore
    from agent_trace.store.sql.runner import SqlAlchemyRunner

    if events_url:
        return _open_hybrid(database_url, events_url, migrate=migrate)
    try:
        runner = SqlAlchemyRunner(database_url)
        store = SqlStore(runner, database_url)
        if migrate:
            store.migrate()
    except Exception as exc:  # driver errors vary by backend; name the URL without credentials
        raise StoreUnavailable(_cannot_open(database_url, exc)) from exc
    return store


def _open_hybrid(database_url: str, events_url: str, *, migrate: bool) -> Store:
    """SQL (sessions, users, commits, settings) + ClickHouse (records, rollups): store.clickhouse."""
    from agent_trace.store.clickhouse.client import open_client, parse_events_url
    from agent_trace.store.clickhouse.hybrid import HybridStore
    from agent_trace.store.sql.runner import SqlAlchemyRunner

    try:
        events = parse_events_url(events_url)
    except ValueError as exc:
        raise StoreUnavailable(str(exc)) from exc
    try:
        runner = SqlAlchemyRunner(database_url)
    except Exception as exc:
        raise StoreUnavailable(_cannot_open(database_url, exc)) from exc
    try:
        client = open_client(events_url)
    except Exception as exc:
        runner.close()
        raise StoreUnavailable(f"cannot open events database {events.redacted}: {exc}") from exc
    store = HybridStore(runner, database_url, client)
    if migrate:
        try:
            store.migrate()
        except Exception as exc:
            store.close()
            raise StoreUnavailable(
                f"cannot migrate {_redacted_url(database_url)} + {events.redacted}: {exc}"
            ) from exc
    return store


def open_writer_store(database_url: str, events_url: str | None = None) -> Store:
    """A store for ONE writer thread (the collector's ingest queue), on an already migrated schema.

    On a SQLite file it keeps one stdlib sqlite3 connection open: a group commit is then a few
    statements on a warm connection, instead of a new connection (and its pragmas) and
    SQLAlchemy's per-statement overhead for every transaction. Elsewhere it is `open_store`.
    """
    path = sqlite_file(database_url)
    if path is None or events_url:
        return open_store(database_url, events_url, migrate=False)
    from agent_trace.store.sql.adapter import SqlStore

    try:
        return SqlStore(SqliteRunner(path), database_url)
    except Exception as exc:
        raise StoreUnavailable(_cannot_open(database_url, exc)) from exc


def open_read_store(database_url: str, events_url: str | None = None) -> Store:
    """A store for read-only commands. On SQLite at the current schema this avoids importing
    SQLAlchemy and Alembic entirely (a whole-process report then starts in ~50 ms)."""
    path = sqlite_file(database_url)
    if path is not None and path.is_file() and not events_url:
        from agent_trace.store.sql.adapter import SqlStore
        from agent_trace.store.sql.migrate import HEAD_REVISION, current_revision

        try:
            runner = _sqlite_reader(path)
            revision = current_revision(runner)
        except sqlite3.Error as exc:
            raise StoreUnavailable(_cannot_open(database_url, exc)) from exc
        if revision == HEAD_REVISION or runner.read_only:
            # A read-only file cannot be migrated: read what it holds (a report on an old schema
            # then fails with a one-line message naming the file rather than writing to it).
            return SqlStore(runner, database_url)
        runner.close()
    return open_store(database_url, events_url)


def _sqlite_reader(path: Path) -> SqliteRunner:
    """The stdlib runner for a read-only command; read-only mode when the file or its folder
    cannot be written (a report then still works on a read-only AGENT_TRACE_HOME)."""
    try:
        return SqliteRunner(path)
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc):
            raise
    return SqliteRunner(path, read_only=True)


def check_schema(store: StoreAdmin) -> None:
    """Raise StoreUnavailable unless the schema is exactly what this agent-trace expects (used
    when a role starts with RUNTIME_RUN_MIGRATIONS=false: another process migrates)."""
    from agent_trace.store.sql.migrate import HEAD_REVISION

    how = "run `agent-trace db upgrade`, or start one role with RUNTIME_RUN_MIGRATIONS=true"
    revision = store.schema_revision()
    if revision != HEAD_REVISION:
        raise StoreUnavailable(
            f"database schema is at revision {revision or '(none)'}, this agent-trace needs {HEAD_REVISION}: {how}"
        )
    try:
        waiting = store.pending_events_migrations()
    except RuntimeError as exc:  # MigrationStateError: a half-applied migration, explained
        raise StoreUnavailable(str(exc)) from exc
    if waiting:
        raise StoreUnavailable(f"ClickHouse migrations {', '.join(waiting)} are not applied: {how}")


def _cannot_open(database_url: str, exc: BaseException) -> str:
    return describe_database_error(exc, sqlite_file(database_url)) or (
        f"cannot open database {_redacted_url(database_url)}: {first_line(str(exc))}"
    )


def describe_database_error(exc: BaseException, sqlite_path: Path | None) -> str | None:
    """One line saying what a database error means and what to do, or None when `exc` is not one.

    Used for failures when a store is opened and for those while it is read (a truncated SQLite
    file opens fine and fails at the first query)."""
    cause = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's exception
    if isinstance(cause, ModuleNotFoundError) and (cause.name or "").startswith("psycopg"):
        return (
            "PostgreSQL support is not installed (no module 'psycopg'): pip install 'agent-trace[postgres]'"
        )
    if isinstance(cause, sqlite3.Error):
        return _sqlite_problem(sqlite_path, cause)
    module = type(cause).__module__
    if module.startswith("psycopg") or module.startswith("sqlalchemy"):
        if isinstance(exc, StoreUnavailable):
            return None
        text = first_line(str(cause))
        if "connection" in text.lower() or "connect" in text.lower():
            return f"cannot reach the database: {text}: is the server running, and is the URL right?"
        return f"database error: {text}"
    return None


def _sqlite_problem(path: Path | None, exc: sqlite3.Error) -> str:
    where = str(path) if path else "the SQLite database"
    text = str(exc)
    if "readonly" in text or "read-only" in text:
        return (
            f"{where} is read-only: make the file and its folder writable, or set "
            "AGENT_TRACE_HOME to a writable folder"
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return (
            f"{where} is damaged or not a SQLite database ({text}): restore it from a backup, or "
            "move it aside and run `agent-trace import` to rebuild it"
        )
    if "unable to open" in text:
        return f"cannot open {where} ({text}): does its folder exist, and may you write to it?"
    return f"{where}: {text}"


def first_line(text: str) -> str:
    """Driver messages run on (SQL, `Background on this error at …`): the first line says it."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else text.strip()


def _redacted_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url
