"""How the SQL adapter talks to a database: one small interface, two implementations.

`SqlAlchemyRunner` (a SQLAlchemy Core engine: pooling, dialects, transactions, Alembic) serves
SQLite and PostgreSQL for everything; the SQL text itself is portable and goes to the driver.
`SqliteRunner` (the standard library's sqlite3) runs the very same SQL text against a SQLite
file without importing SQLAlchemy, which costs ~0.25 s of start-up: it is what keeps a
whole-process `agent-trace report daily` fast. Both take `:name` parameters.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

Row = tuple[Any, ...]
# A `:name` bind parameter (not `::` casts, not inside words).
_NAMED_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    # Checkpoint every ~64 MB of WAL rather than every 4 MB: index pages rewritten by many
    # batches are copied into the database once, not at every commit; the file is then trimmed.
    "PRAGMA wal_autocheckpoint=16384",
    "PRAGMA journal_size_limit=67108864",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=OFF",
    "PRAGMA temp_store=MEMORY",
    "PRAGMA cache_size=-32768",  # 32 MB of pages per connection
)


class SqlRunner(Protocol):
    dialect: str  # "sqlite" | "postgresql"

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]: ...

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None: ...

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None: ...

    def transaction(self) -> Any: ...

    def close(self) -> None: ...


class SqliteRunner:
    """stdlib sqlite3, autocommit outside explicit transactions (BEGIN IMMEDIATE: one writer)."""

    dialect = "sqlite"

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.read_only = read_only
        if read_only:
            self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
            self._conn.execute("PRAGMA busy_timeout=30000")
            try:
                self._conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
            except sqlite3.OperationalError as exc:
                if "readonly" not in str(exc):
                    raise
                # A WAL database in a folder nobody may write to: read-only mode still needs
                # the -shm file. Nothing can write there, so reading it as immutable is safe.
                self._conn.close()
                self._conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True, isolation_level=None)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
            for pragma in SQLITE_PRAGMAS:
                self._conn.execute(pragma)
        self._depth = 0

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        return self._conn.execute(sql, params or {}).fetchall()

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        self._conn.execute(sql, params or {})

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if rows:
            self._conn.executemany(sql, rows)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self._conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")
        finally:
            self._depth = 0

    def close(self) -> None:
        self._conn.close()


def _pg_options(url: str) -> str:
    """libpq `options` for every PostgreSQL connection (added to any the URL already sets).

    psycopg prepares a statement after its 5th run, and PostgreSQL then may keep ONE generic
    plan for it, made while a table was small: a sequential scan with a linear IN list. A bulk
    import then scans a table of millions of rows for every batch of keys it looks up (measured:
    each write slower than the last). Custom plans are made per run with the real keys and the
    current statistics - index lookups, or a hashed IN list - while prepared statements still
    save parsing the large upserts."""
    from sqlalchemy.engine import make_url

    existing = make_url(url).query.get("options") or ""
    if isinstance(existing, tuple):
        existing = " ".join(existing)
    return f"{existing} -c plan_cache_mode=force_custom_plan".strip()


class SqlAlchemyRunner:
    """SQLAlchemy Core: the same SQL text through `text()`, one connection per transaction."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine, event
        from sqlalchemy.pool import StaticPool

        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[1] if ":///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            else:
                kwargs["poolclass"] = StaticPool  # one shared in-memory database
            # Pooled connections: closing the last connection to a WAL database checkpoints it,
            # which made every short transaction pay for a checkpoint.
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            kwargs["pool_pre_ping"] = True
            if url.startswith("postgresql+psycopg://"):
                kwargs["connect_args"] = {"options": _pg_options(url)}
        self.engine = create_engine(url, **kwargs)
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                # Let SQLAlchemy's BEGIN (emitted below) manage transactions, not pysqlite's implicit one.
                dbapi_conn.isolation_level = None
                cursor = dbapi_conn.cursor()
                for pragma in SQLITE_PRAGMAS:
                    cursor.execute(pragma)
                cursor.close()

            @event.listens_for(self.engine, "begin")
            def _begin(conn: Any) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        # The open transaction's connection, per thread: a server reads from many threads at once.
        self._local = threading.local()
        self._driver_texts: dict[str, str] = {}

    @contextmanager
    def transaction(self) -> Iterator[None]:
        if getattr(self._local, "conn", None) is not None:
            yield
            return
        with self.engine.begin() as conn:
            self._local.conn = conn
            try:
                yield
            finally:
                self._local.conn = None

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
        else:
            with self.engine.begin() as conn:
                yield conn

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> list[Row]:
        with self._connection() as conn:
            result = conn.exec_driver_sql(self._driver_sql(sql), dict(params or {}))
            if not result.returns_rows:
                return []
            # The driver's own rows (tuples in sqlite3 and psycopg): SQLAlchemy's row objects
            # cost ~3 µs each, a third of refreshing an import's derived data.
            try:
                return list(result.cursor.fetchall())
            finally:
                result.close()

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        with self._connection() as conn:
            conn.exec_driver_sql(self._driver_sql(sql), dict(params or {}))

    def _driver_sql(self, sql: str) -> str:
        """`:name` → the driver's own named style. Statements go to the driver as they are:
        no per-row parameter processing, no compiled-statement cache growing with every
        distinct statement (sqlite3 takes `:name` as is; psycopg wants `%(name)s`)."""
        converted = self._driver_texts.get(sql)
        if converted is None:
            if self.dialect == "sqlite":
                converted = sql
            else:
                converted = _NAMED_PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
            self._driver_texts[sql] = converted
        return converted

    def execute_many(self, sql: str, rows: Sequence[Mapping[str, Any]]) -> None:
        if not rows:
            return
        with self._connection() as conn:
            conn.exec_driver_sql(self._driver_sql(sql), list(rows))

    def close(self) -> None:
        self.engine.dispose()
