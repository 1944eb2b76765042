"""Service wiring: shared objects built once whichever role comes first; background services run
with the apps' lifespan; one error renderer behind every error answer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_trace.config import Settings
from agent_trace.server.app import create_app
from agent_trace.server.context import AppContext
from agent_trace.server.dashboard.client import InProcessDataClient
from agent_trace.server.errors import ApiError, as_api_error, error_json

BASE_URL = "http://127.0.0.1"


@pytest.mark.parametrize("order", [("api", "dashboard"), ("dashboard", "api")])
def test_the_dashboard_reads_through_the_apis_answer_cache_in_either_order(
    settings: Settings, sqlite_store: Any, order: tuple[str, str]
) -> None:
    ctx = AppContext(settings=replace(settings, dashboard_api_base_url=None), store=sqlite_store)
    for role in order:
        create_app(ctx, role)
    client = ctx.services.data_client
    assert isinstance(client, InProcessDataClient)
    assert ctx.services.answers is not None
    assert client.cache is ctx.services.answers


class _Recorder:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    def start(self) -> None:
        self.log.append(f"start {self.name}")

    def stop(self) -> None:
        self.log.append(f"stop {self.name}")


def test_background_services_start_with_the_first_app_and_stop_with_the_last(
    settings: Settings, sqlite_store: Any
) -> None:
    ctx = AppContext(settings=settings, store=sqlite_store)
    log: list[str] = []
    ctx.services.background.add(_Recorder("a", log))
    ctx.services.background.add(_Recorder("b", log))
    api, dashboard = create_app(ctx, "api"), create_app(ctx, "dashboard")
    assert log == []  # building an app starts nothing
    with TestClient(api, base_url=BASE_URL):
        assert log == ["start a", "start b"]
        with TestClient(dashboard, base_url=BASE_URL):
            assert log == ["start a", "start b"]
        assert log == ["start a", "start b"]  # the api still serves
    assert log == ["start a", "start b", "stop b", "stop a"]


def test_one_renderer_for_every_error(settings: Settings, sqlite_store: Any) -> None:
    from starlette.exceptions import HTTPException

    assert as_api_error(HTTPException(404, "Not Found")).code == "not_found"
    unexpected = as_api_error(RuntimeError("secret detail"))
    assert (unexpected.status, unexpected.code) == (500, "internal_error")
    assert b"secret detail" not in error_json(unexpected)
    bad = ApiError(400, "invalid_parameter", "limit: 'x' is not an integer", "limit")
    api = TestClient(create_app(AppContext(settings=settings, store=sqlite_store), "api"), base_url=BASE_URL)
    answer = api.get("/v1/sessions", params={"limit": "x"})
    assert answer.status_code == 400
    assert answer.content == error_json(bad)
