"""The dashboard role (port 3100): server-rendered pages over the API's data.

This module puts the role together: middleware, static files, sign-in, and the page modules —
overview_pages.py (Sessions `/`, its live stream `/live/sessions`, search, Cost, Outcomes),
session_pages.py (Replay `/sessions/{id}`, the timeline, the fragments its script fetches),
budgets_page.py and identity_pages.py; what they share is core.py. Data comes through a
`DataClient` (client.py; in-process over the API's answer cache, or HTTP), from server/wiring.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent_trace.server import wiring
from agent_trace.server.context import AppContext
from agent_trace.server.dashboard.budgets_page import add_budget_routes
from agent_trace.server.dashboard.core import STATIC, Dashboard
from agent_trace.server.dashboard.identity_pages import add_identity_pages, safe_next
from agent_trace.server.dashboard.overview_pages import add_overview_pages, add_report_pages
from agent_trace.server.dashboard.session_pages import add_session_fragments, add_session_pages
from agent_trace.server.errors import ApiError, error_response
from agent_trace.server.heap import settle_heap
from agent_trace.server.security import (
    COOKIE_NAME,
    PAGE_CSP,
    SecurityMiddleware,
    SecurityPolicy,
    cookie_value,
    token_matches,
)
from agent_trace.server.timing import ServerTimingMiddleware


def build_router(ctx: AppContext, dash: Dashboard) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    add_budget_routes(router, dash, dash.client)

    @router.get("/static/highlight.css")
    async def highlight_css() -> Response:
        return Response(
            dash.highlight_css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    add_overview_pages(router, ctx, dash)
    add_report_pages(router, ctx, dash)
    replay_page = add_session_pages(router, dash)
    add_session_fragments(router, dash)
    add_identity_pages(router, ctx, dash)

    @router.get("/login")
    async def login_form(request: Request) -> Response:
        if ctx.settings.auth:  # accounts: name + password, or single sign-on
            return await dash.identity_handlers[0](request)
        if not dash.auth_enabled:
            return RedirectResponse("/", status_code=303)
        target = safe_next(request.query_params.get("next"))
        return await dash.page("login.html", nav="", target=target, failed=False)

    @router.post("/login")
    async def login(request: Request) -> Response:
        if ctx.settings.auth:
            return await dash.identity_handlers[1](request)
        token = ctx.settings.dashboard_token
        if not token:
            return RedirectResponse("/", status_code=303)
        body = await request.body()
        form = parse_qs(body[:8192].decode("utf-8", "replace"))
        candidate = (form.get("token") or [""])[0]
        target = safe_next((form.get("next") or ["/"])[0])
        if not token_matches(candidate, token):
            return await dash.page("login.html", 401, nav="", target=target, failed=True)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            cookie_value(token),
            max_age=30 * 24 * 3600,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        if ctx.settings.auth:
            return await dash.identity_handlers[2](request)
        response = RedirectResponse("/login" if dash.auth_enabled else "/", status_code=303)
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    # Registered last: `:path` takes ids stored with a `/` (before ids were limited to URL-safe
    # characters; links send it as %2F, routing sees it decoded), so this template also matches
    # `/sessions/x/timeline` and must come after the routes under a session.
    router.get("/sessions/{session_id:path}")(replay_page)
    # Registered last: `:path` takes ids stored with a `/` (before ids were limited to URL-safe
    # characters; links send it as %2F, routing sees it decoded), so this template also matches
    # `/sessions/x/timeline` and must come after the routes under a session.
    router.get("/sessions/{session_id:path}")(replay_page)
    return router


def install(app: FastAPI, ctx: AppContext) -> None:
    dash = Dashboard(ctx, wiring.data_client(ctx))
    app.include_router(build_router(ctx, dash))
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    from agent_trace.server import access

    access.install(app, ctx, "dashboard", login_path="/login")  # inside the security middleware
    policy = SecurityPolicy(
        csp=PAGE_CSP,
        token=None if ctx.settings.auth else ctx.settings.dashboard_token,
        bind_host=ctx.settings.host,
        allowed_hosts=ctx.settings.allowed_hosts,
        open_paths=("/health", "/login", "/static/"),
        allow_cookie=True,
        login_path="/login",
    )
    app.add_middleware(SecurityMiddleware, policy=policy)
    app.add_middleware(ServerTimingMiddleware)

    async def not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        error = ApiError(exc.status_code, "not_found" if exc.status_code == 404 else "error", str(exc.detail))
        if "text/html" in request.headers.get("accept", ""):
            return await dash.error_page(error)
        return error_response(error)

    app.add_exception_handler(StarletteHTTPException, not_found)

    # Close the client (its HTTP connections, its change poller) when the server stops.
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with previous(application) as state:
            settle_heap()
            yield state
        await dash.client.aclose()

    app.router.lifespan_context = lifespan


__all__ = ["install"]
