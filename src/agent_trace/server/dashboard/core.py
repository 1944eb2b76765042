"""What every dashboard page shares: the Dashboard (templates, static versions, highlighting,
the data client) and the small request helpers the page modules use."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from agent_trace.server.access import (
    current_csrf,
    current_principal,
)
from agent_trace.server.context import AppContext
from agent_trace.server.dashboard.budgets_page import BudgetBanner
from agent_trace.server.dashboard.client import DataClient
from agent_trace.server.dashboard.formatting import FILTERS, sort_value
from agent_trace.server.dashboard.highlight import HighlightCache, Highlighter, stylesheet
from agent_trace.server.dashboard.markdown import Markdown
from agent_trace.server.dashboard.replay_view import ReplayViewBuilder
from agent_trace.server.errors import ApiError

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"
TZ_COOKIE = "agent_trace_tz"
LIST_KEYS = ("q", "since", "until", "project", "user", "agent", "model", "sort", "limit", "cursor")
FILTER_KEYS = ("q", "since", "until", "project", "user", "agent", "model")
NO_STORE = {"Cache-Control": "no-store"}
# Characters one page may spend on syntax highlighting (Pygments: ~1 s per MB).
HIGHLIGHT_BUDGET = 250_000
MAX_BATCH = 200  # tool bodies per /tool-bodies request
BIDI_MARKERS = {
    code: f"⟨U+{code:04X}⟩"
    for code in (0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}
SEARCH_LIMIT = 100  # hits on the search page


class Dashboard:
    """What every page needs, built once per app (no globals)."""

    def __init__(self, ctx: AppContext, client: DataClient) -> None:
        self.settings = ctx.settings
        self.client = client
        self.auth_enabled = bool(ctx.settings.dashboard_token) or ctx.settings.auth
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(FILTERS)
        self.highlight_css = stylesheet()
        self.versions = {p.name: _digest(p.read_bytes()) for p in STATIC.iterdir() if p.is_file()}
        self.versions["highlight.css"] = _digest(self.highlight_css.encode())
        self.env.globals.update(static=self.static_url, sort_value=sort_value, auth_enabled=self.auth_enabled)
        # Who is signed in and the CSRF token every form carries (server/access.py).
        self.env.globals.update(
            csrf_token=current_csrf, signed_in=current_principal, accounts=ctx.settings.auth
        )
        self.highlight_cache = HighlightCache()
        # Auth on: (login page, login submit, logout) from identity_pages.py.
        self.identity_handlers: tuple[Callable[[Request], Awaitable[Response]], ...] = ()
        self.budget_banner = BudgetBanner(client)
        self.markdown = Markdown()

    def builder(self, replay: dict[str, Any], budget: int | None = HIGHLIGHT_BUDGET) -> ReplayViewBuilder:
        """A view builder for one render of `replay` (paths shown relative to its project)."""
        root = (replay.get("session") or {}).get("project")
        return ReplayViewBuilder(Highlighter(self.highlight_cache, budget, self.markdown), root)

    def static_url(self, name: str) -> str:
        return f"/static/{name}?v={self.versions.get(name, '0')}"

    def render(self, template: str, **context: Any) -> str:
        # Bidi overrides and isolates from stored text (U+202E makes `exe.txt` read `txt.exe`)
        # are shown as visible markers; the templates themselves hold none.
        return self.env.get_template(template).render(**context).translate(BIDI_MARKERS)

    async def page(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        context.setdefault("budget_banner", await self.budget_banner.lines())
        html = await anyio.to_thread.run_sync(lambda: self.render(template, **context))
        return HTMLResponse(html, status_code=status, headers=NO_STORE)

    async def error_page(self, exc: ApiError, nav: str = "") -> HTMLResponse:
        return await self.page("error.html", exc.status, nav=nav, error=exc, title=f"{exc.status}")


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:12]


def query_of(request: Request, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k in keys if (v := request.query_params.get(k, "").strip())}


def add_tz(params: dict[str, str], request: Request, default: str | None) -> None:
    """The zone days are read in: `?tz=`, else the browser's (its cookie), else the server's."""
    explicit = request.query_params.get("tz", "").strip()
    if explicit:
        params["tz"] = explicit
        return
    cookie = unquote(request.cookies.get(TZ_COOKIE, "")).strip()
    if cookie:
        try:
            ZoneInfo(cookie)
            params["tz"] = cookie
            return
        except (ZoneInfoNotFoundError, ValueError):
            pass
    if default:
        params["tz"] = default
