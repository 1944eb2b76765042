"""API routes of identity and team analytics: `/v1/me`, `/v1/users`, `/v1/teams`, `/v1/audit`,
`/v1/analytics/team` (+ `.csv`). Who may call which is in server/access.py `ROUTE_NEEDS`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from agent_trace.domain.audit_chain import chain_json, verify_chain
from agent_trace.reports.analytics import day_filters
from agent_trace.reports.csvtext import to_csv as to_csv_rows
from agent_trace.reports.team import BY, PERIODS, TeamRow, fetch_totals, memberships, team_report, to_csv
from agent_trace.server.access import principal_of
from agent_trace.server.api import models_ops as ops
from agent_trace.server.api.params import DayRange, bad, parse_day_range
from agent_trace.server.api.queries import Days, DaysModel
from agent_trace.server.api.responses import json_response
from agent_trace.server.context import AppContext
from agent_trace.store.identity import IdentityStore, identity_of
from agent_trace.store.port import RecordReader

TeamBy = Annotated[str | None, Query(description="user | team | project (default user)")]
Period = Annotated[str | None, Query(description="daily | weekly | monthly (default daily)")]
WeekStart = Annotated[str | None, Query(description="weekly rows start on monday (default) or sunday")]
WEEK_STARTS = {"monday": 0, "sunday": 6}


# The CSV of the cost and tool views: one row per day / per tool, the JSON's scalar fields.
COST_CSV_COLUMNS = (
    "date",
    "cost_usd",
    "llm_calls",
    "unpriced_calls",
    "input_tokens",
    "output_tokens",
    "cache_creation_5m_tokens",
    "cache_creation_1h_tokens",
    "cache_read_tokens",
    "total_tokens",
    "prompts",
    "tool_calls",
    "tool_errors",
    "sessions",
)
TOOLS_CSV_COLUMNS = ("tool_name", "is_mcp", "calls", "errors", "error_rate", "duration_ms", "avg_duration_ms")


def cost_csv(data: dict[str, Any]) -> str:
    return to_csv_rows(COST_CSV_COLUMNS, data["days"])


def tools_csv(data: dict[str, Any]) -> str:
    return to_csv_rows(TOOLS_CSV_COLUMNS, data["tools"])


def team_rows(
    store: RecordReader, days: DayRange, by: str, period: str, week_start: int = 0
) -> list[TeamRow]:
    """The team analytics of a day range (API, dashboard and their CSV share this)."""
    filters, offsets = day_filters(days.first, days.last, days.tz, days.filters)
    usage, activity, tools = fetch_totals(store, filters, offsets)
    teams_of: dict[str, list[str]] = {}
    if by == "team":
        teams_of = memberships([(t.team_id, t.members) for t in identity_of(store).teams()])
    return team_report(usage, activity, tools, by=by, period=period, teams_of=teams_of, week_start=week_start)


def parse_team_params(by: str | None, period: str | None) -> tuple[str, str]:
    by = (by or "user").strip()
    period = (period or "daily").strip()
    if by not in BY:
        raise bad("by", f"{by[:20]!r}: must be one of {', '.join(BY)}")
    if period not in PERIODS:
        raise bad("period", f"{period[:20]!r}: must be one of {', '.join(PERIODS)}")
    return by, period


# A CSV download's entry in /openapi.json.
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}, "description": "CSV, one row per line"}
}


def csv_response(text: str, name: str) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def audit_json(identity: IdentityStore, since_ms: int | None, limit: int) -> dict[str, Any]:
    rows = identity.audit_rows()
    problems = verify_chain(rows, identity.audit_head())
    return {
        "entries": [e.as_json() for e in identity.audit_entries(since_ms=since_ms, limit=limit)],
        "chain": chain_json(len(rows), problems),
    }


async def team_query(
    request: Request,
    filters: DaysModel,
    by: TeamBy = None,
    period: Period = None,
    start_of_week: WeekStart = None,
) -> tuple[str, list[TeamRow]]:
    """The team view's parameters (JSON and CSV alike) → the chosen grouping and its rows."""
    ctx: AppContext = request.app.state.ctx
    chosen_by, chosen_period = parse_team_params(by, period)
    week_start = WEEK_STARTS.get((start_of_week or "monday").strip())
    if week_start is None:
        raise bad("start_of_week", "must be monday or sunday")
    days = parse_day_range(filters, ctx.settings.timezone)
    rows = await anyio.to_thread.run_sync(team_rows, ctx.store, days, chosen_by, chosen_period, week_start)
    return chosen_by, rows


