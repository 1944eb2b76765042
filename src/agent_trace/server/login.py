"""Signing in to the dashboard with auth on: login sessions, their cookie, the rate limit.

A login session is a random id in an HttpOnly cookie (SameSite=Lax, so the redirect back from
a single sign-on provider carries it; Secure behind https); the store keeps only its SHA-256
digest with the session's CSRF token. Disabling a person deletes their login sessions.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from agent_trace.domain.access import token_digest
from agent_trace.server.access import CSRF_COOKIE, SESSION_COOKIE
from agent_trace.store.identity import IdentityStore

SESSION_DAYS = 14
MAX_FAILURES = 5  # per name and per client address …
WINDOW_S = 300.0  # … within five minutes


@dataclass
class LoginLimiter:
    """Failed sign-ins per key (a name, a client address) in a sliding window, in memory: a
    guesser gets five tries per five minutes per name and per address. Per process; several
    dashboard processes each count their own (documented)."""

    max_failures: int = MAX_FAILURES
    window_s: float = WINDOW_S
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def retry_after(self, *keys: str) -> int | None:
        now = time.monotonic()
        wait = 0.0
        for key in keys:
            times = self._failures.get(key)
            if not times:
                continue
            while times and now - times[0] > self.window_s:
                times.popleft()
            if len(times) >= self.max_failures:
                wait = max(wait, self.window_s - (now - times[0]))
        return int(wait) + 1 if wait > 0 else None

    def failed(self, *keys: str) -> None:
        if len(self._failures) > 100_000:
            self._failures.clear()
        now = time.monotonic()
        for key in keys:
            self._failures.setdefault(key, deque(maxlen=self.max_failures * 2)).append(now)

    def succeeded(self, name_key: str) -> None:
        self._failures.pop(name_key, None)


def is_secure(request: Request, public_url: str | None) -> bool:
    return request.url.scheme == "https" or bool(public_url and public_url.startswith("https://"))


def open_session(identity: IdentityStore, user_id: str) -> str:
    """A new login session for `user_id`; returns the cookie value."""
    session_id = secrets.token_urlsafe(32)
    expires = int(time.time() * 1000) + SESSION_DAYS * 86_400_000
    identity.open_login_session(token_digest(session_id), user_id, secrets.token_urlsafe(24), expires)
    return session_id


def set_session_cookie(response: Response, session_id: str, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=SESSION_DAYS * 86_400,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
    response.delete_cookie(CSRF_COOKIE, path="/")


def pre_login_csrf(request: Request) -> tuple[str, bool]:
    """The double-submit token of the sign-in form: (value, whether a cookie must be set)."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing and 16 <= len(existing) <= 64:
        return existing, False
    return secrets.token_urlsafe(24), True


def set_pre_login_cookie(response: Response, value: str, secure: bool) -> None:
    response.set_cookie(
        CSRF_COOKIE, value, max_age=3600, httponly=True, samesite="strict", secure=secure, path="/"
    )
