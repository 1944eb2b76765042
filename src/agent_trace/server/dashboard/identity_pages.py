"""Dashboard pages of identity: sign in (password, single sign-on), sign out, the team page
(+ CSV) and the admin's audit page. Who may open which: server/access.py `ROUTE_NEEDS`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, quote

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from agent_trace.domain.access import token_digest
from agent_trace.reports.team import to_csv
from agent_trace.server import login as sessions
from agent_trace.server.access import SESSION_COOKIE, csrf_of, principal_of
from agent_trace.server.api.identity_routes import (
    audit_json,
    cost_csv,
    csv_response,
    parse_team_params,
    team_rows,
    tools_csv,
)
from agent_trace.server.api.params import parse_day_range
from agent_trace.server.context import AppContext
from agent_trace.server.errors import ApiError
from agent_trace.server.oidc import (
    PENDING_COOKIE,
    OidcClient,
    OidcError,
    configured,
    cookie_secret,
    provision,
)
from agent_trace.server.passwords import verify_password
from agent_trace.store.identity import identity_of

if TYPE_CHECKING:
    from agent_trace.server.dashboard.core import Dashboard

NO_STORE = {"Cache-Control": "no-store"}


def safe_next(target: str | None) -> str:
    """Only same-site paths: never `//evil.example` or `https://…` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def add_identity_pages(router: APIRouter, ctx: AppContext, dash: Dashboard) -> None:
    """Sign-in with accounts or single sign-on, sign-out; then the team pages."""
    settings = ctx.settings
    store = ctx.store
    limiter = sessions.LoginLimiter()

    async def login_page(request: Request, status: int = 200, error: str | None = None) -> Response:
        target = safe_next(request.query_params.get("next"))
        token, fresh = sessions.pre_login_csrf(request)
        html = await anyio.to_thread.run_sync(
            lambda: dash.render(
                "login_account.html",
                nav="",
                target=target,
                error=error,
                csrf=token,
                sso=configured(settings),
            )
        )
        response = HTMLResponse(html, status_code=status, headers=NO_STORE)
        if fresh:
            sessions.set_pre_login_cookie(response, token, sessions.is_secure(request, settings.public_url))
        return response

    async def login_submit(request: Request) -> Response:
        form = parse_qs((await request.body())[:8192].decode("utf-8", "replace"))
        name = (form.get("name") or [""])[0].strip()[:200]
        password = (form.get("password") or [""])[0]
        target = safe_next((form.get("next") or ["/"])[0])
        address = request.client.host if request.client else "?"
        identity = identity_of(store)
        wait = limiter.retry_after(f"name:{name}", f"addr:{address}")
        if wait is not None:
            await anyio.to_thread.run_sync(
                identity.append_audit,
                name or None,
                "login_failed",
                name or None,
                {"reason": "rate limited", "address": address},
            )
            response = await login_page(request, 429, f"Too many failed sign-ins: try again in {wait} s.")
            response.headers["Retry-After"] = str(wait)
            return response

        def check() -> bool:
            account = identity.account(name) if name else None
            ok = verify_password(identity.password_hash(name) if account else None, password)
            return ok and account is not None and not account.disabled

        if not await anyio.to_thread.run_sync(check):
            limiter.failed(f"name:{name}", f"addr:{address}")
            await anyio.to_thread.run_sync(
                identity.append_audit,
                name or None,
                "login_failed",
                name or None,
                {"method": "password", "address": address},
            )
            return await login_page(request, 401, "That name and password do not match an active account.")
        limiter.succeeded(f"name:{name}")
        session_id = await anyio.to_thread.run_sync(sessions.open_session, identity, name)
        await anyio.to_thread.run_sync(
            identity.append_audit, name, "login", name, {"method": "password", "address": address}
        )
        response = RedirectResponse(target, status_code=303)
        sessions.set_session_cookie(response, session_id, sessions.is_secure(request, settings.public_url))
        return response

    async def logout_submit(request: Request) -> Response:
        session_id = request.cookies.get(SESSION_COOKIE)
        if session_id:
            identity = identity_of(store)
            await anyio.to_thread.run_sync(identity.close_login_session, token_digest(session_id))
            who = principal_of(request).user_id
            await anyio.to_thread.run_sync(identity.append_audit, who, "logout", who, {})
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    dash.identity_handlers = (login_page, login_submit, logout_submit)

    add_sso_routes(router, ctx, login_page)
    add_team_pages(router, ctx, dash)


LoginPage = Callable[[Request, int, str | None], Awaitable[Response]]