Team = Annotated[tuple[str, list[TeamRow]], Depends(team_query)]


def add_identity_routes(router: APIRouter, ctx: AppContext) -> None:
    store = ctx.store
    default_tz = ctx.settings.timezone

    @router.get("/me", tags=["identity"], response_model=ops.Me, summary="Who you are, your role and teams")
    async def me(request: Request) -> Response:
        p = principal_of(request)
        return json_response(
            {"user": p.user_id, "role": p.role.value, "teams": list(p.teams), "auth": ctx.settings.auth}
        )

    async def listed(fetch: Callable[[], Sequence[Any]]) -> Response:
        found = await anyio.to_thread.run_sync(fetch)
        return json_response([item.as_json() for item in found])

    @router.get(
        "/users", tags=["identity"], response_model=list[ops.Account], summary="Every account (admin)"
    )
    async def users() -> Response:
        return await listed(identity_of(store).accounts)

    @router.get(
        "/teams",
        tags=["identity"],
        response_model=list[ops.TeamInfo],
        summary="Every team and its members (admin)",
    )
    async def teams() -> Response:
        return await listed(identity_of(store).teams)

    @router.get(
        "/audit",
        tags=["identity"],
        response_model=ops.Audit,
        summary="The audit log, oldest first, and whether its hash chain is intact (admin)",
    )
    async def audit(
        since: Annotated[str | None, Query(description="epoch ms, or a day 2026-02-11 (UTC)")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000, description="the newest N entries")] = 1000,
    ) -> Response:
        since_ms = parse_audit_since(since)
        return json_response(await anyio.to_thread.run_sync(audit_json, identity_of(store), since_ms, limit))

    @router.get(
        "/analytics/team",
        tags=["analytics"],
        response_model=ops.TeamAnalytics,
        summary="Spend, tokens, sessions, active developers, top tools and models per period and group",
    )
    async def team(found: Team) -> Response:
        chosen_by, rows = found
        return json_response({"by": chosen_by, "rows": [r.as_json() for r in rows]})

    @router.get(
        "/analytics/team.csv", tags=["analytics"], responses=CSV, summary="The same as CSV (a download)"
    )
    async def team_csv(found: Team) -> Response:
        chosen_by, rows = found
        return csv_response(to_csv(rows, chosen_by), f"agent-trace-team-by-{chosen_by}.csv")

    @router.get(
        "/analytics/cost/daily.csv",
        tags=["analytics"],
        responses=CSV,
        summary="Spend, tokens and activity per local day as CSV (a download)",
    )
    async def cost_daily_csv(filters: DaysModel) -> Response:
        from agent_trace.server.api import service

        days = parse_day_range(filters, default_tz)
        data = await anyio.to_thread.run_sync(service.analytics_cost_daily, store, days)
        return csv_response(cost_csv(data), "agent-trace-cost-daily.csv")

    @router.get(
        "/analytics/tools.csv",
        tags=["analytics"],
        responses=CSV,
        summary="Tool calls, errors and time per tool as CSV",
    )
    async def tools_csv_route(filters: Days) -> Response:
        from agent_trace.server.api import service

        days = parse_day_range(filters, default_tz)
        data = await anyio.to_thread.run_sync(service.analytics_tools, store, days)
        return csv_response(tools_csv(data), "agent-trace-tools.csv")


def parse_audit_since(since: str | None) -> int | None:
    """`since` of /v1/audit: epoch ms, or a UTC day."""
    if not since:
        return None
    text = since.strip()
    if text.isdigit():
        return int(text)
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise bad("since", f"{text[:40]!r}: epoch ms or a day like 2026-02-11") from None
    return (day - date(1970, 1, 1)).days * 86_400_000
