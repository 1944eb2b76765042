"""Access control for the API and the dashboard: one middleware in front of every route.

With auth on (`AGENT_TRACE_AUTH=on`) it decides, before any route runs:

- who is asking: a personal token (`Authorization: Bearer …`, for scripts) or a login-session
  cookie (browsers); nobody else gets past an `open` route;
- what the route needs: every path of the API and the dashboard is listed in `ROUTE_NEEDS`
  below (domain/access.py `Need`). A path missing from the table is refused (404), so a new
  route cannot be reached until it declares its need; tests/server/test_access_matrix.py walks
  the app's own route table and fails on any route the table does not list;
- for a route showing one session (`session` need: its id in the path or in `session_id=`),
  whether this principal may read that session's content (domain/access.py);
- CSRF: a state-changing request from a browser carries the session's CSRF token (form field
  `csrf` or header `X-CSRF-Token`); before sign-in, a double-submitted cookie;
- and it writes the audit entries that belong to reading: content views, searches, exports.

Routes listing sessions (`list` need) ask `visible_rows` to drop content from rows the
principal may not read. With auth off the middleware is not installed and `principal_of` is the
local admin: single-user mode stays as it was.
"""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

import anyio
import orjson
from starlette.requests import HTTPConnection
from starlette.routing import compile_path

from agent_trace.domain.access import (
    ANONYMOUS,
    LOCAL_ADMIN,
    Need,
    Principal,
    allows,
    may_read_content,
    redact_session_row,
)
from agent_trace.server.identity_cache import IdentityCache, same_secret
from agent_trace.server.security import send_error
from agent_trace.store.identity import IdentityStore

if TYPE_CHECKING:
    from agent_trace.server.context import AppContext

log = logging.getLogger("agent_trace.access")

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]

SESSION_COOKIE = "agent_trace_session"
CSRF_COOKIE = "agent_trace_csrf"  # before sign-in: double-submitted with the login form
MAX_FORM_BYTES = 64 * 1024
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUDIT_REPEAT_S = 60.0  # the same person viewing the same session again within a minute: one entry

# What every route needs, by role and path template. OPEN routes are answered for anyone.
ROUTE_NEEDS: dict[str, dict[str, Need]] = {
    "api": {
        "/health": Need.OPEN,
        "/openapi.json": Need.OPEN,
        "/v1/sessions": Need.LIST,
        "/v1/sessions/stream": Need.LIST,
        "/v1/sessions/{session_id:path}": Need.SESSION,
        "/v1/timeline": Need.SESSION,
        "/v1/search": Need.LIST,
        "/v1/budgets": Need.ADMIN,
        "/v1/budgets/allow": Need.ADMIN,
        "/v1/budgets/{budget_id:path}": Need.ADMIN,
        "/v1/analytics/cost/daily": Need.AGGREGATE,
        "/v1/analytics/tools": Need.AGGREGATE,
        "/v1/analytics/outcomes": Need.AGGREGATE,
        "/v1/analytics/team": Need.AGGREGATE,
        "/v1/analytics/team.csv": Need.AGGREGATE,
        "/v1/analytics/cost/daily.csv": Need.AGGREGATE,
        "/v1/analytics/tools.csv": Need.AGGREGATE,
        "/v1/analytics/rollups": Need.AGGREGATE,
        "/v1/analytics/reported-calls": Need.AGGREGATE,
        "/v1/me": Need.AGGREGATE,
        "/v1/audit": Need.ADMIN,
        "/v1/users": Need.ADMIN,
        "/v1/teams": Need.ADMIN,
    },
    "dashboard": {
        "/health": Need.OPEN,
        "/openapi.json": Need.OPEN,
        "/static": Need.OPEN,
        "/static/highlight.css": Need.OPEN,
        "/login": Need.OPEN,
        "/logout": Need.OPEN,
        "/auth/oidc/login": Need.OPEN,
        "/auth/oidc/callback": Need.OPEN,
        "/": Need.LIST,
        "/sessions": Need.LIST,
        "/live/sessions": Need.LIST,
        "/sessions/{session_id:path}": Need.SESSION,
        "/sessions/{session_id:path}/live": Need.SESSION,
        "/sessions/{session_id:path}/cards/{index}": Need.SESSION,
        "/sessions/{session_id:path}/tools/{tool_use_id}": Need.SESSION,
        "/sessions/{session_id:path}/tool-bodies": Need.SESSION,
        "/sessions/{session_id:path}/timeline": Need.SESSION,
        "/sessions/{session_id:path}/prompts/{prompt_id}": Need.SESSION,
        "/search": Need.LIST,
        "/filter-choices": Need.AGGREGATE,
        "/budgets": Need.ADMIN,
        "/budgets/remove": Need.ADMIN,
        "/budgets/allow": Need.ADMIN,
        "/cost": Need.AGGREGATE,
        "/outcomes": Need.AGGREGATE,
        "/cost.csv": Need.AGGREGATE,
        "/tools.csv": Need.AGGREGATE,
        "/team": Need.AGGREGATE,
        "/team.csv": Need.AGGREGATE,
        "/audit": Need.ADMIN,
    },
}
# Routes whose answer is a download: each is an `export` entry in the audit log.
EXPORT_PATHS = frozenset(
    {
        "/v1/analytics/team.csv",
        "/v1/analytics/cost/daily.csv",
        "/v1/analytics/tools.csv",
        "/team.csv",
        "/cost.csv",
        "/tools.csv",
    }
)
# Session pages that are fragments of a page already audited as a content view.
_FRAGMENT_SUFFIXES = ("/live", "/tool-bodies")


