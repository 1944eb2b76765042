"""`agent-trace report daily|weekly|monthly --by user|team|project [--csv]`: team analytics.

The same rows as the team page and `GET /v1/analytics/team` (reports/team.py), for whole local
days: `--since`/`--until` (default: the 30 days up to today). Exit 2 on a bad option.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from agent_trace.config import Settings
from agent_trace.reports.periods import PeriodError, SystemZone, parse_day, resolve_timezone
from agent_trace.store.port import Filters

if TYPE_CHECKING:
    from agent_trace.reports.team import TeamRow

DEFAULT_DAYS = 30


def cmd_team_report(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.cli.remote import remote_of

    if args.kind == "session":
        raise PeriodError("--by: use it with daily, weekly or monthly")
    tz = resolve_timezone(args.timezone or settings.timezone) or SystemZone()
    last = parse_day(args.until, "--until") if args.until else datetime.now(tz).date()
    first = parse_day(args.since, "--since") if args.since else last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise PeriodError("--since: must not be after --until")
    remote = remote_of(args, settings)
    if remote is not None:
        params = {
            "by": args.by,
            "period": args.kind,
            "since": first.isoformat(),
            "until": last.isoformat(),
            "tz": args.timezone or settings.timezone,
            "project": args.project,
            "model": args.model,
            "user": args.user,
            "start_of_week": args.start_of_week,
        }
        sent = {k: v for k, v in params.items() if v}
        if args.csv:
            # The server's own CSV export (audited there as an export).
            sys.stdout.write(remote.get_text("/v1/analytics/team.csv", sent))
            return 0
        rows: list[dict[str, Any]] = remote.get_json("/v1/analytics/team", sent)["rows"]
    else:
        found = _local_rows(args, settings, first, last, tz)
        if args.csv:
            from agent_trace.reports.team import to_csv

            sys.stdout.write(to_csv(found, args.by))
            return 0
        rows = [r.as_json() for r in found]
    if args.json:
        import orjson

        body = {"by": args.by, "period": args.kind, "since": first.isoformat(), "until": last.isoformat()}
        sys.stdout.write(orjson.dumps({**body, "rows": rows}, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    print_team_report(rows, args.by, args.kind, first, last)
    return 0


def _local_rows(
    args: argparse.Namespace, settings: Settings, first: date, last: date, tz: tzinfo
) -> list[TeamRow]:
    from agent_trace.reports.analytics import day_filters
    from agent_trace.reports.team import fetch_totals, memberships, team_report
    from agent_trace.store.factory import open_read_store
    from agent_trace.store.identity import identity_of

    base = Filters(project=args.project, model=args.model, user=args.user)
    store = open_read_store(settings.database_url, settings.events_url)
    try:
        filters, offsets = day_filters(first, last, tz, base)
        usage, activity, tools = fetch_totals(store, filters, offsets)
        teams_of: dict[str, list[str]] = {}
        if args.by == "team":
            teams_of = memberships([(t.team_id, t.members) for t in identity_of(store).teams()])
    finally:
        store.close()
    week_start = 6 if args.start_of_week == "sunday" else 0
    return team_report(
        usage, activity, tools, by=args.by, period=args.kind, teams_of=teams_of, week_start=week_start
    )


def print_team_report(rows: list[dict[str, Any]], by: str, period: str, first: date, last: date) -> None:
    """The rows in their JSON shape (TeamRow.as_json, the API's), local or from a server."""
    from rich.table import Table

    from agent_trace.cli.render import make_console, money, tokens

    table = Table(
        title=f"Team usage, {period} by {by} ({first} – {last})", title_justify="left", header_style="bold"
    )
    table.add_column({"daily": "Day", "weekly": "Week of", "monthly": "Month"}[period])
    table.add_column(by.capitalize())
    for name in ("Cost", "Tokens", "Sessions", "Prompts", "Tools", "Devs"):
        table.add_column(name, justify="right")
    table.add_column("Top models")
    table.add_column("Top tools")
    for r in rows:
        table.add_row(
            r["period"],
            r["group"],
            money(r["cost_nusd"], r["unpriced_calls"], r["llm_calls"]),
            tokens(r["total_tokens"]),
            f"{r['sessions']:,}",
            f"{r['prompts']:,}",
            f"{r['tool_calls']:,}",
            str(r["active_developers"]),
            ", ".join(r["top_models"]) or "–",
            ", ".join(r["top_tools"]) or "–",
        )
    make_console().print(table)
