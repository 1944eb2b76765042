"""Page models that are not the replay: list sort links, the cost page's charts and tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from agent_trace.server.dashboard.charts import Chart, Meter, meters, stacked, top_series
from agent_trace.server.dashboard.formatting import money, number, pct, short_tokens

__all__ = [
    "RANKED_COLUMNS",
    "Charts",
    "CostView",
    "choices_from",
    "cost_view",
    "find_tool",
    "presets",
    "sort_links",
]

SORTABLE = (
    ("started", "start"),
    ("user", "user"),
    ("repo", "repo"),
    ("duration", "duration"),
    ("tokens", "tokens"),
    ("cost", "cost"),
    ("prompts", "prompts"),
    ("tool_calls", "tools"),
)


def sort_links(params: dict[str, str], sort: str) -> dict[str, tuple[str, str]]:
    """Per sortable column: (href, arrow). Clicking the active column flips its direction."""
    links: dict[str, tuple[str, str]] = {}
    base = {k: v for k, v in params.items() if k not in ("sort", "cursor")}
    active = sort.lstrip("+-")
    descending = sort.startswith("-")
    for key, _label in SORTABLE:
        if key == active:
            target = key if descending else f"-{key}"
            arrow = "↓" if descending else "↑"
        else:
            target, arrow = f"-{key}", ""
        links[key] = ("/?" + urlencode({**base, "sort": target}), arrow)
    return links


def find_tool(replay: dict[str, Any], tool_use_id: str) -> dict[str, Any] | None:
    """The tool call with this id anywhere in the replay (subagents included)."""

    def in_tools(tools: list[dict[str, Any]]) -> dict[str, Any] | None:
        for tool in tools:
            if tool.get("tool_use_id") == tool_use_id:
                return tool
            sub = tool.get("subagent")
            if sub:
                found = in_agent(sub)
                if found:
                    return found
        return None

    def in_agent(node: dict[str, Any]) -> dict[str, Any] | None:
        for step in node.get("steps", []):
            found = in_tools(step.get("tools", []))
            if found:
                return found
        found = in_tools(node.get("tools", []))
        if found:
            return found
        for sub in node.get("subagents", []):
            found = in_agent(sub)
            if found:
                return found
        return None

    for prompt in replay.get("prompts", []):
        found = in_agent(prompt)
        if found:
            return found
    return None


def choices_from(cost: dict[str, Any]) -> dict[str, list[str]]:
    """Filter values (projects, users, models, agents) from a cost/daily answer's totals."""
    return {
        key: sorted({str(r[key]) for r in cost.get(f"by_{key}") or [] if r.get(key)})
        for key in ("project", "user", "model", "agent")
    }


def presets(params: dict[str, str]) -> list[tuple[str, str]]:
    """Quick ranges ending today (label, href), keeping the other filters."""
    base = {k: v for k, v in params.items() if k not in ("since", "until", "tz")}
    today = date.today()
    out = []
    for label, days in (("7 days", 7), ("30 days", 30), ("90 days", 90), ("1 year", 365)):
        since = today - timedelta(days=days - 1)
        out.append(
            (label, "/cost?" + urlencode({**base, "since": since.isoformat(), "until": today.isoformat()}))
        )
    return out


@dataclass
class Charts:
    """One chart drawn twice: wide, and narrow for phones (CSS shows one), so tick labels read
    at ~11 px on either instead of shrinking to 3 px in a scaled-down wide drawing."""

    wide: Chart
    narrow: Chart


@dataclass
class CostView:
    totals: dict[str, Any]
    timezone: str
    since: str
    until: str
    spend: Charts
    tokens: Charts
    sessions: Charts
    prompts: Charts
    tool_calls: Charts
    projects: list[Meter]
    users: list[Meter]
    models: list[Meter]
    tools: list[Meter]
    top_sessions: list[Meter]
    agents: list[Meter] = field(default_factory=list)


# Column headings of each ranked table: the label, the bar, the value, then each `extra`.
RANKED_COLUMNS = {
    "cost": ("cost", "tokens", "LLM calls"),
    "tools": ("calls", "failed", "failure rate"),
    "sessions": ("cost", "tokens", "prompts"),
}


