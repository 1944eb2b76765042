"""The dashboard role (port 3100): server-rendered pages over the API's data.

Pages: Sessions (`/`), Replay (`/sessions/{id}`), Cost (`/cost`), plus the fragments the small
script fetches (lazy card bodies, "show more", live refresh) and `/live/sessions` (SSE, relayed
from the API or read in-process). Data comes through a `DataClient` (see client.py).

The DataClient (in-process over the API's answer cache, or HTTP) comes from server/wiring.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException

from agent_trace.server import wiring
from agent_trace.server.access import (
    aggregate_rows,
    current_csrf,
    current_principal,
    principal_of,
    visible_hits,
    visible_rows,
)
from agent_trace.server.api.params import parse_last_event_id, parse_session_query
from agent_trace.server.api.stream import sse_comment, sse_event
from agent_trace.server.context import AppContext
from agent_trace.server.dashboard import pages
from agent_trace.server.dashboard.budgets_page import BudgetBanner, add_budget_routes
from agent_trace.server.dashboard.client import DataClient
from agent_trace.server.dashboard.formatting import FILTERS, sort_value
from agent_trace.server.dashboard.highlight import HighlightCache, Highlighter, stylesheet
from agent_trace.server.dashboard.identity_pages import add_identity_pages, safe_next
from agent_trace.server.dashboard.markdown import Markdown
from agent_trace.server.dashboard.outcome_view import outcome_panel
from agent_trace.server.dashboard.outcome_view import outcomes_page as outcomes_page_view
from agent_trace.server.dashboard.replay_view import CHUNK, PromptCard, ReplayViewBuilder, ToolNode
from agent_trace.server.dashboard.session_filter import SessionFilter, filter_prompts
from agent_trace.server.dashboard.session_filter import choices as session_choices
from agent_trace.server.dashboard.timeline_view import waterfall
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


def _query(request: Request, keys: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k in keys if (v := request.query_params.get(k, "").strip())}


def _tz_from(request: Request, default: str | None) -> str | None:
    explicit = request.query_params.get("tz", "").strip()
    if explicit:
        return explicit
    cookie = unquote(request.cookies.get(TZ_COOKIE, "")).strip()
    if cookie:
        try:
            ZoneInfo(cookie)
            return cookie
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default


def build_router(ctx: AppContext, dash: Dashboard) -> APIRouter:
    client = dash.client
    router = APIRouter(include_in_schema=False)
    add_budget_routes(router, dash, client)

    @router.get("/static/highlight.css")
    async def highlight_css() -> Response:
        return Response(
            dash.highlight_css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    async def _unique_prefix(prefix: str) -> str | None:
        """A short id (as `agent-trace sessions` prints) → the one session it starts."""
        if len(prefix) < 4:
            return None
        try:
            found = await client.sessions({"q": prefix, "limit": "50"})
        except ApiError:
            return None
        ids = [r["session_id"] for r in found["sessions"] if str(r["session_id"]).startswith(prefix)]
        return str(ids[0]) if len(ids) == 1 else None

    async def _choices() -> dict[str, list[str]]:
        """Values for the filter pickers: the projects, users and models of the last year."""
        today = date.today()
        try:
            cost = await client.cost_daily(
                {"since": (today - timedelta(days=364)).isoformat(), "until": today.isoformat()}
            )
        except ApiError:
            return {}
        return pages.choices_from(cost)

    async def _data_range(params: dict[str, str]) -> tuple[str, str]:
        """The cost page's default range: today back to the first day with data, at most a year
        (a fixed "last 30 days" showed an empty or nearly empty page for older data)."""
        today = date.today()
        since = today - timedelta(days=29)
        filters = {k: v for k, v in params.items() if k in FILTER_KEYS and k not in ("since", "until")}
        try:
            oldest = await client.sessions(
                {
                    **filters,
                    "since": (today - timedelta(days=364)).isoformat(),
                    "sort": "started",
                    "limit": "1",
                }
            )
        except ApiError:
            return since.isoformat(), today.isoformat()
        first = next((r["started_at"][:10] for r in oldest["sessions"] if r.get("started_at")), None)
        if first and first < since.isoformat():
            return first, today.isoformat()
        return since.isoformat(), today.isoformat()

    @router.get("/")
    @router.get("/sessions")
    async def sessions_page(request: Request) -> HTMLResponse:
        params = _query(request, LIST_KEYS)
        error: ApiError | None = None
        data: dict[str, Any] = {"sessions": [], "next_cursor": None, "sort": "-started"}
        try:
            data = await client.sessions(params)
        except ApiError as exc:
            if exc.status >= 500:
                return await dash.error_page(exc, "sessions")
            error = exc
        data["sessions"] = visible_rows(
            principal_of(request), data["sessions"], searched=bool(params.get("q"))
        )
        sort = data.get("sort") or "-started"
        filters = {k: v for k, v in params.items() if k in FILTER_KEYS}
        live_query = urlencode(filters)
        next_url = None
        if data.get("next_cursor"):
            next_url = "/?" + urlencode(
                {**{k: v for k, v in params.items() if k != "cursor"}, "cursor": data["next_cursor"]}
            )
        return await dash.page(
            "sessions.html",
            400 if error else 200,
            nav="sessions",
            params=params,
            rows=data["sessions"],
            sort=sort,
            error=error,
            next_url=next_url,
            first_page=not params.get("cursor"),
            live_url="/live/sessions" + (f"?{live_query}" if live_query else ""),
            sort_links=pages.sort_links(params, sort),
            choices={},  # filled on first use (/filter-choices): a year's totals cost a query
        )

    @router.get("/filter-choices")
    async def filter_choices() -> Response:
        """The filter boxes' value lists (datalists), fetched when a filter box is first used."""
        return await dash.page("_choices.html", choices=await _choices())

    def _replay_cards(
        replay: dict[str, Any], f: SessionFilter, open_index: int | None = None
    ) -> list[PromptCard]:
        builder = dash.builder(replay)
        if f.active:
            return builder.filtered_cards(filter_prompts(replay, f))
        return builder.cards(replay, open_index)

    def _session_filter(request: Request) -> SessionFilter:
        q = request.query_params
        return SessionFilter(
            q.get("tool", "").strip(), q.get("failed", "") in ("1", "on", "true"), q.get("model", "").strip()
        )

    @router.get("/sessions/{session_id}")
    async def replay_page(session_id: str, request: Request) -> Response:
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            full = await _unique_prefix(session_id) if exc.status == 404 else None
            if full:
                return RedirectResponse(f"/sessions/{quote(full, safe='')}", status_code=303)
            return await dash.error_page(exc, "sessions")
        f = _session_filter(request)
        opened = request.query_params.get("open", "")
        cards = await anyio.to_thread.run_sync(
            _replay_cards, replay, f, int(opened) if opened.isdigit() else None
        )
        return await dash.page(
            "replay.html",
            nav="sessions",
            replay=replay,
            cards=cards,
            sid=session_id,
            filter=f,
            choices=session_choices(replay),
            query=request.url.query,
            panel=outcome_panel(replay),
        )

    @router.get("/sessions/{session_id}/prompts/{prompt_id}")
    async def prompt_link(session_id: str, prompt_id: str, request: Request) -> Response:
        """A prompt by id (search results link here) → its card on the replay; `?tool=` → that
        tool call, with its card rendered open so the anchor exists."""
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            return await dash.error_page(exc, "sessions")
        ids = [p.get("prompt_id") for p in replay.get("prompts", [])]
        if prompt_id not in ids:
            missing = ApiError(404, "not_found", f"prompt_id: no prompt {prompt_id[:80]!r} in this session")
            return await dash.error_page(missing, "sessions")
        index = ids.index(prompt_id)
        base = f"/sessions/{quote(session_id, safe='')}"
        tool = request.query_params.get("tool", "")
        if tool:
            return RedirectResponse(f"{base}?open={index}#t-{quote(tool, safe='')}", status_code=303)
        return RedirectResponse(f"{base}?open={index}#p{index}", status_code=303)

    @router.get("/sessions/{session_id}/timeline")
    async def timeline_page(session_id: str, request: Request) -> Response:
        try:
            events = await client.timeline(session_id)
            rows = (await client.sessions({"limit": "1"}, [session_id]))["sessions"]
        except ApiError as exc:
            return await dash.error_page(exc, "sessions")
        if not rows:
            return await dash.error_page(
                ApiError(404, "not_found", "session_id: no such session"), "sessions"
            )
        q = request.query_params
        lo, hi = q.get("from_ms", ""), q.get("to_ms", "")
        window = (int(lo), int(hi) if hi.isdigit() else 2**62) if lo.isdigit() else None
        chart = await anyio.to_thread.run_sync(waterfall, session_id, events["events"], window)
        return await dash.page(
            "timeline.html", nav="sessions", row=rows[0], sid=session_id, chart=chart, window=window
        )

    @router.get("/search")
    async def search_page(request: Request) -> HTMLResponse:
        params = _query(request, ("q", "kind", "project", "user", "since", "until"))
        tz = _tz_from(request, ctx.settings.timezone)
        if tz:
            params["tz"] = tz
        result = None
        error = None
        if params.get("q"):
            try:
                found = await client.search({**params, "limit": str(SEARCH_LIMIT)})
                result = visible_hits(principal_of(request), found)
            except ApiError as exc:
                if exc.status >= 500:
                    return await dash.error_page(exc, "search")
                error = exc
        return await dash.page(
            "search.html",
            400 if error else 200,
            nav="search",
            params=params,
            result=result,
            error=error,
            limit=SEARCH_LIMIT,
            choices={},
        )

    @router.get("/sessions/{session_id}/live")
    async def replay_fragment(session_id: str, request: Request) -> Response:
        """Head and cards, for the script to merge when the session changes."""
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            return Response(status_code=exc.status, headers=NO_STORE)
        cards = await anyio.to_thread.run_sync(_replay_cards, replay, _session_filter(request))
        return await dash.page(
            "_replay_live.html",
            replay=replay,
            cards=cards,
            sid=session_id,
            query=request.url.query,
            panel=outcome_panel(replay),
        )

    @router.get("/sessions/{session_id}/cards/{index}")
    async def card_fragment(session_id: str, index: int, request: Request) -> Response:
        """A card's body (lazy open), or its next chunk of items (`?from=`, "show more")."""
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            return Response(status_code=exc.status, headers=NO_STORE)
        prompts = replay.get("prompts", [])
        if not 0 <= index < len(prompts):
            return Response(status_code=404, headers=NO_STORE)
        start_text = request.query_params.get("from")
        if start_text is not None and not start_text.isdigit():
            return Response(status_code=400, headers=NO_STORE)
        prompt = prompts[index]

        def build() -> PromptCard:
            builder = dash.builder(replay)
            builder.size_for(prompt)
            if start_text is None:
                return builder.card(index, prompt, True, True)
            card = builder.card(index, prompt, True, False)
            card.items, card.more_from, card.remaining = builder.items(prompt, int(start_text), CHUNK)
            return card

        card = await anyio.to_thread.run_sync(build)
        template = "_card_body.html" if start_text is None else "_card_chunk.html"
        return await dash.page(template, card=card, sid=session_id, root=replay["session"].get("project"))

    @router.get("/sessions/{session_id}/tools/{tool_use_id}")
    async def tool_page(session_id: str, tool_use_id: str, request: Request) -> Response:
        """A tool call on its own page, in full; `?part=body` = its body for a lazy view."""
        part = request.query_params.get("part")
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            if part:
                return Response(status_code=exc.status, headers=NO_STORE)
            return await dash.error_page(exc, "sessions")
        tool = pages.find_tool(replay, tool_use_id)
        if tool is None:
            if part:
                return Response(status_code=404, headers=NO_STORE)
            missing = ApiError(
                404,
                "not_found",
                f"tool_use_id: no tool call {tool_use_id[:80]!r} in this session",
                "tool_use_id",
            )
            return await dash.error_page(missing, "sessions")
        found: dict[str, Any] = tool

        def build() -> ToolNode:
            if part:
                return dash.builder(replay).tool_body(found)
            return dash.builder(replay, budget=None).tool(found, True)

        node = await anyio.to_thread.run_sync(build)
        if part:
            return await dash.page("_tool_body.html", node=node, sid=session_id)
        return await dash.page("tool.html", nav="sessions", node=node, sid=session_id, replay=replay)

    @router.get("/sessions/{session_id}/tool-bodies")
    async def tool_bodies(session_id: str, request: Request) -> Response:
        """Bodies of several lazy tool views at once (`?ids=a,b,…`, at most 200): what "unfold
        every tool call" of a big card asks for, instead of one request per tool call."""
        ids = [i for i in request.query_params.get("ids", "").split(",") if i][:MAX_BATCH]
        try:
            replay = await client.session(session_id)
        except ApiError as exc:
            return Response(status_code=exc.status, headers=NO_STORE)

        def build() -> list[ToolNode]:
            builder = dash.builder(replay)
            found = (pages.find_tool(replay, tool_use_id) for tool_use_id in ids)
            return [builder.tool_body(tool) for tool in found if tool is not None]

        nodes = await anyio.to_thread.run_sync(build)
        return await dash.page("_tool_bodies.html", nodes=nodes, sid=session_id)

    @router.get("/cost")
    async def cost_page(request: Request) -> HTMLResponse:
        params = _query(request, ("since", "until", "project", "user", "agent", "model"))
        if "since" not in params and "until" not in params:
            params["since"], params["until"] = await _data_range(params)
        tz = _tz_from(request, ctx.settings.timezone)
        if tz:
            params["tz"] = tz
        choices: dict[str, list[str]] = {}
        try:
            cost = await client.cost_daily(params)
            tools_params = {k: v for k, v in params.items() if k != "model"}
            tools = await client.tools(tools_params)
            top = await client.sessions(
                {**{k: v for k, v in params.items() if k != "tz"}, "sort": "-cost", "limit": "15"}
            )
        except ApiError as exc:
            if exc.status >= 500:
                return await dash.error_page(exc, "cost")
            return await dash.page(
                "cost.html", 400, nav="cost", params=params, error=exc, view=None, choices=choices
            )
        # Spend is an aggregate page (any role may see it), but a session's title is its first
        # prompt: content. With accounts, the ranking names sessions by id and project only.
        top_rows = top["sessions"]
        if ctx.settings.auth:
            top_rows = aggregate_rows(top_rows)
        view = await anyio.to_thread.run_sync(pages.cost_view, cost, tools, top_rows)
        choices = pages.choices_from(cost)
        return await dash.page(
            "cost.html",
            nav="cost",
            params=params,
            error=None,
            view=view,
            explicit_tz=bool(request.query_params.get("tz")),
            presets=pages.presets(params),
            cols=pages.RANKED_COLUMNS,
            choices=choices,
        )

    @router.get("/outcomes")
    async def outcomes_page(request: Request) -> HTMLResponse:
        params = _query(request, ("since", "until", "project", "user", "agent", "model"))
        tz = _tz_from(request, ctx.settings.timezone)
        if tz:
            params["tz"] = tz
        try:
            data = await client.outcomes(params)
            if ctx.settings.auth:
                data = {**data, "unshipped": aggregate_rows(data.get("unshipped") or [])}
        except ApiError as exc:
            if exc.status >= 500:
                return await dash.error_page(exc, "outcomes")
            return await dash.page("outcomes.html", 400, nav="outcomes", params=params, error=exc, view=None)
        return await dash.page(
            "outcomes.html", nav="outcomes", params=params, error=None, view=outcomes_page_view(data)
        )

    @router.get("/live/sessions")
    async def live(request: Request) -> Response:
        params = _query(request, FILTER_KEYS)
        ids = request.query_params.getlist("session_id")
        view = request.query_params.get("view", "row")
        sort = request.query_params.get("sort", "-started")
        last_id = request.headers.get("last-event-id") or request.query_params.get("last_event_id")
        try:
            # Checked here, before the stream starts: once it has, a 400 can no longer be sent.
            parse_session_query(params, ids, ctx.settings.timezone)
            parse_last_event_id(last_id)
        except ApiError as exc:
            return error_response(exc)

        def render_row(row: dict[str, Any]) -> str:
            return dash.render("_row.html", row=row, sort=sort)

        principal = principal_of(request)
        searched = bool(params.get("q"))

        async def relay() -> AsyncIterator[bytes]:
            yield b"retry: 1000\n" + sse_comment("connected")
            try:
                async for event in client.live(params, ids or None, last_id):
                    shown = visible_rows(principal, [event.row], searched=searched) if event.row else []
                    if event.row is not None and not shown:
                        if event.seq is not None:
                            yield f"id: {event.seq}\n\n".encode()
                    elif event.row is not None:
                        row = shown[0]
                        payload: dict[str, Any] = {"session_id": row["session_id"]}
                        if view == "row":
                            payload["html"] = await anyio.to_thread.run_sync(render_row, row)
                            payload["sort"] = sort_value(row, sort)
                        yield sse_event(payload, "session", event.seq)
                    elif event.seq is not None:
                        yield f"id: {event.seq}\n\n".encode()
                    else:
                        yield sse_comment("keepalive")
            except ApiError as exc:
                # The API went away mid-stream: tell the page, which reconnects (with its position).
                yield sse_event({"message": exc.message}, "upstream-error")

        return StreamingResponse(
            relay(), media_type="text/event-stream", headers={**NO_STORE, "X-Accel-Buffering": "no"}
        )

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
