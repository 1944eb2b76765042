"""Headers, the loopback host check, and AGENT_TRACE_DASHBOARD_TOKEN on both roles."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_trace.config import Settings
from agent_trace.server.security import COOKIE_NAME, cookie_value
from tests.server.conftest import error_of, make_client
from tests.server.dataset import Dataset

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def secured(loaded: tuple[Settings, Any, Dataset]) -> Iterator[tuple[TestClient, TestClient]]:
    settings, store, _ = loaded
    with (
        make_client(settings, store, "api", dashboard_token=TOKEN) as api,
        make_client(settings, store, "dashboard", dashboard_token=TOKEN) as dash,
    ):
        yield api, dash


def test_security_headers_on_every_answer(api: TestClient, dashboard: TestClient) -> None:
    for client, path in ((api, "/v1/sessions"), (api, "/v1/nothing"), (dashboard, "/"), (dashboard, "/cost")):
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert headers["server-timing"].startswith("app;dur=") and ", cpu;dur=" in headers["server-timing"]
    page_csp = dashboard.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in page_csp and "style-src 'self'" in page_csp


def test_non_loopback_host_names_are_refused(api: TestClient, dashboard: TestClient) -> None:
    """DNS rebinding: a page on evil.example resolving to 127.0.0.1 must not read the data."""
    for client in (api, dashboard):
        response = client.get("/v1/sessions", headers={"Host": "evil.example:3100"})
        assert response.status_code == 421
        assert client.get("/health", headers={"Host": "localhost:3100"}).status_code == 200


def test_api_requires_the_bearer_token(secured: tuple[TestClient, TestClient]) -> None:
    api, _ = secured
    missing = api.get("/v1/sessions")
    assert missing.status_code == 401
    assert error_of(missing)["code"] == "unauthorized"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert api.get("/v1/sessions", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert api.get("/v1/sessions", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    stream = api.get("/v1/sessions/stream")
    assert stream.status_code == 401
    # Health and the API description stay open (no data in them).
    assert api.get("/health").status_code == 200
    assert api.get("/openapi.json").status_code == 200
    # The API does not honour the dashboard's login cookie.
    api.cookies.set(COOKIE_NAME, cookie_value(TOKEN))
    try:
        assert api.get("/v1/sessions").status_code == 401
    finally:
        api.cookies.clear()


def test_dashboard_pages_redirect_to_login(secured: tuple[TestClient, TestClient]) -> None:
    _, dash = secured
    page = dash.get("/cost?since=2026-02-01", headers={"Accept": "text/html"}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/login?next=%2Fcost%3Fsince%3D2026-02-01"
    fragment = dash.get("/live/sessions")
    assert fragment.status_code == 401
    assert dash.get("/login").status_code == 200
    assert dash.get("/static/app.css").status_code == 200  # the login page needs its style
    assert dash.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_login_sets_a_strict_httponly_cookie(secured: tuple[TestClient, TestClient]) -> None:
    _, dash = secured
    wrong = dash.post("/login", data={"token": "nope", "next": "/cost"}, follow_redirects=False)
    assert wrong.status_code == 401
    assert COOKIE_NAME not in wrong.headers.get("set-cookie", "")
    ok = dash.post("/login", data={"token": TOKEN, "next": "/cost"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/cost"
    cookie = ok.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE_NAME}={cookie_value(TOKEN)}")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert TOKEN not in cookie  # the cookie proves the token without holding it
    try:
        assert dash.get("/cost").status_code == 200
        out = dash.post("/logout", follow_redirects=False)
        assert out.status_code == 303 and COOKIE_NAME in out.headers["set-cookie"]
    finally:
        dash.cookies.clear()


@pytest.mark.parametrize(
    "target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"]
)
def test_login_never_redirects_off_site(secured: tuple[TestClient, TestClient], target: str) -> None:
    _, dash = secured
    response = dash.post("/login", data={"token": TOKEN, "next": target}, follow_redirects=False)
    dash.cookies.clear()
    assert response.status_code == 303 and response.headers["location"] == "/"
