"""Service roles: which servers a process runs, migrations on start, and /health per role."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from agent_trace.config import ConfigError, load_settings, normalize_role
from agent_trace.server.app import create_app
from agent_trace.server.context import AppContext
from agent_trace.server.runtime import ApiReader, build_context, roles_for
from agent_trace.store.factory import StoreUnavailable, open_store
from tests.backends import HYBRID, SQLITE, Backend, PgServer, backend_params

BASE_URL = "http://127.0.0.1"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("all", "all"),
        ("API", "api"),
        ("collector,api", "collector,api"),
        (" api , collector ", "api,collector"),
        ("api,all", "all"),
    ],
)
def test_roles_are_one_role_a_list_or_all(value: str, expected: str) -> None:
    assert normalize_role(value) == expected


def test_a_bad_role_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="RUNTIME_SERVICE_ROLE='collector,web'"):
        load_settings({"HOME": str(tmp_path), "RUNTIME_SERVICE_ROLE": "collector,web"})


def test_roles_serve_in_a_fixed_order() -> None:
    assert roles_for("all") == ["collector", "api", "dashboard"]
    assert roles_for("api,collector") == ["collector", "api"]
    assert roles_for("dashboard") == ["dashboard"]


@pytest.mark.parametrize("role", ["api", "dashboard"])
def test_health_reports_every_database(backend: Backend, role: str) -> None:
    ctx = build_context(backend.settings)
    try:
        with TestClient(create_app(ctx, role), base_url=BASE_URL) as client:
            response = client.get("/health")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok" and body["role"] == role and body["database"] == "ok"
        assert ("events" in body) == (backend.name == HYBRID)
        if backend.name == HYBRID:
            assert body["events"] == "ok"
    finally:
        ctx.store.close()


def test_health_is_503_when_a_database_is_gone(backend: Backend, pg_server: PgServer | None) -> None:
    store = open_store(backend.settings.database_url, backend.settings.events_url)
    try:
        if backend.name == SQLITE:
            store.runner.engine.dispose()  # type: ignore[attr-defined]
            Path(str(backend.settings.sqlite_path)).unlink()
            Path(str(backend.settings.sqlite_path)).mkdir()  # a folder where the file was
        elif backend.name == HYBRID:
            store.client.close()  # type: ignore[attr-defined]
        else:
            assert pg_server is not None
            pg_server.drop(backend.env["AGENT_TRACE_DATABASE_URL"])  # terminates its connections
        ctx = AppContext(settings=backend.settings, store=store)
        with TestClient(create_app(ctx, "api"), base_url=BASE_URL) as client:
            response = client.get("/health")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "degraded"
        broken = "events" if backend.name == HYBRID else "database"
        assert body[broken].startswith("error")
    finally:
        if backend.name != HYBRID:
            store.close()


def test_a_dashboard_reading_the_api_opens_no_database(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "HOME": str(tmp_path),
            "AGENT_TRACE_HOME": str(tmp_path / "home"),
            "DASHBOARD_API_BASE_URL": "http://127.0.0.1:9",  # nothing listens on the discard port
        }
    )
    ctx = build_context(settings, ["dashboard"])
    assert isinstance(ctx.store, ApiReader)
    assert not (tmp_path / "home" / "agent-trace.db").exists()
    with TestClient(create_app(ctx, "dashboard"), base_url=BASE_URL) as client:
        response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["api"].startswith("error") and response.json()["database"].startswith("not used")


@pytest.mark.parametrize("backend", backend_params(SQLITE), indirect=True)
def test_without_migrations_an_old_schema_stops_the_start(backend: Backend, tmp_path: Path) -> None:
    # (PostgreSQL: tests/deploy starts a real process on an empty server database.)
    settings = replace(backend.settings, database_url=f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(StoreUnavailable, match="agent-trace db upgrade"):
        build_context(replace(settings, run_migrations=False))


@pytest.mark.parametrize("backend", backend_params(HYBRID), indirect=True)
def test_a_half_applied_clickhouse_migration_stops_the_start(backend: Backend) -> None:
    store = open_store(backend.settings.database_url, backend.settings.events_url)
    store.client.insert("schema_migrations", ["version", "name", "state"], [[99, "future", "started"]])  # type: ignore[attr-defined]
    store.close()
    with pytest.raises(StoreUnavailable, match=r"0099 .* was started at .* but never finished"):
        build_context(replace(backend.settings, run_migrations=False))
    with pytest.raises(StoreUnavailable, match="never finished"):
        open_store(backend.settings.database_url, backend.settings.events_url)
