"""The access matrix, generated from the apps' own route tables (issue 15).

Every route of the API and the dashboard (pages, fragments, SSE streams, CSV exports) is asked
by anonymous / viewer / member (own session, a content-sharing team-mate's, a stranger's) /
admin, with auth on, over real HTTP (uvicorn); each answer's status and whether any session's
content reached it is checked against domain/access.py's rules. A route that is not in
server/access.py ROUTE_NEEDS fails the first test, so a new route cannot escape the matrix.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.routing import Mount

from agent_trace.config import load_settings
from agent_trace.domain.access import Need, may_read_content
from agent_trace.server.access import ROUTE_NEEDS
from agent_trace.server.api.stream import StreamConfig
from agent_trace.server.app import create_app
from agent_trace.server.context import AppContext
from agent_trace.server.identity_cache import IdentityCache
from agent_trace.store.factory import open_store
from agent_trace.store.identity import identity_of
from tests.server.access_world import OWNERS, World, build_world, secret
from tests.server.api.test_stream import WAIT_S, free_port

ROLES = ("api", "dashboard")
ASKERS = ("anonymous", "carol", "alice", "root")  # anonymous, viewer, member, admin
# Whose session a member asks about: their own, a content-sharing team-mate's, a stranger's.
CASES = {"own": "alice", "teammate": "dave", "stranger": "bob"}


@dataclass
class Served:
    url: str
    app: Any
    server: uvicorn.Server
    thread: threading.Thread


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, dict[str, Served], Any]]:
    tmp = tmp_path_factory.mktemp("matrix")
    settings = load_settings(
        {
            "AGENT_TRACE_HOME": str(tmp / "home"),
            "HOME": str(tmp),
            "USER": "dev",
            "AGENT_TRACE_TIMEZONE": "UTC",
        }
    )
    settings = replace(settings, auth=True)
    store = open_store(settings.database_url, settings.events_url)
    built = build_world(store)
    served: dict[str, Served] = {}
    for role in ROLES:
        ctx = AppContext(settings=settings, store=store)
        ctx.stream_config = StreamConfig(poll_interval_s=0.05, heartbeat_s=0.3)
        app = create_app(ctx, role)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + WAIT_S
        while not server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)
        served[role] = Served(f"http://127.0.0.1:{port}", app, server, thread)
    yield built, served, store
    for s in served.values():
        s.server.should_exit = True
        s.thread.join(WAIT_S)
    store.close()


def _routes(app: Any) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves (GET for mounts), walking included
    routers (FastAPI keeps them as branches with a prefix)."""
    out: list[tuple[str, str]] = []

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            original = getattr(route, "original_router", None)
            if original is not None:
                walk(original.routes, prefix + route.include_context.prefix)
            elif isinstance(route, Mount):
                out.append(("GET", prefix + route.path))
            else:
                for method in sorted(getattr(route, "methods", None) or {"GET"}):
                    if method != "HEAD":
                        out.append((method, prefix + route.path))

    walk(app.router.routes, "")
    assert out, "no routes found: has FastAPI changed how it keeps included routers?"
    return out


def test_every_route_declares_what_it_needs(world: Any) -> None:
    _, served, _ = world
    for role, s in served.items():
        for _method, path in _routes(s.app):
            assert path in ROUTE_NEEDS[role], (
                f"{role} route {path} is missing from server/access.py ROUTE_NEEDS"
            )


def _plain(path: str) -> str:
    """The template with its session id as a plain parameter (`:path` lets legacy ids hold `/`)."""
    return path.replace("{session_id:path}", "{session_id}")


def _concrete(path: str, owner: str) -> tuple[str, dict[str, str]]:
    sid = f"sess-{owner}-0000"
    concrete = (
        _plain(path)
        .replace("{session_id}", sid)
        .replace("{index}", "0")
        .replace("{tool_use_id}", f"t-{owner}")
        .replace("{prompt_id}", f"p-{owner}")
    )
    if path == "/static":
        concrete = "/static/app.css"
    params: dict[str, str] = {}
    if path == "/v1/timeline":
        params["session_id"] = sid
    if path.endswith("/tool-bodies"):
        params["ids"] = f"t-{owner}"
    if path in ("/v1/search", "/search"):
        params["q"] = "please"  # every owner's prompt: "please fix SECRET_<owner>"
    if path in (
        "/v1/analytics/team",
        "/v1/analytics/team.csv",
        "/team",
        "/team.csv",
        "/v1/analytics/cost/daily",
        "/v1/analytics/tools",
        "/cost",
        "/v1/analytics/outcomes",
        "/outcomes",
    ):
        params.update(since="2026-01-01", until="2026-03-01")
    return concrete, params


