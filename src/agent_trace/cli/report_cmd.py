"""`agent-trace report daily|weekly|monthly|session` and `agent-trace sessions`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from agent_trace.config import Settings
from agent_trace.domain.records import canonical_agent
from agent_trace.reports.periods import day_start_ms, parse_day, resolve_timezone
from agent_trace.store.port import Filters, SessionQuery, SessionSummary


def filters_from_args(args: argparse.Namespace, settings: Settings) -> tuple[Filters, Any, str]:
    tz_name = args.timezone or settings.timezone
    tz = resolve_timezone(tz_name)
    since_ms = until_ms = None
    if args.since:
        since_ms = day_start_ms(parse_day(args.since, "--since"), tz)
    if args.until:
        from datetime import timedelta

        until_ms = day_start_ms(parse_day(args.until, "--until") + timedelta(days=1), tz)
    filters = Filters(
        since_ms=since_ms,
        until_ms=until_ms,
        project=getattr(args, "project", None),
        model=getattr(args, "model", None),
        user=getattr(args, "user", None),
        agent=canonical_agent(getattr(args, "agent", None)),
    )
    return filters, tz, tz_name or "local"


def _write_json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _all_sessions(store: Any, filters: Filters) -> list[SessionSummary]:
    sessions: list[SessionSummary] = []
    cursor = None
    while True:
        page = store.list_sessions(SessionQuery(filters=filters, sort="-started", limit=1000, cursor=cursor))
        sessions.extend(page.sessions)
        if not page.next_cursor:
            return sessions
        cursor = page.next_cursor


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.store.factory import open_read_store

    filters, tz, tz_name = filters_from_args(args, settings)
    store = open_read_store(settings)
    try:
        if args.kind == "session":
            from agent_trace.reports.usage import SessionReport

            report = SessionReport(_all_sessions(store, filters))
            if args.json:
                _write_json(report.as_json())
            else:
                from agent_trace.cli.tables import print_session_report

                print_session_report(report, tz)
            return 0
        from agent_trace.reports.usage import period_report

        report_p = period_report(
            args.kind,
            store.usage_buckets(filters),
            store.activity_buckets(filters),
            tz,
            tz_name,
            week_start=6 if args.start_of_week == "sunday" else 0,
        )
    finally:
        store.close()
    if args.json:
        _write_json(report_p.as_json())
    else:
        from agent_trace.cli.tables import print_period_report

        print_period_report(report_p, breakdown=args.breakdown, filters=filters)
    return 0


def cmd_sessions(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.store.factory import open_read_store

    filters, tz, _tz_name = filters_from_args(args, settings)
    if args.limit < 1:
        print("agent-trace sessions: --limit must be at least 1", file=sys.stderr)
        return 2
    store = open_read_store(settings)
    try:
        sessions: list[SessionSummary] = []
        cursor = None
        while len(sessions) < args.limit:
            page = store.list_sessions(
                SessionQuery(
                    filters=filters,
                    text=args.search,
                    sort="-started",
                    limit=min(args.limit - len(sessions), 1000),
                    cursor=cursor,
                )
            )
            sessions.extend(page.sessions)
            cursor = page.next_cursor
            if not cursor:
                break
    finally:
        store.close()
    if args.json:
        from agent_trace.reports.usage import SessionReport

        _write_json(SessionReport(sessions).as_json())
        return 0
    from agent_trace.cli.tables import print_sessions

    print_sessions(sessions, tz)
    return 0