# The request being answered: who and its CSRF token, for templates (which have no request).
# A context variable is per request (and follows the request into worker threads), not shared.
_CURRENT: ContextVar[tuple[Principal, str] | None] = ContextVar("agent_trace_access", default=None)


def current_principal() -> Principal:
    found = _CURRENT.get()
    return found[0] if found else LOCAL_ADMIN


def current_csrf() -> str:
    found = _CURRENT.get()
    return found[1] if found else ""


class RouteTable:
    """Path → (template, path parameters) over one role's ROUTE_NEEDS, with Starlette's own path
    syntax. Templates without parameters are tried first (`/v1/sessions/stream` before
    `/v1/sessions/{session_id:path}`), templates ending in a `:path` parameter last (the replay
    `/sessions/{session_id:path}` after its `/timeline`, `/live`...); `/static` covers everything
    under it (a mount)."""

    MOUNTS = ("/static",)

    def __init__(self, needs: dict[str, Need]) -> None:
        ordered = sorted(needs, key=lambda t: ("{" in t, t.endswith(":path}"), t))
        self._compiled = [(compile_path(t)[0], t) for t in ordered if t not in self.MOUNTS]

    def match(self, path: str) -> tuple[str | None, dict[str, Any]]:
        for mount in self.MOUNTS:
            if path.startswith(mount + "/"):
                return mount, {}
        for regex, template in self._compiled:
            found = regex.match(path)
            if found:
                return template, found.groupdict()
        return None, {}


def principal_of(conn: HTTPConnection) -> Principal:
    """Who is asking (set by AccessMiddleware); the local admin when auth is off."""
    found = conn.scope.get("state", {}).get("principal")
    return found if isinstance(found, Principal) else LOCAL_ADMIN


def csrf_of(conn: HTTPConnection) -> str:
    """The CSRF token a page must put in its forms ('' with auth off)."""
    return str(conn.scope.get("state", {}).get("csrf") or "")


def visible_rows(
    principal: Principal, rows: Iterable[dict[str, Any]], *, searched: bool
) -> list[dict[str, Any]]:
    """Session rows as `principal` may see them. After a free-text search (which also matches
    prompt text), rows whose content they may not read are dropped, not only redacted: their
    presence alone would tell that a prompt contained the words."""
    out: list[dict[str, Any]] = []
    for row in rows:
        shown = redact_session_row(principal, row)
        if searched and shown is not row:
            continue
        out.append(shown)
    return out


def visible_hits(principal: Principal, result: dict[str, Any]) -> dict[str, Any]:
    """A full-text search answer as `principal` may see it: hits in sessions whose content they
    may not read are dropped (a snippet is content, and its presence tells what a prompt said)."""
    hits = [h for h in result.get("hits") or [] if may_read_content(principal, h.get("user"))]
    return {**result, "hits": hits}


