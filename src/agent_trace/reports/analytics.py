"""Cost and tool analytics per local day (`/v1/analytics/cost/daily`, `/v1/analytics/tools`, the
dashboard's cost page): store totals in, JSON-ready dicts out, no HTTP here.

The store sums its 15-minute rollups per local day and group (`Store.daily_totals`, with the day
rule of reports/periods.py), so a month over a million records arrives as a few thousand rows;
what is left here is arranging them:
contiguous days for charts, breakdowns by model / project / user, range totals and top lists.
"""

from __future__ import annotations

from datetime import date, timedelta, tzinfo
from typing import Any

from agent_trace.domain.tools import is_mcp_tool
from agent_trace.reports.periods import EPOCH, days_range_ms, fold_offsets, utc_offsets
from agent_trace.reports.tally import UsageTally
from agent_trace.store.port import ROLLUP_METRICS, DayTotal, Filters, RecordReader

ACTIVITY = ROLLUP_METRICS["activity"]


def _usage_json(v: dict[str, int]) -> dict[str, Any]:
    return UsageTally.from_values(v).usage_json()


def _add(into: dict[str, int], values: dict[str, int]) -> None:
    for name, value in values.items():
        into[name] = into.get(name, 0) + value


def _ranked(groups: dict[str, dict[str, int]], label: str) -> list[dict[str, Any]]:
    ordered = sorted(
        groups.items(), key=lambda kv: (-kv[1].get("cost_nusd", 0), -kv[1].get("calls", 0), kv[0])
    )
    return [{label: name, **_usage_json(values)} for name, values in ordered]


def day_filters(
    first: date, last: date, tz: tzinfo | None, base: Filters
) -> tuple[Filters, list[tuple[int, int]]]:
    """The store filters of the whole local days `first` … `last` and their UTC offsets."""
    start, end = days_range_ms(first, last, tz)
    filters = Filters(start, end, base.project, base.model, base.user, base.agent)
    return filters, utc_offsets(start, end, tz)


def range_totals(
    store: RecordReader,
    rollup: str,
    filters: Filters,
    daily_offsets: list[tuple[int, int]],
    group_by: tuple[str, ...],
) -> dict[tuple[str, ...], dict[str, int]]:
    """Sums over the whole range per group (folded in the store when the range allows)."""
    assert filters.since_ms is not None and filters.until_ms is not None
    folded = fold_offsets(filters.since_ms, filters.until_ms)
    rows = store.daily_totals(rollup, filters, folded or daily_offsets, group_by)
    out: dict[tuple[str, ...], dict[str, int]] = {}
    for row in rows:
        _add(out.setdefault(row.key, {}), row.values)
    return out


BREAKDOWNS = ("model", "project", "user")


def cost_daily(
    store: RecordReader,
    first: date,
    last: date,
    tz: tzinfo,
    tz_name: str,
    base: Filters,
    breakdown: frozenset[str] = frozenset({"model"}),
) -> dict[str, Any]:
    """Per local day: spend, tokens, activity and (always) the split by model; over the range:
    the splits by model, project, user and agent. Per-day splits by project and user on request
    (`breakdown`): a big team's month of them is megabytes."""
    filters, offsets = day_filters(first, last, tz, base)
    n_days = (last - first).days + 1
    first_index = (first - EPOCH).days

    def per_day(rows: list[DayTotal]) -> list[dict[str, dict[str, int]]]:
        days: list[dict[str, dict[str, int]]] = [{} for _ in range(n_days)]
        for row in rows:
            index = row.day - first_index
            if 0 <= index < n_days:
                _add(days[index].setdefault(row.key[0] if row.key else "", {}), row.values)
        return days

    by_model_day = per_day(store.daily_totals("usage", filters, offsets, ("model",)))
    activity_day = per_day(store.daily_totals("activity", filters, offsets, ()))
    pairs = range_totals(store, "usage", filters, offsets, ("project", "user_id"))
    agents = range_totals(store, "usage", filters, offsets, ("agent",))
    by_project_day = (
        per_day(store.daily_totals("usage", filters, offsets, ("project",)))
        if "project" in breakdown
        else None
    )
    by_user_day = (
        per_day(store.daily_totals("usage", filters, offsets, ("user_id",))) if "user" in breakdown else None
    )

    total: dict[str, int] = {}
    model_total: dict[str, dict[str, int]] = {}
    days = []
    for index in range(n_days):
        day_total: dict[str, int] = {}
        for model, values in by_model_day[index].items():
            _add(day_total, values)
            _add(model_total.setdefault(model, {}), values)
        _add(total, day_total)
        days.append(
            {
                "date": (first + timedelta(days=index)).isoformat(),
                **_usage_json(day_total),
                **_activity_json(activity_day[index].get("", {})),
                "by_model": _ranked(by_model_day[index], "model"),
                "by_project": None if by_project_day is None else _ranked(by_project_day[index], "project"),
                "by_user": None if by_user_day is None else _ranked(by_user_day[index], "user"),
            }
        )
    project_total: dict[str, dict[str, int]] = {}
    user_total: dict[str, dict[str, int]] = {}
    for (project, user), values in pairs.items():
        _add(project_total.setdefault(project, {}), values)
        _add(user_total.setdefault(user, {}), values)
    activity_total: dict[str, int] = {}
    for day in activity_day:
        _add(activity_total, day.get("", {}))
    return {
        "timezone": tz_name,
        "since": first.isoformat(),
        "until": last.isoformat(),
        "days": days,
        "totals": {**_usage_json(total), **_activity_json(activity_total)},
        "by_model": _ranked(model_total, "model"),
        "by_project": _ranked(project_total, "project"),
        "by_user": _ranked(user_total, "user"),
        "by_agent": _ranked({key[0] if key else "": values for key, values in agents.items()}, "agent"),
    }


def _activity_json(v: dict[str, int]) -> dict[str, int]:
    return {name: v.get(name, 0) for name in ACTIVITY}


def tool_stats(
    store: RecordReader, first: date, last: date, tz: tzinfo, tz_name: str, base: Filters
) -> dict[str, Any]:
    filters, offsets = day_filters(first, last, tz, base)
    rows = store.daily_totals("tool", filters, offsets, ("tool_name",))
    n_days = (last - first).days + 1
    first_index = (first - EPOCH).days
    per_tool: dict[str, dict[str, int]] = {}
    daily: list[dict[str, int]] = [{} for _ in range(n_days)]
    for row in rows:
        index = row.day - first_index
        if not 0 <= index < n_days:
            continue
        _add(per_tool.setdefault(row.key[0], {}), row.values)
        _add(daily[index], row.values)

    def stat(values: dict[str, int]) -> dict[str, Any]:
        calls = values.get("calls", 0)
        errors = values.get("errors", 0)
        duration = values.get("duration_ms", 0)
        return {
            "calls": calls,
            "errors": errors,
            "error_rate": errors / calls if calls else 0.0,
            "duration_ms": duration,
            "avg_duration_ms": duration / calls if calls else None,
        }

    tools = sorted(per_tool.items(), key=lambda kv: (-kv[1].get("calls", 0), kv[0]))
    total: dict[str, int] = {}
    for _, values in tools:
        _add(total, values)
    return {
        "timezone": tz_name,
        "since": first.isoformat(),
        "until": last.isoformat(),
        "tools": [{"tool_name": name, "is_mcp": is_mcp_tool(name), **stat(v)} for name, v in tools],
        "days": [{"date": (first + timedelta(days=i)).isoformat(), **stat(daily[i])} for i in range(n_days)],
        "totals": stat(total),
    }
