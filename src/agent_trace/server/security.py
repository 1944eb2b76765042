"""What keeps the API and the dashboard safe to run: headers, host check, optional token.

- Every answer carries a strict Content-Security-Policy (scripts and styles only from our own
  origin: nothing inline can run, whatever a transcript contains), nosniff, no framing, no
  referrer.
- Bound to loopback (the default), only loopback host names are served: a web page cannot reach
  the dashboard through DNS rebinding (evil.example resolving to 127.0.0.1). Sub-domains of
  localhost (evil.localhost) are refused too: each is an origin of its own to a browser.
- A state-changing request (not GET/HEAD/OPTIONS) carrying an Origin other than the server's own
  is refused: a page on another site (or another localhost port) cannot post here, even with
  `fetch(…, {mode: "no-cors"})`, which skips the CORS preflight. The collector applies the same
  two checks (`cross_site_problem`) to every ingest route.
- With AGENT_TRACE_DASHBOARD_TOKEN set, every data route needs it: `Authorization: Bearer …`, or
  (dashboard) the HttpOnly SameSite=Strict cookie the login form sets. Comparisons are
  constant-time; the cookie holds an HMAC of the token, never the token itself.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from ipaddress import ip_address
from typing import Any
from urllib.parse import quote

from agent_trace.server.errors import ApiError, error_json

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ASGIApp = Callable[[Scope, Receive, Send], Any]

PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
COOKIE_NAME = "agent_trace_auth"
_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def cookie_value(token: str) -> str:
    """What the login cookie holds: proof of the token, useless anywhere else."""
    return hmac.new(token.encode(), b"agent-trace dashboard session v1", hashlib.sha256).hexdigest()


def token_matches(candidate: str | None, token: str) -> bool:
    if candidate is None:
        return False
    return hmac.compare_digest(candidate.encode(), token.encode())


@dataclass(frozen=True, slots=True)
class SecurityPolicy:
    csp: str
    token: str | None
    bind_host: str
    open_paths: tuple[str, ...]  # served without a token (exact, or prefix when ending in '/')
    allow_cookie: bool  # the dashboard's login cookie counts as a token
    login_path: str | None  # pages redirect here when the token is missing
    csp_exempt: tuple[str, ...] = ()
    # Host names answered besides loopback ones (AGENT_TRACE_ALLOWED_HOSTS). Set, they are the
    # only ones answered whatever the bind address; unset, a loopback bind answers loopback only.
    allowed_hosts: tuple[str, ...] = ()

    def is_open(self, path: str) -> bool:
        return any(path == p or (p.endswith("/") and path.startswith(p)) for p in self.open_paths)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _host_name(host_header: str | None) -> str:
    if not host_header:
        return ""
    if host_header.startswith("["):
        return host_header.split("]", 1)[0] + "]"
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def cross_site_problem(
    method: str,
    host_header: str | None,
    origin: str | None,
    loopback_only: bool,
    *,
    allowed_hosts: frozenset[str] = frozenset(),
    fetch_site: str | None = None,
) -> tuple[int, str, str] | None:
    """(status, code, message) when a request must be refused as cross-site, else None.

    Host: a server bound to loopback answers loopback host names (and AGENT_TRACE_ALLOWED_HOSTS)
    only (DNS rebinding). Origin: browsers send it on every cross-origin request and on every
    POST; a state-changing request whose Origin is not this very host (scheme aside) comes from
    another page. Our own pages send `Origin: null` (Referrer-Policy: no-referrer), so a browser's
    Sec-Fetch-Site decides when it is present. Non-browser clients (the hook handler, OTLP
    exporters, curl) send neither and are unaffected.
    """
    host_name = _host_name(host_header)
    if loopback_only and not (is_loopback(host_name) or host_name.lower() in allowed_hosts):
        return (
            421,
            "misdirected_request",
            "this server does not answer to that host name (AGENT_TRACE_ALLOWED_HOSTS lists the others)",
        )
    if method.upper() in _SAFE_METHODS:
        return None
    if fetch_site is not None:
        if fetch_site.lower() in ("same-origin", "none"):
            return None
        return (
            403,
            "cross_origin",
            f"requests from another site (Sec-Fetch-Site: {fetch_site[:20]}) are refused",
        )
    if origin is not None:
        origin_host = origin.split("://", 1)[1] if "://" in origin else None
        if origin_host is None or host_header is None or origin_host.lower() != host_header.lower():
            return 403, "cross_origin", f"requests from another origin ({origin[:100]!r}) are refused"
    return None


class SecurityMiddleware:
    """Pure ASGI (streams and SSE pass straight through); see the module docstring."""

    def __init__(self, app: ASGIApp, policy: SecurityPolicy) -> None:
        self.app = app
        self.policy = policy
        self.loopback_only = is_loopback(policy.bind_host) or bool(policy.allowed_hosts)
        self.allowed_hosts = frozenset(h.lower() for h in policy.allowed_hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        headers = self._security_headers(path)
        problem = cross_site_problem(
            str(scope.get("method", "GET")),
            _header(scope, b"host"),
            _header(scope, b"origin"),
            self.loopback_only,
            allowed_hosts=self.allowed_hosts,
            fetch_site=_header(scope, b"sec-fetch-site"),
        )
        if problem is not None:
            await self._reject(send, *problem, headers)
            return
        if self.policy.token and not self.policy.is_open(path) and not self._authorized(scope):
            await self._unauthorized(scope, send, headers)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                existing = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in headers if k not in existing
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _host_allowed(self, host: str) -> bool:
        return is_loopback(host) or host.lower() in self.allowed_hosts

    def _security_headers(self, path: str) -> list[tuple[bytes, bytes]]:
        headers = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
        ]
        if not any(path == p or path.startswith(p + "/") for p in self.policy.csp_exempt):
            headers.append((b"content-security-policy", self.policy.csp.encode()))
        return headers

    def _authorized(self, scope: Scope) -> bool:
        token = self.policy.token
        assert token is not None
        auth = _header(scope, b"authorization")
        if auth and auth[:7].lower() == "bearer ":
            return token_matches(auth[7:].strip(), token)
        if self.policy.allow_cookie:
            raw = _header(scope, b"cookie")
            if raw:
                jar: SimpleCookie = SimpleCookie()
                try:
                    jar.load(raw)
                except Exception:  # a malformed cookie header is simply no login
                    return False
                morsel = jar.get(COOKIE_NAME)
                if morsel is not None:
                    return token_matches(morsel.value, cookie_value(token))
        return False

    async def _unauthorized(self, scope: Scope, send: Send, headers: list[tuple[bytes, bytes]]) -> None:
        accept = _header(scope, b"accept") or ""
        if self.policy.login_path and scope.get("method") == "GET" and "text/html" in accept:
            target = str(scope.get("path", "/"))
            if scope.get("query_string"):
                target += "?" + scope["query_string"].decode("latin-1")
            location = f"{self.policy.login_path}?next={quote(target, safe='')}"
            await send(
                {
                    "type": "http.response.start",
                    "status": 303,
                    "headers": [*headers, (b"location", location.encode()), (b"cache-control", b"no-store")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        await self._reject(
            send,
            401,
            "unauthorized",
            "a token is required: send `Authorization: Bearer <AGENT_TRACE_DASHBOARD_TOKEN>`",
            [*headers, (b"www-authenticate", b'Bearer realm="agent-trace"')],
        )

    @staticmethod
    async def _reject(
        send: Send, status: int, code: str, message: str, headers: Iterable[tuple[bytes, bytes]]
    ) -> None:
        await send_error(send, status, code, message, headers)


async def send_error(
    send: Send, status: int, code: str, message: str, headers: Iterable[tuple[bytes, bytes]] = ()
) -> None:
    """An error in the one JSON shape, straight from ASGI middleware (no route has run)."""
    body = error_json(ApiError(status, code, message))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *headers,
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