def add_sso_routes(router: APIRouter, ctx: AppContext, login_page: LoginPage) -> None:
    """OpenID Connect: the redirect to the provider and its callback (failures show `login_page`)."""
    settings = ctx.settings
    store = ctx.store
    oidc: list[OidcClient] = []

    def client() -> OidcClient:
        if not oidc:
            oidc.append(OidcClient(settings, cookie_secret(store)))
        return oidc[0]

    def redirect_uri(request: Request) -> str:
        base = settings.public_url or str(request.base_url).rstrip("/")
        return base + "/auth/oidc/callback"

    @router.get("/auth/oidc/login")
    async def oidc_login(request: Request) -> Response:
        if not configured(settings):
            return await login_page(request, 404, "Single sign-on is not configured on this server.")
        try:
            url, pending = await client().start(
                redirect_uri(request), safe_next(request.query_params.get("next"))
            )
        except OidcError as exc:
            return await login_page(request, 502, str(exc))
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            PENDING_COOKIE,
            pending,
            max_age=600,
            httponly=True,
            samesite="lax",
            secure=sessions.is_secure(request, settings.public_url),
            path="/auth/oidc/",
        )
        return response

    @router.get("/auth/oidc/callback")
    async def oidc_callback(request: Request) -> Response:
        if not configured(settings):
            return await login_page(request, 404, "Single sign-on is not configured on this server.")
        identity = identity_of(store)
        params = dict(request.query_params)
        try:
            claims, target = await client().finish(
                redirect_uri(request), request.cookies.get(PENDING_COOKIE), params
            )
            account = await anyio.to_thread.run_sync(provision, identity, settings, claims)
        except OidcError as exc:
            await anyio.to_thread.run_sync(
                identity.append_audit, None, "login_failed", None, {"method": "oidc", "reason": str(exc)}
            )
            return await login_page(request, 401, f"Single sign-on failed: {exc}")
        if account.disabled:
            await anyio.to_thread.run_sync(
                identity.append_audit,
                account.user_id,
                "login_failed",
                account.user_id,
                {"method": "oidc", "reason": "disabled"},
            )
            return await login_page(request, 403, "This account is disabled.")
        session_id = await anyio.to_thread.run_sync(sessions.open_session, identity, account.user_id)
        await anyio.to_thread.run_sync(
            identity.append_audit,
            account.user_id,
            "login",
            account.user_id,
            {"method": "oidc", "subject": claims["sub"]},
        )
        response = RedirectResponse(safe_next(target), status_code=303)
        sessions.set_session_cookie(response, session_id, sessions.is_secure(request, settings.public_url))
        response.delete_cookie(PENDING_COOKIE, path="/auth/oidc/")
        return response


def add_team_pages(router: APIRouter, ctx: AppContext, dash: Dashboard) -> None:
    """The team view (+ CSV), the cost and tools CSV downloads, the audit log."""
    settings = ctx.settings
    store = ctx.store

    def team_query(request: Request) -> tuple[dict[str, str], str, str]:
        keys = ("since", "until", "project", "user", "tz")
        params = {k: v for k in keys if (v := request.query_params.get(k, "").strip())}
        by, period = parse_team_params(request.query_params.get("by"), request.query_params.get("period"))
        return params, by, period

    @router.get("/team")
    async def team_page(request: Request) -> Response:
        try:
            params, by, period = team_query(request)
            days = parse_day_range(params, settings.timezone)
            rows = await anyio.to_thread.run_sync(team_rows, store, days, by, period)
        except ApiError as exc:
            return await dash.error_page(exc, "team")
        query = "&".join(f"{k}={quote(v)}" for k, v in {**params, "by": by, "period": period}.items())
        return await dash.page(
            "team.html",
            nav="team",
            rows=[r.as_json() for r in rows],
            by=by,
            period=period,
            params=params,
            first=days.first.isoformat(),
            last=days.last.isoformat(),
            csv_url=f"/team.csv?{query}",
        )

    @router.get("/team.csv")
    async def team_csv(request: Request) -> Response:
        try:
            params, by, period = team_query(request)
            days = parse_day_range(params, settings.timezone)
        except ApiError as exc:
            return await dash.error_page(exc, "team")
        rows = await anyio.to_thread.run_sync(team_rows, store, days, by, period)
        return csv_response(to_csv(rows, by), f"agent-trace-team-by-{by}.csv")

    async def _view_csv(request: Request, which: str) -> Response:
        """The cost page's data (days) or its tool table as CSV, with the page's own filters."""
        params = {
            k: v
            for k in ("since", "until", "project", "user", "agent", "model", "tz")
            if (v := request.query_params.get(k, "").strip())
        }
        try:
            if which == "cost":
                data = await dash.client.cost_daily(params)
                return csv_response(cost_csv(data), "agent-trace-cost-daily.csv")
            data = await dash.client.tools({k: v for k, v in params.items() if k != "model"})
            return csv_response(tools_csv(data), "agent-trace-tools.csv")
        except ApiError as exc:
            return await dash.error_page(exc, "cost")

    @router.get("/cost.csv")
    async def cost_csv_page(request: Request) -> Response:
        return await _view_csv(request, "cost")

    @router.get("/tools.csv")
    async def tools_csv_page(request: Request) -> Response:
        return await _view_csv(request, "tools")

    @router.get("/audit")
    async def audit_page(request: Request) -> Response:
        data = await anyio.to_thread.run_sync(audit_json, identity_of(store), None, 500)
        entries = list(reversed(data["entries"]))
        return await dash.page(
            "audit.html", nav="audit", entries=entries, chain=data["chain"], csrf=csrf_of(request)
        )