def money_tick(value: float) -> str:
    """Axis labels keep enough decimals to tell $0.025 from $0.03."""
    if value == 0 or value >= 10:
        return f"${value:,.0f}"
    if value >= 0.1:
        return f"${value:,.2f}"
    return f"${value:.3f}".rstrip("0")


def _cost(entry: dict[str, Any]) -> float:
    return float(entry.get("cost_usd") or 0.0)


def _ranked(rows: list[dict[str, Any]], key: str) -> list[Meter]:
    def label(value: str) -> str:
        # Projects are directories: their last component tells them apart (the title has the path).
        return (value.rstrip("/").rsplit("/", 1)[-1] or value) if key == "project" else value

    return meters(
        [
            (
                label(str(r[key])) or "(unknown)",
                _cost(r),
                money(r.get("cost_usd"), r.get("unpriced_calls", 0)),
                {
                    "tokens": short_tokens(r.get("total_tokens")),
                    "LLM calls": number(r.get("llm_calls")),
                    "title": str(r[key]),
                },
            )
            for r in rows
        ]
    )


def _charts(
    labels: list[str],
    series: list[tuple[str, list[float]]],
    fmt: Any,
    integer: bool = False,
    small: bool = False,
) -> Charts:
    wide = (420, 150, 44) if small else (1200, 240, 64)
    return Charts(
        stacked(labels, series, fmt, *wide, integer=integer, x_labels=6 if small else 10),
        stacked(labels, series, fmt, 360, 200, 52, integer=integer, x_labels=4),
    )


def _session_meters(rows: list[dict[str, Any]]) -> list[Meter]:
    ranked = [r for r in rows if (r.get("cost_usd") or 0) > 0]
    return meters(
        [
            (
                str(r.get("title") or r.get("first_prompt") or r["session_id"])[:80],
                _cost(r),
                money(r.get("cost_usd"), r.get("unpriced_calls", 0)),
                {
                    "tokens": short_tokens(r.get("total_tokens")),
                    "prompts": number(r.get("prompts")),
                    "title": f"{r['session_id']} · {r.get('user') or ''} · {r.get('project') or ''}",
                    "href": "/sessions/" + quote(str(r["session_id"]), safe=""),
                },
            )
            for r in ranked
        ],
        limit=15,
    )


def cost_view(cost: dict[str, Any], tools: dict[str, Any], sessions: list[dict[str, Any]]) -> CostView:
    days = cost["days"]
    labels = [d["date"] for d in days]
    token_series = [
        ("input", [float(d["input_tokens"]) for d in days]),
        ("output", [float(d["output_tokens"]) for d in days]),
        ("cache write", [float(d["cache_creation_tokens"]) for d in days]),
        ("cache read", [float(d["cache_read_tokens"]) for d in days]),
    ]

    def counts(name: str) -> Charts:
        return _charts(labels, [(name, [float(d[name]) for d in days])], number, integer=True, small=True)

    tool_rows = [
        (
            str(t["tool_name"]) or "(unknown)",
            float(t["calls"]),
            number(t["calls"]),
            {"failed": number(t["errors"]), "failure rate": pct(t["error_rate"])},
        )
        for t in tools["tools"]
    ]
    return CostView(
        totals=cost["totals"],
        timezone=cost["timezone"],
        since=cost["since"],
        until=cost["until"],
        spend=_charts(labels, top_series(days, "by_model", "model", _cost), money_tick),
        tokens=_charts(labels, token_series, short_tokens),
        sessions=counts("sessions"),
        prompts=counts("prompts"),
        tool_calls=counts("tool_calls"),
        projects=_ranked(cost["by_project"], "project"),
        users=_ranked(cost["by_user"], "user"),
        models=_ranked(cost["by_model"], "model"),
        tools=meters(tool_rows, limit=15),
        top_sessions=_session_meters(sessions),
        agents=_ranked(cost.get("by_agent") or [], "agent"),
    )
