"""Signing in with auth on: passwords (argon2), the rate limit, cookie flags, CSRF on every
state-changing form, sign-out, a disabled person's session, Host header checks, security headers,
and the audit entries each of these leaves."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from agent_trace.config import Settings
from agent_trace.server.app import create_app
from agent_trace.server.context import AppContext
from agent_trace.server.passwords import hash_password
from agent_trace.store.factory import open_store
from agent_trace.store.identity import identity_of
from tests.server.access_world import build_world

PASSWORD = "correct horse battery"


@pytest.fixture
def team(settings: Settings) -> Iterator[tuple[Settings, Any]]:
    auth = replace(settings, auth=True)
    store = open_store(auth.database_url, auth.events_url)
    build_world(store)
    for name in ("alice", "carol", "root"):
        identity_of(store).set_password_hash(name, hash_password(PASSWORD))
    yield auth, store
    store.close()


def _client(
    settings: Settings, store: Any, role: str = "dashboard", base: str = "http://127.0.0.1"
) -> TestClient:
    return TestClient(create_app(AppContext(settings=settings, store=store), role), base_url=base)


def _form_csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _sign_in(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf": _form_csrf(page.text), "next": "/team"},
        follow_redirects=False,
    )


def _actions(store: Any) -> list[tuple[str | None, str, str | None]]:
    return [(e.actor, e.action, e.target) for e in identity_of(store).audit_entries()]


def test_pages_send_anonymous_browsers_to_sign_in(team: Any) -> None:
    settings, store = team
    with _client(settings, store) as client:
        r = client.get("/sessions", headers={"accept": "text/html"}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login?next=%2Fsessions"
        assert client.get("/cost", headers={"accept": "application/json"}).status_code == 401
        login = client.get("/login")
        assert login.status_code == 200 and 'name="password"' in login.text


def test_password_sign_in_sets_a_safe_cookie_and_is_audited(team: Any) -> None:
    settings, store = team
    with _client(settings, store) as client:
        r = _sign_in(client, "alice")
        assert r.status_code == 303 and r.headers["location"] == "/team"
        cookie = r.headers["set-cookie"]
        assert "agent_trace_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert "Secure" not in cookie  # plain http on loopback
        assert client.get("/team").status_code == 200
        assert ("alice", "login", "alice") in _actions(store)
    with _client(settings, store, base="https://127.0.0.1") as secure:
        assert "Secure" in _sign_in(secure, "alice").headers["set-cookie"]


def test_wrong_passwords_fail_then_are_rate_limited(team: Any) -> None:
    settings, store = team
    with _client(settings, store) as client:
        for _ in range(5):
            r = _sign_in(client, "alice", "wrong password!!")
            assert r.status_code == 401 and "do not match" in r.text
        r = _sign_in(client, "alice")  # even the right password waits now
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    failed = [a for a in _actions(store) if a[1] == "login_failed"]
    assert len(failed) == 6


def test_an_unknown_name_fails_like_a_wrong_password(team: Any) -> None:
    settings, store = team
    with _client(settings, store) as client:
        r = _sign_in(client, "nobody")
        assert r.status_code == 401 and "do not match" in r.text


def test_every_state_changing_form_needs_its_csrf_token(team: Any) -> None:
    settings, store = team
    with _client(settings, store) as client:
        client.get("/login")
        # No token, or a token that is not this browser's: refused before any password check.
        for data in (
            {"name": "alice", "password": PASSWORD},
            {"name": "alice", "password": PASSWORD, "csrf": "x" * 32},
        ):
            r = client.post("/login", data=data, follow_redirects=False)
            assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
        assert _sign_in(client, "alice").status_code == 303
        # Signed in: sign-out without the session's token is refused (a cross-site form).
        r = client.post("/logout", data={}, follow_redirects=False)
        assert r.status_code == 403
        assert client.get("/team").status_code == 200
        csrf = _form_csrf(client.get("/team").text)
        r = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
        assert r.status_code == 303
        assert client.get("/team", headers={"accept": "application/json"}).status_code == 401
    assert ("alice", "logout", "alice") in _actions(store)


def test_scripts_with_a_bearer_token_need_no_csrf(team: Any) -> None:
    settings, store = team
    from agent_trace.domain.access import new_token, token_digest

    token = new_token()
    identity_of(store).replace_token("root", token_digest(token))
    with _client(settings, store, "api") as api:
        r = api.get("/v1/me", headers={"authorization": f"Bearer {token}"})
        assert r.json() == {"user": "root", "role": "admin", "teams": [], "auth": True}


def test_disabling_a_person_ends_their_signed_in_sessions(team: Any) -> None:
    settings, store = team
    with _client(settings, store) as client:
        assert _sign_in(client, "carol").status_code == 303
        assert client.get("/team").status_code == 200
        identity_of(store).set_disabled("carol", True)
        assert client.get("/team", headers={"accept": "application/json"}).status_code == 401
        assert _sign_in(client, "carol").status_code == 401


def test_a_viewer_cannot_open_the_audit_page_an_admin_can(team: Any) -> None:
    settings, store = team
    with _client(settings, store) as client:
        _sign_in(client, "carol")
        assert client.get("/audit").status_code == 403
    with _client(settings, store) as client:
        _sign_in(client, "root")
        page = client.get("/audit")
        assert page.status_code == 200 and "Hash chain intact" in page.text and "login" in page.text


@pytest.mark.parametrize("role", ["api", "dashboard"])
def test_host_header_allow_list(team: Any, role: str) -> None:
    settings, store = team
    with _client(settings, store, role, base="http://evil.example") as client:
        r = client.get("/health")
        assert r.status_code == 421 and r.json()["error"]["code"] == "misdirected_request"
    exposed = replace(settings, host="0.0.0.0", allowed_hosts=("trace.example.com",))
    with _client(exposed, store, role, base="http://trace.example.com") as client:
        assert client.get("/health").status_code == 200
    with _client(exposed, store, role, base="http://rebound.example") as client:
        assert client.get("/health").status_code == 421


@pytest.mark.parametrize("role", ["api", "dashboard"])
def test_security_headers_on_every_answer_even_refusals(team: Any, role: str) -> None:
    settings, store = team
    with _client(settings, store, role) as client:
        for path in ("/health", "/v1/sessions" if role == "api" else "/sessions", "/nowhere"):
            r = client.get(path, headers={"accept": "application/json"})
            assert r.headers["x-content-type-options"] == "nosniff", path
            assert r.headers["x-frame-options"] == "DENY", path
            assert "default-src 'none'" in r.headers["content-security-policy"], path


def test_reading_is_audited_and_the_api_serves_the_log(team: Any) -> None:
    settings, store = team
    from agent_trace.domain.access import new_token, token_digest

    tokens = {}
    for name in ("root", "alice", "carol"):
        tokens[name] = new_token()
        identity_of(store).replace_token(name, token_digest(tokens[name]))
    with _client(settings, store, "api") as api:

        def get(who: str, path: str, **params: str) -> Any:
            return api.get(path, params=params, headers={"authorization": f"Bearer {tokens[who]}"})

        assert get("alice", "/v1/sessions/sess-alice-0000").status_code == 200
        assert get("alice", "/v1/sessions/sess-alice-0000").status_code == 200  # within a minute: one entry
        assert get("alice", "/v1/sessions/sess-bob-0000").status_code == 403  # refused: not a view
        assert get("carol", "/v1/sessions", q="deploy").status_code == 200
        assert get("carol", "/v1/analytics/team.csv", by="team").status_code == 200
        assert get("carol", "/v1/audit").status_code == 403
        log = get("root", "/v1/audit").json()
    assert log["chain"]["ok"] is True and log["chain"]["problems"] == []
    assert log["chain"]["entries"] >= len(log["entries"])  # the whole log checked, not the page
    reads = [
        (e["actor"], e["action"], e["target"])
        for e in log["entries"]
        if e["action"] in ("content_view", "search", "export")
    ]
    assert reads == [
        ("alice", "content_view", "sess-alice-0000"),
        ("carol", "search", None),
        ("carol", "export", "/v1/analytics/team.csv"),
    ]
    search = next(e for e in log["entries"] if e["action"] == "search")
    assert search["detail"] == {"q": "deploy", "path": "/v1/sessions"}


def test_every_analytics_view_downloads_as_csv(team: Any) -> None:
    settings, store = team
    from agent_trace.domain.access import new_token, token_digest

    token = new_token()
    identity_of(store).replace_token("carol", token_digest(token))  # a viewer: aggregates only
    auth = {"authorization": f"Bearer {token}"}
    span = {"since": "2026-02-01", "until": "2026-02-03", "tz": "UTC"}
    with _client(settings, store, "api") as api:
        cost = api.get("/v1/analytics/cost/daily.csv", params=span, headers=auth)
        assert cost.status_code == 200 and cost.headers["content-type"].startswith("text/csv")
        lines = cost.text.splitlines()
        assert lines[0].startswith("date,cost_usd,llm_calls") and len(lines) == 4
        assert lines[2].startswith("2026-02-02,0.006,3,")
        tools = api.get("/v1/analytics/tools.csv", params=span, headers=auth).text.splitlines()
        assert tools[0] == "tool_name,is_mcp,calls,errors,error_rate,duration_ms,avg_duration_ms"
        assert tools[1] == "Bash,false,3,0,0.0,0,0.0"  # the world gives no durations
        team_csv = api.get("/v1/analytics/team.csv", params={**span, "by": "user"}, headers=auth).text
        assert team_csv.splitlines()[0].startswith("period,user,cost_usd")
        assert "SECRET" not in cost.text + team_csv
    with _client(settings, store) as dashboard:
        _sign_in(dashboard, "carol")
        page = dashboard.get("/cost", params=span)
        assert 'href="/cost.csv?' in page.text
        assert dashboard.get("/cost.csv", params=span).text == cost.text
        assert dashboard.get("/team.csv", params={**span, "by": "user"}).text == team_csv


def test_a_member_opening_a_strangers_replay_gets_a_page_saying_why(team: Any) -> None:
    settings, store = team
    with _client(settings, store) as client:
        _sign_in(client, "alice")
        own = client.get("/sessions/sess-alice-0000", headers={"accept": "text/html"})
        assert own.status_code == 200 and "SECRET_alice" in own.text
        other = client.get("/sessions/sess-bob-0000", headers={"accept": "text/html"})
        assert other.status_code == 403 and other.headers["content-type"].startswith("text/html")
        assert "not yours to read" in other.text and "SECRET_bob" not in other.text
        assert other.headers["x-frame-options"] == "DENY"
        rows = client.get("/sessions").text
        assert "SECRET_alice" in rows and "SECRET_dave" in rows and "SECRET_bob" not in rows
