"""Shared fixtures: settings in a temporary home, stores, and the shared corpus (skipped when absent)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_trace.config import Settings, load_settings
from tests.backends import Backend, PgServer, backend_params, backend_settings, pg_server_session

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AGENT_TRACE_SHARED", REPO.parent / "shared"))
CORPUS = SHARED / "corpus" / "claude-code"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"shared corpus not present at {CORPUS}")
    return CORPUS


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "agent-trace-home"
    h.mkdir(exist_ok=True)
    return h


@pytest.fixture
def settings(home: Path, tmp_path: Path) -> Settings:
    return load_settings({"AGENT_TRACE_HOME": str(home), "HOME": str(tmp_path), "USER": "dev"})


@pytest.fixture
def sqlite_store(settings: Settings) -> Iterator[object]:
    from agent_trace.store.factory import open_store

    store = open_store(settings.database_url, settings.events_url)
    yield store
    store.close()


# --- backends (tests/backends.py): the same test on SQLite, PostgreSQL, PostgreSQL + ClickHouse ---


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer | None]:
    with pg_server_session() as server:
        yield server


@pytest.fixture(params=backend_params())
def backend(request: pytest.FixtureRequest, tmp_path: Path, pg_server: PgServer | None) -> Iterator[Backend]:
    """A fresh, migrated store location on each backend (PostgreSQL: a database of its own).
    Its home is the same folder as the `home` fixture's."""
    base = load_settings(
        {"AGENT_TRACE_HOME": str(tmp_path / "agent-trace-home"), "HOME": str(tmp_path), "USER": "dev"}
    )
    chosen, urls = backend_settings(request.param, base, tmp_path, pg_server)
    yield chosen
    for url in urls:
        assert pg_server is not None
        pg_server.drop(url)


@pytest.fixture
def store(backend: Backend) -> Iterator[object]:
    """An open store on each backend, closed after the test."""
    from agent_trace.store.factory import open_store

    opened = open_store(backend.settings.database_url, backend.settings.events_url)
    yield opened
    opened.close()
