"""The overview pages: the session list (and its live stream), search, cost and outcomes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from agent_trace.server.access import (
    aggregate_rows,
    principal_of,
    visible_hits,
    visible_rows,
)
from agent_trace.server.api.params import parse_last_event_id, parse_session_query
from agent_trace.server.api.stream import sse_comment, sse_event
from agent_trace.server.context import AppContext
from agent_trace.server.dashboard import pages
from agent_trace.server.dashboard.core import (
    FILTER_KEYS,
    LIST_KEYS,
    NO_STORE,
    SEARCH_LIMIT,
    Dashboard,
    add_tz,
    query_of,
)
from agent_trace.server.dashboard.formatting import sort_value
from agent_trace.server.dashboard.outcome_view import outcomes_page as outcomes_page_view
from agent_trace.server.errors import ApiError, error_response


def add_overview_pages(router: APIRouter, ctx: AppContext, dash: Dashboard) -> None:
    client = dash.client

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

    @router.get("/")
    @router.get("/sessions")
    async def sessions_page(request: Request) -> HTMLResponse:
        params = query_of(request, LIST_KEYS)
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

    @router.get("/live/sessions")
    async def live(request: Request) -> Response:
        params = query_of(request, FILTER_KEYS)
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


def add_report_pages(router: APIRouter, ctx: AppContext, dash: Dashboard) -> None:
    """Search, Cost and Outcomes."""
    client = dash.client

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

    @router.get("/search")
    async def search_page(request: Request) -> HTMLResponse:
        params = query_of(request, ("q", "kind", "project", "user", "since", "until"))
        add_tz(params, request, ctx.settings.timezone)
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

    @router.get("/cost")
    async def cost_page(request: Request) -> HTMLResponse:
        params = query_of(request, ("since", "until", "project", "user", "agent", "model"))
        if "since" not in params and "until" not in params:
            params["since"], params["until"] = await _data_range(params)
        add_tz(params, request, ctx.settings.timezone)
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
        params = query_of(request, ("since", "until", "project", "user", "agent", "model"))
        add_tz(params, request, ctx.settings.timezone)
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
