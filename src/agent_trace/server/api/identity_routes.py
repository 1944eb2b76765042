"""API routes of identity and team analytics: `/v1/me`, `/v1/users`, `/v1/teams`, `/v1/audit`,
`/v1/analytics/team` (+ `.csv`). Who may call which is in server/access.py `ROUTE_NEEDS`."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import anyio
import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from agent_trace.domain.audit_chain import verify_chain
from agent_trace.reports.csvtext import to_csv as to_csv_rows
from agent_trace.reports.team import BY, PERIODS, TeamRow, fetch_totals, memberships, team_report, to_csv
from agent_trace.server.access import principal_of
from agent_trace.server.api.analytics import day_filters
from agent_trace.server.api.params import DayRange, bad, parse_day_range
from agent_trace.server.context import AppContext
from agent_trace.store.identity import IdentityStore, identity_of
from agent_trace.store.port import RecordReader

TeamBy = Annotated[str | None, Query(description="user | team | project (default user)")]
Period = Annotated[str | None, Query(description="daily | weekly | monthly (default daily)")]
Day = Annotated[str | None, Query(description="a local day, 2026-02-11")]
Tz = Annotated[str | None, Query(description="IANA time zone for days")]
Text = Annotated[str | None, Query()]


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


def team_rows(store: RecordReader, days: DayRange, by: str, period: str) -> list[TeamRow]:
    """The team analytics of a day range (API, dashboard and their CSV share this)."""
    filters, offsets = day_filters(days.first, days.last, days.tz, days.filters)
    usage, activity, tools = fetch_totals(store, filters, offsets)
    teams_of: dict[str, list[str]] = {}
    if by == "team":
        teams_of = memberships([(t.team_id, t.members) for t in identity_of(store).teams()])
    return team_report(usage, activity, tools, by=by, period=period, teams_of=teams_of)


def parse_team_params(by: str | None, period: str | None) -> tuple[str, str]:
    by = (by or "user").strip()
    period = (period or "daily").strip()
    if by not in BY:
        raise bad("by", f"{by[:20]!r}: must be one of {', '.join(BY)}")
    if period not in PERIODS:
        raise bad("period", f"{period[:20]!r}: must be one of {', '.join(PERIODS)}")
    return by, period


def csv_response(text: str, name: str) -> Response:
    return Response(
        text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def audit_json(identity: IdentityStore, since_ms: int | None, limit: int) -> dict[str, Any]:
    problems = verify_chain(identity.audit_rows(), identity.audit_head())
    return {
        "entries": [e.as_json() for e in identity.audit_entries(since_ms=since_ms, limit=limit)],
        "chain": {"ok": not problems, "problems": [{"seq": p.seq, "message": p.message} for p in problems]},
    }


def add_identity_routes(router: APIRouter, ctx: AppContext) -> None:
    store = ctx.store
    default_tz = ctx.settings.timezone

    @router.get("/me", tags=["identity"], summary="Who you are, your role and teams")
    async def me(request: Request) -> Response:
        p = principal_of(request)
        body = {"user": p.user_id, "role": p.role.value, "teams": list(p.teams), "auth": ctx.settings.auth}
        return Response(orjson.dumps(body), media_type="application/json")

    @router.get("/users", tags=["identity"], summary="Every account (admin)")
    async def users() -> Response:
        accounts = await anyio.to_thread.run_sync(identity_of(store).accounts)
        return Response(orjson.dumps([a.as_json() for a in accounts]), media_type="application/json")

    @router.get("/teams", tags=["identity"], summary="Every team and its members (admin)")
    async def teams() -> Response:
        found = await anyio.to_thread.run_sync(identity_of(store).teams)
        return Response(orjson.dumps([t.as_json() for t in found]), media_type="application/json")

    @router.get(
        "/audit",
        tags=["identity"],
        summary="The audit log, oldest first, and whether its hash chain is intact (admin)",
    )
    async def audit(
        since: Annotated[str | None, Query(description="epoch ms, or a day 2026-02-11 (UTC)")] = None,
        limit: Annotated[int, Query(ge=1, le=10_000, description="the newest N entries")] = 1000,
    ) -> Response:
        since_ms = None
        if since:
            text = since.strip()
            if text.isdigit():
                since_ms = int(text)
            else:
                try:
                    day = date.fromisoformat(text)
                except ValueError:
                    raise bad("since", f"{text[:40]!r}: epoch ms or a day like 2026-02-11") from None
                since_ms = (day - date(1970, 1, 1)).days * 86_400_000
        body = await anyio.to_thread.run_sync(audit_json, identity_of(store), since_ms, limit)
        return Response(orjson.dumps(body), media_type="application/json")

    def days_of(**values: str | None) -> DayRange:
        """The day range and filters of the given query parameters (absent ones left out)."""
        return parse_day_range({k: v for k, v in values.items() if v}, default_tz)

    async def _team(
        since: str | None,
        until: str | None,
        tz: str | None,
        project: str | None,
        user: str | None,
        by: str | None,
        period: str | None,
    ) -> tuple[str, list[TeamRow]]:
        chosen_by, chosen_period = parse_team_params(by, period)
        days = days_of(since=since, until=until, tz=tz, project=project, user=user)
        rows = await anyio.to_thread.run_sync(team_rows, store, days, chosen_by, chosen_period)
        return chosen_by, rows

    @router.get(
        "/analytics/team",
        tags=["analytics"],
        summary="Spend, tokens, sessions, active developers, top tools and models per period and group",
    )
    async def team(
        since: Day = None,
        until: Day = None,
        tz: Tz = None,
        project: Text = None,
        user: Text = None,
        by: TeamBy = None,
        period: Period = None,
    ) -> Response:
        chosen_by, rows = await _team(since, until, tz, project, user, by, period)
        body = {"by": chosen_by, "rows": [r.as_json() for r in rows]}
        return Response(orjson.dumps(body), media_type="application/json")

    @router.get(
        "/analytics/cost/daily.csv",
        tags=["analytics"],
        summary="Spend, tokens and activity per local day as CSV (a download)",
    )
    async def cost_daily_csv(
        since: Day = None,
        until: Day = None,
        tz: Tz = None,
        project: Text = None,
        user: Text = None,
        agent: Text = None,
        model: Text = None,
    ) -> Response:
        from agent_trace.server.api import service

        days = days_of(since=since, until=until, tz=tz, project=project, user=user, agent=agent, model=model)
        data = await anyio.to_thread.run_sync(service.analytics_cost_daily, store, days)
        return csv_response(cost_csv(data), "agent-trace-cost-daily.csv")

    @router.get(
        "/analytics/tools.csv", tags=["analytics"], summary="Tool calls, errors and time per tool as CSV"
    )
    async def tools_csv_route(
        since: Day = None,
        until: Day = None,
        tz: Tz = None,
        project: Text = None,
        user: Text = None,
        agent: Text = None,
    ) -> Response:
        from agent_trace.server.api import service

        days = days_of(since=since, until=until, tz=tz, project=project, user=user, agent=agent)
        data = await anyio.to_thread.run_sync(service.analytics_tools, store, days)
        return csv_response(tools_csv(data), "agent-trace-tools.csv")

    @router.get("/analytics/team.csv", tags=["analytics"], summary="The same as CSV (a download)")
    async def team_csv(
        since: Day = None,
        until: Day = None,
        tz: Tz = None,
        project: Text = None,
        user: Text = None,
        by: TeamBy = None,
        period: Period = None,
    ) -> Response:
        chosen_by, rows = await _team(since, until, tz, project, user, by, period)
        return csv_response(to_csv(rows, chosen_by), f"agent-trace-team-by-{chosen_by}.csv")
