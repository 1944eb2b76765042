"""`agent-trace report daily|weekly|monthly|session` and `agent-trace sessions`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import orjson

from agent_trace.cli.errors import EXIT_USAGE, CliError
from agent_trace.cli.render import cli_timezone
from agent_trace.config import Settings
from agent_trace.domain.records import canonical_agent
from agent_trace.reports.periods import PeriodError, day_start_ms, parse_day
from agent_trace.store.port import Filters, RecordReader, SessionQuery, SessionSummary


def filters_from_args(args: argparse.Namespace, settings: Settings) -> tuple[Filters, Any, str]:
    tz, tz_name = cli_timezone(args.timezone, settings.timezone)
    since_ms = until_ms = None
    if args.since:
        since_ms = day_start_ms(parse_day(args.since, "--since"), tz)
    if args.until:
        from datetime import timedelta

        until_ms = day_start_ms(parse_day(args.until, "--until") + timedelta(days=1), tz)
    if since_ms is not None and until_ms is not None and since_ms >= until_ms:
        raise PeriodError(f"--since {args.since} is after --until {args.until}: the range is empty")
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


def _all_sessions(store: RecordReader, filters: Filters) -> list[SessionSummary]:
    sessions: list[SessionSummary] = []
    cursor = None
    while True:
        page = store.list_sessions(SessionQuery(filters=filters, sort="-started", limit=1000, cursor=cursor))
        sessions.extend(page.sessions)
        if not page.next_cursor:
            return sessions
        cursor = page.next_cursor


def unpriced_reasons(models: set[str], settings: Settings) -> dict[str, str]:
    """Why each unpriced model is unpriced (the price book is loaded only when one is)."""
    if not models:
        return {}
    from agent_trace.ingest.prices import price_book

    book = price_book(settings.price_override_file)
    return {model: book.explain(model) for model in sorted(models)}


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.cli.remote import open_reads

    if getattr(args, "csv", False) and not getattr(args, "by", None):
        print("agent-trace report: --csv goes with --by user|team|project", file=sys.stderr)
        return 2
    if getattr(args, "by", None):
        from agent_trace.cli.team_report import cmd_team_report

        return cmd_team_report(args, settings)

    filters, tz, tz_name = filters_from_args(args, settings)
    if args.kind == "outcomes":
        return _outcomes(args, settings, filters, tz, tz_name)
    store = open_reads(args, settings)
    try:
        if args.kind == "session":
            from agent_trace.reports.reconcile import reconcile
            from agent_trace.reports.usage import SessionReport

            report = SessionReport(_all_sessions(store, filters))
            report.unpriced_reasons = unpriced_reasons(report.unpriced_models(), settings)
            report.reconciliation = reconcile(store.reported_calls([s.session_id for s in report.sessions]))
            if args.json:
                _write_json(report.as_json())
            else:
                from agent_trace.cli.tables import print_session_report

                print_session_report(report, tz, filters)
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
    report_p.unpriced_reasons = unpriced_reasons(report_p.totals.unpriced_models, settings)
    if args.json:
        _write_json(report_p.as_json())
    else:
        from agent_trace.cli.tables import print_period_report

        print_period_report(report_p, breakdown=args.breakdown, filters=filters)
    return 0


def _outcomes(args: argparse.Namespace, settings: Settings, filters: Filters, tz: Any, tz_name: str) -> int:
    from agent_trace.cli.remote import remote_of

    remote = remote_of(args, settings)
    if remote is not None:
        # The server's outcomes (its `unshipped` rows carry no content: they are aggregates).
        from agent_trace.cli.remote_reads import filter_params

        params = filter_params(filters)
        params.update({k: v for k, v in (("since", args.since), ("until", args.until), ("tz", tz_name)) if v})
        if tz_name == "local":
            del params["tz"]
        data = remote.get_json("/v1/analytics/outcomes", params)
    else:
        from agent_trace.reports.outcomes import outcomes_report
        from agent_trace.store.factory import open_read_store

        store = open_read_store(settings.database_url, settings.events_url)
        try:
            data = outcomes_report(store, filters, tz, tz_name, args.since, args.until)
        finally:
            store.close()
    if args.json:
        _write_json(data)
    else:
        from agent_trace.cli.outcome_tables import print_outcomes

        print_outcomes(data)
    return 0


def cmd_sessions(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.cli.remote import open_reads

    filters, tz, _tz_name = filters_from_args(args, settings)
    if args.limit < 1:
        raise CliError("sessions: --limit must be at least 1", EXIT_USAGE)
    store = open_reads(args, settings)
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

    print_sessions(sessions, tz, filters, args.search)
    return 0
