"""`agent-trace report daily --json` and `GET /v1/analytics/cost/daily` give the same days for the
same store, range and time zone, on every backend (issue 12): one day bucketing, checked where it
is hardest - calls every 40 minutes through DST switches (both directions), a half-hour zone, a
45-minute zone and Lord Howe's 30-minute DST.

The CLI runs as a user types it (its own process, its own read path: the stdlib sqlite3 runner on
SQLite); the API through the app. Compared: the shared fields of each day (tokens per kind, calls,
cost, prompts, tool calls) and the range totals; the CLI's weekly and monthly rows against the
API's days summed per week and month."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from agent_trace.config import Settings
from agent_trace.domain.records import LlmCall, Prompt, RecordBatch, Session, ToolCall, Usage
from agent_trace.domain.timeutil import parse_iso_ms
from agent_trace.reports.tally import UsageTally
from agent_trace.store.factory import open_store
from tests.backends import Backend
from tests.cli.test_cli import cli
from tests.server.conftest import make_client

# (zone, first day, last day): each range holds a DST switch (or, for Kolkata, a half-hour offset).
CASES = (
    ("America/New_York", date(2026, 3, 7), date(2026, 3, 9)),  # spring forward 2026-03-08
    ("America/New_York", date(2026, 10, 31), date(2026, 11, 2)),  # fall back 2026-11-01
    ("Europe/London", date(2026, 3, 28), date(2026, 3, 30)),
    ("Europe/London", date(2026, 10, 24), date(2026, 10, 26)),
    ("Asia/Kolkata", date(2026, 3, 7), date(2026, 3, 9)),
    ("Pacific/Chatham", date(2026, 4, 4), date(2026, 4, 6)),  # UTC+13:45 → +12:45
    ("Australia/Lord_Howe", date(2026, 10, 3), date(2026, 10, 5)),  # UTC+10:30 → +11
)
# UTC windows the calls are spread over: every switch above, a day either side.
WINDOWS = (
    ("2026-03-06T00:00:00Z", "2026-03-11T00:00:00Z"),
    ("2026-03-27T00:00:00Z", "2026-03-31T00:00:00Z"),
    ("2026-04-03T00:00:00Z", "2026-04-07T00:00:00Z"),
    ("2026-10-02T00:00:00Z", "2026-10-06T00:00:00Z"),
    ("2026-10-23T00:00:00Z", "2026-10-27T00:00:00Z"),
    ("2026-10-30T00:00:00Z", "2026-11-04T00:00:00Z"),
)
STEP_MS = 40 * 60_000
MODELS = ("claude-opus-4-6", "claude-sonnet-4-5", "mystery-model")  # the last one unpriced
# What a report row and an API day both carry: the usage block (same names on both sides since
# issue 12) but Claude Code's reported cost (API only), and the activity counts.
SHARED_FIELDS = (
    *(name for name in UsageTally().usage_json() if name != "reported_cost_usd"),
    "prompts",
    "tool_calls",
)


def _ms(text: str) -> int:
    value = parse_iso_ms(text)
    assert value is not None
    return value


def _batch() -> RecordBatch:
    sessions = [Session(f"s{k}", user_id="dev", project=f"/p/{k}", agent="claude-code") for k in range(3)]
    calls: list[LlmCall] = []
    prompts: list[Prompt] = []
    tools: list[ToolCall] = []
    n = 0
    for start, end in WINDOWS:
        for at in range(_ms(start), _ms(end), STEP_MS):
            n += 1
            sid = f"s{n % 3}"
            model = MODELS[n % 3]
            usage = Usage(
                input_tokens=n,
                output_tokens=2 * n,
                cache_creation_tokens=3 * n + 1,
                cache_5m_tokens=3 * n,
                cache_1h_tokens=1,
                cache_read_tokens=5 * n,
            )
            cost = None if model == "mystery-model" else 1_000_003 * n
            calls.append(LlmCall(f"c{n}", sid, model=model, ts_ms=at, usage=usage, cost_nusd=cost))
            if n % 4 == 0:
                prompts.append(Prompt(f"p{n}", sid, ts_ms=at + 60_000, kind="human", text="go"))
            if n % 5 == 0:
                tools.append(
                    ToolCall(f"t{n}", sid, tool_name="Read", started_ms=at + 1000, ended_ms=at + 2000)
                )
    return RecordBatch(sessions=sessions, llm_calls=calls, prompts=prompts, tool_calls=tools)


def _cli_report(backend: Backend, kind: str, zone: str, first: date, last: date) -> dict[str, Any]:
    import json

    home = backend.settings.home
    proc = cli(
        home,
        "report",
        kind,
        "--json",
        "--since",
        first.isoformat(),
        "--until",
        last.isoformat(),
        "--timezone",
        zone,
        env=backend.env,
    )
    data: dict[str, Any] = json.loads(proc.stdout)
    return data


def _api_days(settings: Settings, store: Any, zone: str, first: date, last: date) -> dict[str, Any]:
    with make_client(settings, store, "api") as client:
        response = client.get(
            "/v1/analytics/cost/daily",
            params={"since": first.isoformat(), "until": last.isoformat(), "tz": zone},
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _shared(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in SHARED_FIELDS}


def _zero(row: dict[str, Any]) -> bool:
    return not any(row[name] for name in SHARED_FIELDS if name != "cost_usd")


def _summed(days: list[dict[str, Any]], label: Any) -> dict[str, dict[str, Any]]:
    """The API's days summed into the CLI's periods (`label` maps a date to a period key)."""
    out: dict[str, dict[str, Any]] = {}
    for day in days:
        if _zero(day):
            continue
        into = out.setdefault(label(date.fromisoformat(day["date"])), {})
        for name in SHARED_FIELDS:
            if name != "cost_usd":
                into[name] = into.get(name, 0) + day[name]
    for row in out.values():
        row["cost_usd"] = None if row["unpriced_calls"] == row["llm_calls"] else row["cost_nusd"] / 1e9
    return out


def test_report_daily_equals_analytics_cost_daily(backend: Backend) -> None:
    store = open_store(backend.settings.database_url, backend.settings.events_url)
    try:
        store.write(_batch())
        store.refresh_derived()
        answers = [_api_days(backend.settings, store, zone, first, last) for zone, first, last in CASES]
    finally:
        store.close()  # chdb: one process at a time holds its folder, and the CLI runs next
    for (zone, first, last), api in zip(CASES, answers, strict=True):
        _agrees(backend, zone, first, last, api)


def _agrees(backend: Backend, zone: str, first: date, last: date, api: dict[str, Any]) -> None:
    where = f"{backend.name} {zone} {first}..{last}"
    report = _cli_report(backend, "daily", zone, first, last)
    assert report["timezone"] == api["timezone"] == zone, where
    assert {"cache_creation_5m_tokens", "total_tokens", "cost_usd", "cost_nusd"} <= set(SHARED_FIELDS)
    api_days = {d["date"]: _shared(d) for d in api["days"] if not _zero(d)}
    cli_days = {row["date"]: _shared(row) for row in report["daily"]}
    assert cli_days == api_days, where
    # Every day of the range has calls (one every 40 minutes): none may be missing on either side.
    every_day = [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]
    assert sorted(cli_days) == every_day, where
    assert _shared(report["totals"]) == _shared(api["totals"]), where

    week = _cli_report(backend, "weekly", zone, first, last)
    mondays = _summed(api["days"], lambda d: (d - timedelta(days=d.weekday())).isoformat())
    assert {row["week"]: _shared(row) for row in week["weekly"]} == mondays, where
    month = _cli_report(backend, "monthly", zone, first, last)
    months = _summed(api["days"], lambda d: f"{d.year:04d}-{d.month:02d}")
    assert {row["month"]: _shared(row) for row in month["monthly"]} == months, where
