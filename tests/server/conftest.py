"""Fixtures for the HTTP roles: a loaded store, and in-process apps over it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_trace.config import Settings, load_settings
from agent_trace.server.app import create_app
from agent_trace.server.context import AppContext
from agent_trace.store.factory import open_store
from tests.server.dataset import Dataset, load_dataset

BASE_URL = "http://127.0.0.1"  # the servers answer loopback host names only


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Any, Dataset]]:
    tmp = tmp_path_factory.mktemp("server")
    home = tmp / "home"
    settings = load_settings(
        {"AGENT_TRACE_HOME": str(home), "HOME": str(tmp), "USER": "dev", "AGENT_TRACE_TIMEZONE": "UTC"}
    )
    store = open_store(settings.database_url, settings.events_url)
    data = load_dataset(store, tmp / "projects")
    yield settings, store, data
    store.close()


@pytest.fixture(scope="module")
def dataset(loaded: tuple[Settings, Any, Dataset]) -> Dataset:
    return loaded[2]


def make_client(settings: Settings, store: Any, role: str, **overrides: Any) -> TestClient:
    ctx = AppContext(settings=replace(settings, **overrides), store=store)
    return TestClient(create_app(ctx, role), base_url=BASE_URL)


@pytest.fixture(scope="module")
def api(loaded: tuple[Settings, Any, Dataset]) -> Iterator[TestClient]:
    with make_client(loaded[0], loaded[1], "api") as client:
        yield client


@pytest.fixture(scope="module")
def dashboard(loaded: tuple[Settings, Any, Dataset]) -> Iterator[TestClient]:
    with make_client(loaded[0], loaded[1], "dashboard") as client:
        yield client


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    error: dict[str, Any] = body["error"]
    assert error["status"] == response.status_code
    return error


__all__ = ["BASE_URL", "Path", "error_of", "make_client"]