def _get(base: str, path: str, params: dict[str, str], token: str | None, stream: bool) -> tuple[int, str]:
    headers = {"accept": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    with httpx.Client(base_url=base, timeout=httpx.Timeout(WAIT_S, read=WAIT_S)) as client:
        if not stream:
            r = client.get(path, params=params, headers=headers)
            return r.status_code, r.text
        # SSE: replay every change from the start, read until the first heartbeat after them.
        headers["last-event-id"] = "0"
        with client.stream("GET", path, params=params, headers=headers) as r:
            if r.status_code != 200:
                r.read()
                return r.status_code, r.text
            seen: list[str] = []
            deadline = time.monotonic() + WAIT_S
            heartbeats = 0
            for line in r.iter_lines():
                seen.append(line)
                heartbeats += line.startswith(": keepalive")
                # The replayed rows come before the second heartbeat (the hub polls every 50 ms).
                if heartbeats >= 2 or time.monotonic() > deadline:
                    break
            return 200, "\n".join(seen)


def _expect(
    need: Need, asker: str, owner: str | None, cache: IdentityCache, tokens: dict[str, str]
) -> tuple[set[int], set[str]]:
    """(acceptable statuses, owners whose SECRET must appear); content of others must not."""
    if need is Need.OPEN:
        return {200, 303, 307, 404}, set()
    if asker == "anonymous":
        return {401}, set()
    owner_of = cache.owner(tokens[asker])
    assert owner_of is not None
    principal = cache.principal(owner_of)
    if need is Need.ADMIN:
        return ({200}, set()) if principal.is_admin else ({403}, set())
    if need is Need.AGGREGATE:
        return {200}, set()
    if need is Need.LIST:
        return {200}, {o for o in OWNERS if may_read_content(principal, o)}
    assert owner is not None
    if may_read_content(principal, owner):
        return {200}, {owner}
    return {403}, set()


# Fragments whose body need not quote the prompt (a card's or tool's own content is enough).
_CONTENT_ROUTES = {
    "/v1/sessions",
    "/v1/sessions/stream",
    "/v1/sessions/{session_id}",
    "/v1/timeline",
    "/v1/search",
    "/search",
    "/",
    "/sessions",
    "/live/sessions",
    "/sessions/{session_id}",
    "/sessions/{session_id}/tools/{tool_use_id}",
    "/sessions/{session_id}/tool-bodies",
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("asker", ASKERS)
def test_access_matrix(world: Any, role: str, asker: str) -> None:
    built, served, store = world
    cache = IdentityCache(identity_of(store))
    s = served[role]
    token = built.tokens.get(asker)
    checked = 0
    for method, path in _routes(s.app):
        if method != "GET":
            continue
        need = ROUTE_NEEDS[role][path]
        cases = (
            CASES.items() if "{session_id}" in _plain(path) or path == "/v1/timeline" else [("-", "alice")]
        )
        for case, owner in cases:
            concrete, params = _concrete(path, owner)
            stream = path in ("/v1/sessions/stream", "/live/sessions")
            if stream and role == "dashboard":
                params["view"] = "row"
            status, body = _get(s.url, concrete, params, token, stream)
            allowed, must_show = _expect(
                need, asker, owner if need is Need.SESSION else None, cache, built.tokens
            )
            if path.endswith("/prompts/{prompt_id}") and 200 in allowed:
                allowed = allowed | {303}  # a prompt's permalink redirects to its card
            where = f"{role} {asker} GET {concrete} ({case})"
            assert status in allowed, f"{where}: {status} not in {allowed}: {body[:300]}"
            for o in OWNERS:
                if o in must_show and _plain(path) in _CONTENT_ROUTES:
                    assert secret(o) in body, f"{where}: {o}'s content is missing"
                if o not in must_show:
                    assert secret(o) not in body, f"{where}: {o}'s content leaked"
            checked += 1
    assert checked >= 15


def test_search_by_someone_who_may_not_read_finds_nothing(world: Any) -> None:
    built, served, _ = world
    headers = {"authorization": f"Bearer {built.tokens['carol']}"}
    r = httpx.get(served["api"].url + "/v1/sessions", params={"q": "SECRET_bob"}, headers=headers)
    assert r.status_code == 200 and r.json()["sessions"] == []
    headers = {"authorization": f"Bearer {built.tokens['alice']}"}
    found = httpx.get(served["api"].url + "/v1/sessions", params={"q": "SECRET_dave"}, headers=headers).json()
    assert [row["session_id"] for row in found["sessions"]] == ["sess-dave-0000"]
    assert (
        httpx.get(served["api"].url + "/v1/sessions", params={"q": "SECRET_bob"}, headers=headers).json()[
            "sessions"
        ]
        == []
    )


def test_a_route_missing_from_the_table_is_refused(world: Any, tmp_path: Path) -> None:
    built, served, _ = world
    app = served["api"].app

    @app.get("/v1/forgotten")
    async def forgotten() -> dict[str, str]:
        return {"secret": "everything"}

    try:
        r = httpx.get(
            served["api"].url + "/v1/forgotten", headers={"authorization": f"Bearer {built.tokens['root']}"}
        )
        assert r.status_code == 404 and "declares no access need" in r.text
    finally:
        app.router.routes.pop()
