"""The API role (port 8318): sessions, replay, timeline, live stream, analytics. JSON + SSE.

The answer cache (shared with the in-process dashboard) and the ChangeHub behind
`/v1/sessions/stream` (one store poll for all listeners) come from server/wiring.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, TypeVar

import anyio
import orjson
from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from agent_trace.reports.timeline import KINDS
from agent_trace.server import wiring
from agent_trace.server.access import aggregate_rows, principal_of, visible_hits, visible_rows
from agent_trace.server.api import models, service
from agent_trace.server.api.budgets import budget_router
from agent_trace.server.api.params import (
    bad,
    parse_breakdown,
    parse_day_range,
    parse_last_event_id,
    parse_search_query,
    parse_session_query,
)
from agent_trace.server.api.queries import Days, DaysModel, Window, WindowModel, given
from agent_trace.server.api.responses import json_response, raw_json_response
from agent_trace.server.api.stream import session_events
from agent_trace.server.context import AppContext
from agent_trace.server.heap import settle_heap
from agent_trace.server.security import API_CSP, SecurityMiddleware, SecurityPolicy
from agent_trace.server.timing import ServerTimingMiddleware

T = TypeVar("T")

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": models.ErrorResponse, "description": "a parameter is invalid (`error.field` names it)"},
    401: {
        "model": models.ErrorResponse,
        "description": "no valid token (AGENT_TRACE_DASHBOARD_TOKEN, or with auth on a personal token)",
    },
    403: {"model": models.ErrorResponse, "description": "auth on: your role may not read this"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    404: {"model": models.ErrorResponse, "description": "no such session"},
}


async def run(fn: Callable[..., T], *args: Any) -> T:
    return await anyio.to_thread.run_sync(fn, *args)


def build_router(ctx: AppContext) -> APIRouter:
    from agent_trace.server.api.identity_routes import add_identity_routes
    from agent_trace.server.api.rollup_routes import add_rollup_routes

    router = APIRouter(prefix="/v1")
    add_session_routes(router, ctx)
    add_replay_routes(router, ctx)
    add_analytics_routes(router, ctx)
    add_identity_routes(router, ctx)
    add_rollup_routes(router, ctx)
    router.include_router(budget_router(ctx))
    return router


def add_session_routes(router: APIRouter, ctx: AppContext) -> None:
    """The session list and its live stream."""
    store = ctx.store
    default_tz = ctx.settings.timezone
    config = wiring.stream_config(ctx)
    hub = wiring.change_hub(ctx)

    @router.get(
        "/sessions",
        response_model=models.SessionList,
        responses=ERRORS,
        tags=["sessions"],
        summary="Sessions, latest first, with summary metrics",
    )
    async def list_sessions(
        request: Request,
        filters: WindowModel,
        q: Annotated[
            str | None, Query(description="free text over id, title, project, branch and prompts")
        ] = None,
        sort: Annotated[
            str | None,
            Query(
                description="started | updated | activity | cost | tokens | prompts | tool_calls | duration | "
                "user | repo; "
                "'-' prefix = descending (default -started)"
            ),
        ] = None,
        limit: Annotated[str | None, Query(description="rows per page, 1–500 (default 50)")] = None,
        cursor: Annotated[str | None, Query(description="`next_cursor` of the previous page")] = None,
        session_id: Annotated[
            list[str] | None, Query(description="only these sessions (repeat, or comma-separated)")
        ] = None,
    ) -> Response:
        params = {**filters, **given(q=q, sort=sort, limit=limit, cursor=cursor)}
        parsed = parse_session_query(params, session_id, default_tz)
        listed = await run(service.list_sessions, store, parsed)
        listed["sessions"] = visible_rows(principal_of(request), listed["sessions"], searched=bool(q))
        return json_response(listed)

    @router.get(
        "/sessions/stream",
        responses={
            200: {
                "description": "Server-Sent Events. `event: session`, `id:` = change sequence, "
                "`data:` = a SessionRow (JSON). Comments (`: keepalive`) are heartbeats. Reconnect "
                "with `Last-Event-ID` to resume; without it the stream starts at the present.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **ERRORS,
        },
        tags=["sessions"],
        summary="Live: a row each time a session (matching the filters) changes",
    )
    async def stream_sessions(
        request: Request,
        filters: WindowModel,
        q: Annotated[str | None, Query(description="free text, as for /v1/sessions")] = None,
        session_id: Annotated[
            list[str] | None, Query(description="only these sessions (e.g. the one being replayed)")
        ] = None,
        last_event_id: Annotated[
            str | None, Header(alias="Last-Event-ID", description="resume after this change sequence")
        ] = None,
        last_event_id_param: Annotated[
            str | None,
            Query(alias="last_event_id", description="the same, for clients that cannot set headers"),
        ] = None,
    ) -> StreamingResponse:
        base = parse_session_query({**filters, **given(q=q)}, session_id, default_tz).query
        start = parse_last_event_id(last_event_id if last_event_id is not None else last_event_id_param)

        principal = principal_of(request)

        async def rows(ids: list[str]) -> dict[str, dict[str, Any]]:
            found = await run(service.session_rows_for, store, base, ids)
            # A viewer's stream carries no content (server/access.py decides, row by row).
            return {r["session_id"]: r for r in visible_rows(principal, found.values(), searched=bool(q))}

        return StreamingResponse(
            session_events(hub, store, config, start, rows),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )


def add_replay_routes(router: APIRouter, ctx: AppContext) -> None:
    """One session (replay, timeline) and full-text search."""
    store = ctx.store
    default_tz = ctx.settings.timezone
    cache = wiring.answer_cache(ctx)

    # `:path`: ids stored before ids were limited to URL-safe characters may hold a `/`; a
    # client sends it percent-encoded (`a%2Fb`), which routing sees decoded.
    @router.get(
        "/sessions/{session_id:path}",
        response_model=models.Replay,
        responses=NOT_FOUND,
        tags=["sessions"],
        summary="The full replay: prompts → LLM calls and tool calls, subagents nested, files, commits",
    )
    async def get_session(session_id: str) -> Response:
        if len(session_id) > 200:
            raise bad("session_id", "at most 200 characters")
        return raw_json_response(await run(service.session_replay_json, store, session_id, cache))

    @router.get(
        "/timeline",
        response_model=models.Timeline,
        responses=NOT_FOUND,
        tags=["sessions"],
        summary="A session's events in time order",
    )
    async def timeline(
        session_id: Annotated[str | None, Query(description="the session (required)")] = None,
        kind: Annotated[
            list[str] | None,
            Query(description=f"only these kinds (repeat or comma-separate): {', '.join(KINDS)}"),
        ] = None,
    ) -> Response:
        if not session_id or not session_id.strip():
            raise bad("session_id", "required")
        if len(session_id) > 200:
            raise bad("session_id", "at most 200 characters")
        kinds: set[str] = set()
        for value in kind or []:
            kinds.update(k.strip() for k in value.split(",") if k.strip())
        unknown = sorted(kinds - set(KINDS))
        if unknown:
            raise bad("kind", f"{', '.join(unknown)}: must be one of {', '.join(KINDS)}")
        return json_response(
            await run(service.session_timeline, store, session_id.strip(), frozenset(kinds) or None)
        )

    @router.get(
        "/search",
        response_model=models.SearchResults,
        responses=ERRORS,
        tags=["sessions"],
        summary="Full-text search over prompts, tool calls (input, output, error) and responses",
    )
    async def search(
        request: Request,
        window: Window,
        q: Annotated[
            str | None,
            Query(
                description="words; each whitespace-separated term is a phrase of its words, all "
                "terms must match, the last also as a prefix"
            ),
        ] = None,
        kind: Annotated[
            str | None, Query(description="prompt, tool_call, response (comma-separated)")
        ] = None,
        limit: Annotated[str | None, Query(description="hits, 1–200 (default 50)")] = None,
    ) -> Response:
        params = {**given(q=q, kind=kind), **window, **given(limit=limit)}
        found = await run(service.search, store, parse_search_query(params, default_tz))
        return json_response(visible_hits(principal_of(request), found))


def add_analytics_routes(router: APIRouter, ctx: AppContext) -> None:
    """Cost per day, tools and outcomes over whole local days (answers cached as bytes)."""
    store = ctx.store
    default_tz = ctx.settings.timezone
    cache = wiring.answer_cache(ctx)

    @router.get(
        "/analytics/cost/daily",
        response_model=models.CostDaily,
        responses=ERRORS,
        tags=["analytics"],
        summary="Spend, tokens and activity per local day, by model, project and user",
    )
    async def cost_daily(
        filters: DaysModel,
        breakdown: Annotated[
            list[str] | None,
            Query(
                description="per-day splits besides the model's: project, user (repeat or comma-separate); "
                "the range's splits by model, project and user are always there"
            ),
        ] = None,
    ) -> Response:
        days = parse_day_range(filters, default_tz)
        return raw_json_response(
            await run(service.analytics_cost_daily_json, store, days, parse_breakdown(breakdown), cache)
        )

    @router.get(
        "/analytics/tools",
        response_model=models.ToolAnalytics,
        responses=ERRORS,
        tags=["analytics"],
        summary="Tool calls, errors and time per tool (and per day)",
    )
    async def tools(filters: Days) -> Response:
        days = parse_day_range(filters, default_tz)
        return raw_json_response(await run(service.analytics_tools_json, store, days, cache))

    @router.get(
        "/analytics/outcomes",
        response_model=models.OutcomeAnalytics,
        responses=ERRORS,
        tags=["analytics"],
        summary="Cost per commit, per merged PR, per agent-authored line kept; sessions that shipped nothing",
    )
    async def outcomes(filters: DaysModel) -> Response:
        days = parse_day_range(filters, default_tz)
        data = await run(service.analytics_outcomes_json, store, days, cache)
        if not ctx.settings.auth:
            return raw_json_response(data)
        report = orjson.loads(data)
        return json_response({**report, "unshipped": aggregate_rows(report["unshipped"])})


def install(app: FastAPI, ctx: AppContext) -> None:
    from agent_trace.server import access

    app.include_router(build_router(ctx))
    access.install(app, ctx, "api")  # inside the security middleware: its headers cover refusals
    policy = SecurityPolicy(
        csp=API_CSP,
        # With auth on, personal tokens replace the one shared dashboard token.
        token=None if ctx.settings.auth else ctx.settings.dashboard_token,
        bind_host=ctx.settings.host,
        allowed_hosts=ctx.settings.allowed_hosts,
        open_paths=("/health", "/openapi.json"),
        allow_cookie=False,
        login_path=None,
    )
    app.add_middleware(SecurityMiddleware, policy=policy)
    app.add_middleware(ServerTimingMiddleware)

    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with previous(application) as state:
            settle_heap()
            yield state
        await hub.close()

    hub = wiring.change_hub(ctx)
    app.router.lifespan_context = lifespan
