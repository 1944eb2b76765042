"""Team analytics: spend, tokens, sessions, active developers, top tools and models — per day,
week or month, by developer, team or project (pure: the store's daily totals in, rows out).

The numbers come from `Store.daily_totals` (the same 15-minute rollups as every other report),
grouped in the store by user, project and model/tool; what is left here is mapping users to
teams and days to periods. A developer in two teams counts in both; a developer in none is in
"(no team)". Active developers = distinct users with at least one prompt, LLM call or tool call
in the period and group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent_trace.domain.records import NANO_PER_USD
from agent_trace.reports import csvtext
from agent_trace.reports.periods import period_label
from agent_trace.reports.tally import UsageTally
from agent_trace.store.port import DayTotal, Filters, RecordReader

BY = ("user", "team", "project")
PERIODS = ("daily", "weekly", "monthly")
NO_TEAM = "(no team)"
UNKNOWN = "(unknown)"
TOP = 3
# daily_totals group_by per rollup (the key order every DayTotal of that rollup follows).
USAGE_GROUP = ("user_id", "project", "model")
ACTIVITY_GROUP = ("user_id", "project")
TOOL_GROUP = ("user_id", "project", "tool_name")


@dataclass(slots=True)
class TeamRow:
    period: str
    group: str
    usage: UsageTally = field(default_factory=UsageTally)
    sessions: int = 0
    prompts: int = 0
    tool_calls: int = 0
    developers: set[str] = field(default_factory=set)
    models: dict[str, int] = field(default_factory=dict)  # model → cost (nano-USD)
    model_calls: dict[str, int] = field(default_factory=dict)
    tools: dict[str, int] = field(default_factory=dict)  # tool → calls

    @property
    def total_tokens(self) -> int:
        return self.usage.total_tokens

    def top_models(self) -> list[str]:
        ranked = sorted(self.models, key=lambda m: (-self.models[m], -self.model_calls.get(m, 0), m))
        return ranked[:TOP]

    def top_tools(self) -> list[str]:
        return sorted(self.tools, key=lambda t: (-self.tools[t], t))[:TOP]

    def as_json(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "group": self.group,
            # Spend of the priced calls, a number even when every call is unpriced (a team
            # table adds these up; `unpriced_calls` says what is missing).
            "cost_usd": self.usage.cost_nusd / NANO_PER_USD,
            "cost_nusd": self.usage.cost_nusd,
            "unpriced_calls": self.usage.unpriced_calls,
            "llm_calls": self.usage.llm_calls,
            "input_tokens": self.usage.input_tokens,
            "output_tokens": self.usage.output_tokens,
            "cache_creation_tokens": self.usage.cache_creation_tokens,
            "cache_read_tokens": self.usage.cache_read_tokens,
            "total_tokens": self.total_tokens,
            "sessions": self.sessions,
            "prompts": self.prompts,
            "tool_calls": self.tool_calls,
            "active_developers": len(self.developers),
            "top_models": self.top_models(),
            "top_tools": self.top_tools(),
        }


def team_report(
    usage: Sequence[DayTotal],
    activity: Sequence[DayTotal],
    tools: Sequence[DayTotal],
    *,
    by: str,
    period: str,
    teams_of: Mapping[str, Sequence[str]],
    week_start: int = 0,
) -> list[TeamRow]:
    """Rows sorted by period, then cost (highest first), then group name."""
    if by not in BY:
        raise ValueError(f"by={by!r}: must be one of {', '.join(BY)}")
    if period not in PERIODS:
        raise ValueError(f"period={period!r}: must be one of {', '.join(PERIODS)}")
    rows: dict[tuple[str, str], TeamRow] = {}

    def targets(day: int, user: str, project: str) -> list[TeamRow]:
        label = period_label(day, period, week_start)
        if by == "user":
            groups = [user or UNKNOWN]
        elif by == "project":
            groups = [project or UNKNOWN]
        else:
            groups = list(teams_of.get(user, ())) or [NO_TEAM]
        out = []
        for g in groups:
            row = rows.get((label, g))
            if row is None:
                row = rows[(label, g)] = TeamRow(label, g)
            out.append(row)
        return out

    for t in usage:
        user, project, model = t.key
        v = t.values
        sums = UsageTally.from_values(v)
        for row in targets(t.day, user, project):
            row.usage.add(sums)
            if model:
                row.models[model] = row.models.get(model, 0) + v.get("cost_nusd", 0)
                row.model_calls[model] = row.model_calls.get(model, 0) + v.get("calls", 0)
            if user and v.get("calls", 0):
                row.developers.add(user)
    for t in activity:
        user, project = t.key
        v = t.values
        for row in targets(t.day, user, project):
            row.sessions += v.get("sessions", 0)
            row.prompts += v.get("prompts", 0)
            row.tool_calls += v.get("tool_calls", 0)
            if user and (v.get("prompts", 0) or v.get("tool_calls", 0)):
                row.developers.add(user)
    for t in tools:
        user, project, tool = t.key
        calls = t.values.get("calls", 0)
        for row in targets(t.day, user, project):
            if tool and calls:
                row.tools[tool] = row.tools.get(tool, 0) + calls
    return sorted(rows.values(), key=lambda r: (r.period, -r.usage.cost_nusd, r.group))


CSV_COLUMNS = (
    "period",
    "group",
    "cost_usd",
    "unpriced_calls",
    "llm_calls",
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_read_tokens",
    "total_tokens",
    "sessions",
    "prompts",
    "tool_calls",
    "active_developers",
    "top_models",
    "top_tools",
)


def to_csv(rows: Sequence[TeamRow], by: str) -> str:
    """CSV with a header; the group column is named after `by`; cost in USD to the nano-dollar."""
    shaped = []
    for row in rows:
        data = row.as_json()
        data["cost_usd"] = f"{row.usage.cost_nusd / NANO_PER_USD:.6f}"
        shaped.append(data)
    return csvtext.to_csv(CSV_COLUMNS, shaped, [by if c == "group" else c for c in CSV_COLUMNS])


def fetch_totals(
    store: RecordReader, filters: Filters, utc_offsets: Sequence[tuple[int, int]]
) -> tuple[list[DayTotal], list[DayTotal], list[DayTotal]]:
    """The three rollups per local day, grouped as `team_report` reads them (in the store)."""
    return (
        store.daily_totals("usage", filters, utc_offsets, USAGE_GROUP),
        store.daily_totals("activity", filters, utc_offsets, ACTIVITY_GROUP),
        store.daily_totals("tool", filters, utc_offsets, TOOL_GROUP),
    )


def memberships(teams: Sequence[tuple[str, Sequence[str]]]) -> dict[str, list[str]]:
    """[(team, members)] → user → teams (sorted)."""
    out: dict[str, list[str]] = {}
    for team, members in sorted(teams):
        for user in members:
            out.setdefault(user, []).append(team)
    return out
