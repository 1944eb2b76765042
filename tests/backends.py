"""Backends the store tests run on: SQLite, the real PostgreSQL server, and PostgreSQL + ClickHouse.

PostgreSQL: every test gets a database of its own, created for it and dropped after it, on the
server named by AGENT_TRACE_TEST_PG (default: the machine's server on 127.0.0.1:5432, trust auth).
The databases of one test run share a random prefix, and a session-wide template already at the
newest schema makes each fresh database cheap. When the server is absent the PostgreSQL cases are
skipped, unless AGENT_TRACE_REQUIRE_PG=1 (CI sets it) turns that into a failure.

ClickHouse: chdb, ClickHouse's own engine in-process, in a folder of the test's temporary
directory (`chdb:///path`). chdb allows one data folder per process at a time, so every store
that opens one must be closed before the next test (the fixtures do it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from agent_trace.config import Settings

PG_ADMIN_URL = os.environ.get("AGENT_TRACE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
REQUIRE_PG = os.environ.get("AGENT_TRACE_REQUIRE_PG", "") in ("1", "true", "yes")

SQLITE = "sqlite"
POSTGRES = "postgres"
HYBRID = "postgres+chdb"
BACKENDS = (SQLITE, POSTGRES, HYBRID)


def backend_params(*names: str) -> list[Any]:
    """pytest params for `names` (default: all), PostgreSQL ones marked `postgres`."""
    chosen = names or BACKENDS
    return [pytest.param(n, id=n, marks=[pytest.mark.postgres] if n != SQLITE else []) for n in chosen]


def _url_for(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}"


@dataclass
class PgServer:
    """Creates and drops the databases of one test run."""

    prefix: str = field(default_factory=lambda: f"at_test_{os.getpid()}_{secrets.token_hex(3)}")
    counter: int = 0
    created: list[str] = field(default_factory=list)
    template: str | None = None

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)

    def available(self) -> str | None:
        """None when the server answers, else why not."""
        try:
            with self._admin() as conn:
                conn.execute("SELECT 1")
        except Exception as exc:  # any driver or network error means: no server here
            return f"{type(exc).__name__}: {exc}"
        return None

    def create(self, *, from_template: bool = True) -> str:
        """A new empty (or, from the template, fully migrated) database; returns its URL."""
        from psycopg import sql

        self.counter += 1
        name = f"{self.prefix}_{self.counter}"
        with self._admin() as conn:
            if from_template and self.template:
                conn.execute(
                    sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                        sql.Identifier(name), sql.Identifier(self.template)
                    )
                )
            else:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self.created.append(name)
        return _url_for(name)

    def drop(self, url: str) -> None:
        from psycopg import sql

        name = url.rsplit("/", 1)[1]
        with self._admin() as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if name in self.created:
            self.created.remove(name)

    def make_template(self) -> None:
        """One database at the newest schema; later databases are copies of it."""
        from agent_trace.store.sql.adapter import SqlStore
        from agent_trace.store.sql.runner import SqlAlchemyRunner

        url = self.create(from_template=False)
        runner = SqlAlchemyRunner(_psycopg(url))
        try:
            SqlStore(runner, url).migrate()
        finally:
            runner.close()
        self.template = url.rsplit("/", 1)[1]

    def drop_all(self) -> None:
        for name in list(self.created):
            self.drop(_url_for(name))


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def pg_server_session() -> Iterator[PgServer | None]:
    server = PgServer()
    reason = server.available()
    if reason is not None:
        if REQUIRE_PG:
            raise RuntimeError(f"AGENT_TRACE_REQUIRE_PG is set but PostgreSQL is not reachable: {reason}")
        yield None
        return
    try:
        server.make_template()
        yield server
    finally:
        server.drop_all()


@dataclass
class Backend:
    """What a test needs to open stores on one backend: the settings and the env of a CLI run."""

    name: str
    settings: Settings
    env: dict[str, str]


def backend_settings(
    name: str, base: Settings, tmp_path: Path, pg: PgServer | None, *, migrated: bool = True
) -> tuple[Backend, list[str]]:
    """Settings for a fresh store of `name`; returns (backend, PostgreSQL URLs to drop)."""
    if name == SQLITE:
        return Backend(name, base, {}), []
    if pg is None:
        pytest.skip("PostgreSQL server not reachable (set AGENT_TRACE_TEST_PG)")
    url = pg.create(from_template=migrated)
    env = {"AGENT_TRACE_DATABASE_URL": url}
    settings = replace(base, database_url=_psycopg(url))
    if name == HYBRID:
        events = f"chdb:///{tmp_path / 'chdb'}"
        env["AGENT_TRACE_EVENTS_URL"] = events
        settings = replace(settings, events_url=events)
    return Backend(name, settings, env), [url]
