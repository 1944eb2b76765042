"""Every answer agent-trace gives about a store: the reports (reports/usage.py JSON, daily,
weekly, monthly and per session, in several time zones and with filters), every session's replay
and timeline, every API endpoint's JSON, and the Store port's own answers.

Only what says WHEN something was written is left out (`updated_*`, `received_ms`, the live
`active` flag): it differs between any two runs, on the same backend too."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from agent_trace.cli.report_cmd import _all_sessions
from agent_trace.config import Settings
from agent_trace.reports.periods import day_start_ms
from agent_trace.reports.replay import build_replay
from agent_trace.reports.timeline import build_timeline
from agent_trace.reports.usage import SessionReport, period_report
from agent_trace.server.app import create_app
from agent_trace.server.context import AppContext
from agent_trace.store.port import Filters, SearchQuery, SessionQuery

VOLATILE = frozenset({"updated_ms", "updated_at", "received_ms", "changed_ms", "active"})
ZONES = ("UTC", "Asia/Tokyo", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata")


def normalized(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, (list, tuple)):
        return [normalized(v) for v in value]
    return value


def _filter_sets(days: tuple[date, date]) -> dict[str, Filters]:
    first, last = days
    middle = first + (last - first) // 2
    tz = ZoneInfo("UTC")
    return {
        "all": Filters(),
        "project-tail": Filters(project="edge"),
        "project-full": Filters(project="/home/alice/alpha"),
        "model": Filters(model="OPUS"),
        "user": Filters(user="alice"),
        "agent": Filters(agent="claude-code"),
        "since": Filters(since_ms=day_start_ms(middle, tz)),
        "window": Filters(
            since_ms=day_start_ms(first, tz) + 3_600_000, until_ms=day_start_ms(middle, tz) + 1
        ),
    }


def data_days(store: Any) -> tuple[date, date]:
    buckets = [b.bucket_ms for b in store.usage_buckets(Filters())]
    if not buckets:
        today = date(2026, 2, 11)
        return today, today
    lo, hi = min(buckets), max(buckets)
    return (
        datetime.fromtimestamp(lo / 1000, ZoneInfo("UTC")).date() - timedelta(days=1),
        datetime.fromtimestamp(hi / 1000, ZoneInfo("UTC")).date() + timedelta(days=1),
    )


def report_answers(store: Any, days: tuple[date, date]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, filters in _filter_sets(days).items():
        usage = store.usage_buckets(filters)
        activity = store.activity_buckets(filters)
        for zone in ZONES:
            for period in ("daily", "weekly", "monthly"):
                report = period_report(period, usage, activity, ZoneInfo(zone), zone)  # type: ignore[arg-type]
                out[f"{name}/{zone}/{period}"] = report.as_json()
        out[f"{name}/session"] = SessionReport(_all_sessions(store, filters)).as_json()
        out[f"{name}/tools"] = store.tool_buckets(filters)
    return out


def store_answers(store: Any) -> dict[str, Any]:
    sessions = _all_sessions(store, Filters())
    ids = sorted(s.session_id for s in sessions)
    out: dict[str, Any] = {
        "counts": store.counts(),
        "users": store.users(),
        "prefixes": {p: store.find_session_ids(p) for p in sorted({i[:2] for i in ids})},
        "changed_sessions": sorted({c.session_id for c in store.changes_since(0, limit=1_000_000)}),
    }
    for sort in ("started", "-started", "cost", "-tokens", "prompts", "-tool_calls", "activity"):
        pages: list[Any] = []
        cursor = None
        while True:
            page = store.list_sessions(SessionQuery(sort=sort, limit=7, cursor=cursor))
            pages.append(page.sessions)
            cursor = page.next_cursor
            if cursor is None:
                break
        out[f"list/{sort}"] = pages
    for text in ("parser", "TEST", "hello", "%", "zzz-nothing"):
        out[f"search/{text}"] = store.list_sessions(SessionQuery(text=text, limit=100)).sessions
    # Full-text search: the same records, fields and snippets on every backend (scores differ
    # by engine - bm25, ts_rank, ClickHouse's tf - so the order is compared as a set).
    for text in ("edge/b.py", "look around", "print", "thinking", "unpric", "b.p", "zzz-nothing"):
        found = store.search(SearchQuery(text, limit=200))
        out[f"fts/{text}"] = sorted((h.kind, h.session_id, h.ref_id, h.field, h.snippet) for h in found)
    user_only = store.search(SearchQuery("look", Filters(user="alice"), limit=200))
    out["fts/user"] = sorted((h.kind, h.ref_id) for h in user_only)
    out["only"] = store.list_sessions(SessionQuery(session_ids=tuple(ids[:3]), limit=10)).sessions
    out["outcome_rows"] = store.outcome_rows(Filters())
    out["session_commits"] = store.session_commits(ids)
    offsets = [(0, 3_600_000), (1_774_746_000_000, 7_200_000)]  # Berlin: CET, then CEST from 2026-03-29
    for rollup, dims in (
        ("usage", ("project", "user_id", "agent", "model")),
        ("activity", ("project", "user_id", "agent")),
        ("tool", ("project", "user_id", "agent", "tool_name")),
    ):
        for group in ((), dims[:1], dims):
            out[f"daily/{rollup}/{','.join(group)}"] = store.daily_totals(rollup, Filters(), offsets, group)
    for sid in ids:
        detail = store.session_detail(sid)
        out[f"detail/{sid}"] = detail
        out[f"replay/{sid}"] = build_replay(detail).as_json()
        out[f"timeline/{sid}"] = build_timeline(detail)
    return out


def _teams(store: Any) -> None:
    """The same teams on every backend (created once; answers are taken twice)."""
    from agent_trace.store.identity import identity_of

    ids = identity_of(store)
    if ids.teams():
        return
    ids.add_team("core", "content")
    ids.add_team("solo")
    ids.set_team_members("alice", ["core"])
    ids.set_team_members("bob", ["core", "solo"])
    ids.set_team_members("dev", ["solo"])


def api_answers(settings: Settings, store: Any, days: tuple[date, date]) -> dict[str, Any]:
    first, last = (d.isoformat() for d in days)
    out: dict[str, Any] = {}
    ctx = AppContext(settings=settings, store=store)
    with TestClient(create_app(ctx, "api"), base_url="http://127.0.0.1") as client:

        def get(path: str, **params: Any) -> Any:
            response = client.get(path, params=params)
            return {"status": response.status_code, "body": response.json()}

        listing = get("/v1/sessions", limit=500)
        out["sessions"] = listing
        for sort in ("started", "-cost", "tokens", "-prompts", "tool_calls", "activity"):
            out[f"sessions/{sort}"] = get("/v1/sessions", sort=sort, limit=5)
        for key, value in (("project", "edge"), ("user", "bob"), ("model", "haiku"), ("q", "parser")):
            out[f"sessions/{key}"] = get("/v1/sessions", **{key: value}, limit=500)
        out["sessions/days"] = get("/v1/sessions", since=first, until=last, tz="Asia/Tokyo", limit=500)
        for row in listing["body"]["sessions"]:
            sid = row["session_id"]
            out[f"session/{sid}"] = get(f"/v1/sessions/{sid}")
            out[f"timeline/{sid}"] = get("/v1/timeline", session_id=sid)
        for zone in ZONES:
            out[f"cost/{zone}"] = get("/v1/analytics/cost/daily", since=first, until=last, tz=zone)
            out[f"tools/{zone}"] = get("/v1/analytics/tools", since=first, until=last, tz=zone)
        out["cost/user"] = get("/v1/analytics/cost/daily", since=first, until=last, user="alice")
        # Team analytics (issue 15): every grouping and period, JSON and CSV.
        _teams(store)
        for by in ("user", "team", "project"):
            for period in ("daily", "weekly", "monthly"):
                out[f"team/{by}/{period}"] = get(
                    "/v1/analytics/team", since=first, until=last, by=by, period=period, tz="Europe/Berlin"
                )
        csv_answer = client.get(
            "/v1/analytics/team.csv", params={"since": first, "until": last, "by": "team"}
        )
        out["team.csv"] = {"status": csv_answer.status_code, "body": csv_answer.text}
        for zone in ZONES:
            out[f"outcomes/{zone}"] = get("/v1/analytics/outcomes", since=first, until=last, tz=zone)
        out["outcomes/user"] = get("/v1/analytics/outcomes", since=first, until=last, user="erin")
        out["missing"] = get("/v1/sessions/ffffffff-0000-0000-0000-000000000000")
    return out


def all_answers(settings: Settings, store: Any) -> dict[str, Any]:
    store.refresh_derived()
    days = data_days(store)
    return normalized(
        {
            "reports": report_answers(store, days),
            "store": store_answers(store),
            "api": api_answers(settings, store, days),
        }
    )