def aggregate_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Session rows on an aggregate page (cost, outcomes) with accounts on: numbers, id and
    project only. A session's title is its first prompt — content — and aggregate pages are open
    to every role, viewers included."""
    return [redact_session_row(ANONYMOUS, row) for row in rows]


class Auditor:
    """Appends reading events to the audit log, once per person and target per minute."""

    def __init__(self, identity: IdentityStore) -> None:
        self.identity = identity
        self._recent: dict[tuple[str, str, str], float] = {}

    async def record(self, actor: str, action: str, target: str | None, detail: dict[str, Any]) -> None:
        key = (actor, action, target or orjson.dumps(detail).decode())
        now = time.monotonic()
        if now - self._recent.get(key, -AUDIT_REPEAT_S) < AUDIT_REPEAT_S:
            return
        if len(self._recent) > 10_000:
            self._recent.clear()
        self._recent[key] = now
        await anyio.to_thread.run_sync(self.identity.append_audit, actor, action, target, detail)


class AccessMiddleware:
    """Pure ASGI (streams pass straight through); see the module docstring."""

    def __init__(
        self,
        app: Any,
        *,
        role: str,
        cache: IdentityCache,
        auditor: Auditor,
        session_lookup: Callable[[str], str | bool | None],
        login_path: str | None = None,
    ) -> None:
        self.app = app
        self.needs = ROUTE_NEEDS[role]
        self.table = RouteTable(self.needs)
        self.cache = cache
        self.auditor = auditor
        self.session_lookup = session_lookup  # session id → owner; False = no such session
        self.login_path = login_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        template, path_params = self._route(scope)
        if template is None:
            # Not in the table: no such page, or a route that declares no need. Refused either
            # way (fail closed): a route added without an entry in ROUTE_NEEDS cannot be reached.
            log.warning("%s is not in server/access.py ROUTE_NEEDS: refused", scope.get("path"))
            await send_error(send, 404, "not_found", "no such page (or a route that declares no access need)")
            return
        need = self.needs[template]
        principal, csrf, by_cookie = await self._principal(conn)
        state = scope.setdefault("state", {})
        # Routes and templates always see someone: the signed-in principal, or ANONYMOUS (never
        # the local admin that stands for "auth off").
        state["principal"] = principal or ANONYMOUS
        state["csrf"] = csrf
        _CURRENT.set((principal or ANONYMOUS, csrf))
        if not allows(principal, need):
            if principal is None:
                await self._unauthenticated(scope, send)
            else:
                await self._forbidden(
                    scope, send, f"{template}: your role ({principal.role}) may not use this"
                )
            return
        if scope["method"] in UNSAFE_METHODS and (by_cookie or principal is None):
            replay = await self._check_csrf(conn, receive, csrf if by_cookie else None, send)
            if replay is None:
                return
            receive = replay
        if principal is not None and need is Need.SESSION:
            session_id = path_params.get("session_id") or conn.query_params.get("session_id")
            if session_id and not await self._may_read(principal, str(session_id).strip(), scope, template):
                await self._forbidden(
                    scope,
                    send,
                    "this session's prompts and tool calls are not yours to read "
                    "(your role and team decide; ask an admin)",
                )
                return
        if principal is not None:
            await self._audit_reading(principal, need, template, conn)
        await self.app(scope, receive, send)

    # -- steps -------------------------------------------------------------------------------

    def _route(self, scope: Scope) -> tuple[str | None, dict[str, Any]]:
        return self.table.match(str(scope.get("path", "")))

    async def _principal(self, conn: HTTPConnection) -> tuple[Principal | None, str, bool]:
        authorization = conn.headers.get("authorization")
        if authorization:
            owner = await anyio.to_thread.run_sync(self.cache.owner_of_header, authorization)
            if owner is None:
                return None, "", False
            return self.cache.principal(owner), "", False
        session = conn.cookies.get(SESSION_COOKIE)
        if session:
            found = await anyio.to_thread.run_sync(self.cache.login, session, int(time.time() * 1000))
            if found is not None:
                return found[0], found[1], True
        return None, "", False

    async def _may_read(self, principal: Principal, session_id: str, scope: Scope, template: str) -> bool:
        if principal.is_admin:
            allowed = True
        else:
            owner = await anyio.to_thread.run_sync(self.session_lookup, session_id)
            if owner is False:  # no such session: the route answers 404 (or resolves a prefix)
                return True
            allowed = may_read_content(principal, owner if isinstance(owner, str) else None)
        # One entry per page read: not for the fragments a page then loads (cards, tool bodies).
        fragment = template.endswith(_FRAGMENT_SUFFIXES) or "/cards/" in template
        if (
            allowed
            and scope["method"] == "GET"
            and not fragment
            and b"part=" not in scope.get("query_string", b"")
        ):
            await self.auditor.record(principal.user_id, "content_view", session_id, {"path": scope["path"]})
        return allowed

    async def _audit_reading(
        self, principal: Principal, need: Need, template: str, conn: HTTPConnection
    ) -> None:
        if need is Need.LIST:
            text = (conn.query_params.get("q") or "").strip()
            if text:
                await self.auditor.record(
                    principal.user_id, "search", None, {"q": text[:200], "path": template}
                )
        elif template in EXPORT_PATHS:
            await self.auditor.record(
                principal.user_id, "export", template, {"query": conn.scope.get("query_string", b"").decode()}
            )

    async def _check_csrf(
        self, conn: HTTPConnection, receive: Receive, expected: str | None, send: Send
    ) -> Receive | None:
        """The request's body is read here (forms are small) and replayed to the route."""
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_FORM_BYTES:
                await send_error(send, 413, "payload_too_large", "a form is at most 64 KiB")
                return None
        offered = conn.headers.get("x-csrf-token")
        if offered is None and "form" in (conn.headers.get("content-type") or ""):
            offered = next(iter(parse_qs(body.decode("utf-8", "replace")).get("csrf", [])), None)
        if expected is None:  # not signed in yet: the form's token must match its cookie
            expected = conn.cookies.get(CSRF_COOKIE) or ""
        if not offered or not expected or not same_secret(offered, expected):
            await send_error(
                send, 403, "csrf", "the form is stale or was not sent by this site: reload the page"
            )
            return None
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                result: dict[str, Any] = await receive()
                return result
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    async def _forbidden(self, scope: Scope, send: Send, message: str) -> None:
        """403: the one JSON error, or for a browser on the dashboard a plain page saying why."""
        accept = dict(scope.get("headers", ())).get(b"accept", b"").decode("latin-1")
        if not (self.login_path and "text/html" in accept):
            await send_error(send, 403, "forbidden", message)
            return
        body = (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>not allowed · agent-trace'
            f"</title></head><body><h1>Not allowed</h1><p>{html.escape(message)}</p>"
            '<p><a href="/">back to the sessions</a></p></body></html>'
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 403,
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _unauthenticated(self, scope: Scope, send: Send) -> None:
        accept = dict(scope.get("headers", ())).get(b"accept", b"").decode("latin-1")
        if self.login_path and scope["method"] == "GET" and "text/html" in accept:
            target = str(scope.get("path", "/"))
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            location = f"{self.login_path}?next={quote(target, safe='')}"
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [(b"location", location.encode()), (b"cache-control", b"no-store")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await send_error(
            send,
            401,
            "unauthorized",
            "sign in, or send your personal token: `Authorization: Bearer <token>`",
            [(b"www-authenticate", b'Bearer realm="agent-trace"')],
        )


def install(app: Any, ctx: AppContext, role: str, login_path: str | None = None) -> None:
    """Put AccessMiddleware in front of `app` when auth is on (server/api and dashboard call this)."""
    if not ctx.settings.auth:
        return
    from agent_trace.server import wiring
    from agent_trace.store.identity import identity_of

    identity = identity_of(ctx.store)
    cache, auditor = wiring.identity_checks(ctx)
    store = ctx.store

    def session_owner(session_id: str) -> str | bool | None:
        owners = identity.session_owners([session_id])
        if session_id in owners:
            return owners[session_id]
        # A short id (as `agent-trace sessions` prints): the page resolves it; check its owner too.
        found = store.find_session_ids(session_id, 2) if len(session_id) >= 4 else []
        if len(found) == 1:
            return identity.session_owners(found).get(found[0])
        return False

    app.add_middleware(
        AccessMiddleware,
        role=role,
        cache=cache,
        auditor=auditor,
        session_lookup=session_owner,
        login_path=login_path,
    )
