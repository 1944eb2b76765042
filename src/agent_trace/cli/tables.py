"""Terminal tables (rich) for reports and session lists."""

from __future__ import annotations

from datetime import tzinfo

from rich.table import Table

from agent_trace.cli.render import (
    duration,
    make_console,
    money,
    one_line,
    project_name,
    short_tokens,
    tokens,
    when,
)
from agent_trace.reports.periods import PERIOD_KEY
from agent_trace.reports.usage import PeriodReport, SessionReport, Tally, session_tally
from agent_trace.store.port import Filters, SessionSummary


def _token_cells(t: Tally) -> list[str]:
    return [
        tokens(t.input_tokens),
        tokens(t.output_tokens),
        tokens(t.cache_5m_tokens),
        tokens(t.cache_1h_tokens),
        tokens(t.cache_read_tokens),
        tokens(t.total_tokens),
        money(t.cost_nusd, t.unpriced_calls, t.calls),
    ]


def print_period_report(report: PeriodReport, breakdown: bool, filters: Filters) -> None:
    console = make_console()
    label = PERIOD_KEY[report.period].capitalize()
    title = f"Agent usage, {report.period} ({report.timezone})"
    table = Table(title=title, title_justify="left", header_style="bold")
    for name in (label, "Models"):
        table.add_column(name)
    for name in (
        "Input",
        "Output",
        "Cache 5m",
        "Cache 1h",
        "Cache read",
        "Total",
        "Cost",
        "Prompts",
        "Tools",
    ):
        table.add_column(name, justify="right")
    for key, tally in sorted(report.rows.items()):
        models = ", ".join(sorted(m for m in tally.models if m)) or "–"
        table.add_row(key, models, *_token_cells(tally), f"{tally.prompts:,}", f"{tally.tool_calls:,}")
        if breakdown:
            for model, sub in sorted(tally.models.items(), key=lambda kv: -kv[1].cost_nusd):
                table.add_row("", f"  └ {model}", *_token_cells(sub), "", "", style="dim")
    table.add_section()
    t = report.totals
    table.add_row("Total", "", *_token_cells(t), f"{t.prompts:,}", f"{t.tool_calls:,}", style="bold")
    console.print(table)
    if len(t.agents) > 1:
        by_agent = Table(title="By agent", title_justify="left", header_style="bold")
        by_agent.add_column("Agent")
        for name in ("Input", "Output", "Cache 5m", "Cache 1h", "Cache read", "Total", "Cost"):
            by_agent.add_column(name, justify="right")
        for agent, sub in sorted(t.agents.items(), key=lambda kv: -kv[1].cost_nusd):
            by_agent.add_row(agent, *_token_cells(sub))
        console.print(by_agent)
    if t.unpriced_models:
        console.print(f"[yellow]Unpriced (no known list price): {', '.join(sorted(t.unpriced_models))}[/]")
    if not report.rows:
        console.print("No usage in this range. Run `agent-trace import` first?")


def print_session_report(report: SessionReport, tz: tzinfo | None) -> None:
    console = make_console()
    table = Table(title="Usage by session", title_justify="left", header_style="bold")
    for name in ("Session", "Started", "Project", "Models"):
        table.add_column(name)
    for name in (
        "Input",
        "Output",
        "Cache 5m",
        "Cache 1h",
        "Cache read",
        "Total",
        "Cost",
        "Prompts",
        "Tools",
    ):
        table.add_column(name, justify="right")
    totals = Tally()
    for s in report.sessions:
        t = session_tally(s)
        totals.add_usage(t, t.calls, t.cost_nusd, t.unpriced_calls)
        totals.prompts += t.prompts
        totals.tool_calls += t.tool_calls
        table.add_row(
            s.session_id[:8],
            when(s.started_ms, tz),
            project_name(s.project),
            ", ".join(s.models) or "–",
            *_token_cells(t),
            f"{t.prompts:,}",
            f"{t.tool_calls:,}",
        )
    table.add_section()
    table.add_row("Total", "", "", "", *_token_cells(totals), f"{totals.prompts:,}", f"{totals.tool_calls:,}")
    console.print(table)


def print_sessions(sessions: list[SessionSummary], tz: tzinfo | None) -> None:
    console = make_console()
    table = Table(header_style="bold", title_justify="left")
    for name in ("Session", "Agent", "Started", "Duration", "User", "Project", "Branch"):
        table.add_column(name)
    for name in ("Prompts", "Tools", "Tokens", "Cost"):
        table.add_column(name, justify="right")
    table.add_column("First prompt", overflow="ellipsis", no_wrap=True, max_width=48)
    for s in sessions:
        end = s.last_activity_ms or s.ended_ms
        span = None if s.started_ms is None or end is None else end - s.started_ms
        total = s.input_tokens + s.output_tokens + s.cache_creation_tokens + s.cache_read_tokens
        table.add_row(
            s.session_id[:8],
            s.agent or "–",
            when(s.started_ms, tz),
            duration(span),
            s.user_id or "–",
            project_name(s.project),
            s.git_branch or "–",
            f"{s.prompts:,}",
            f"{s.tool_calls:,}",
            short_tokens(total),
            money(s.cost_nusd, s.unpriced_calls, s.llm_calls),
            one_line(s.first_prompt or s.title, 48),
        )
    console.print(table)
    if not sessions:
        console.print("No sessions yet. Run `agent-trace import`, or `agent-trace init` to capture live.")
