"""Terminal tables (rich) for reports and session lists.

Each renderer builds plain string cells and hands them to `_print_table`, the one place cells
reach rich: the layout (cli/layout.py) picks the columns that fit the terminal, and every cell
goes in as `Text` (never parsed as rich markup, so a prompt containing `[bold]` prints as
typed). A per-cell escaping step for stored text belongs in `_cell`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from rich.table import Table
from rich.text import Text

from agent_trace.cli.layout import Column, fit, hidden, natural_widths, table_width
from agent_trace.cli.render import (
    cell,
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
from agent_trace.reports.tally import total_tokens
from agent_trace.reports.usage import PeriodReport, SessionReport, Tally, session_tally
from agent_trace.store.port import Filters, SessionSummary


@dataclass
class Row:
    cells: list[str]
    style: str = ""


@dataclass
class Grid:
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)
    footer: list[Row] = field(default_factory=list)  # after a rule (totals)


# Token columns shared by the period and session reports, least useful last.
_TOKEN_COLUMNS = [
    Column("Input", 6, right=True),
    Column("Output", 5, right=True),
    Column("Cache 5m", 8, right=True),
    Column("Cache 1h", 9, right=True),
    Column("Cache read", 7, right=True),
    Column("Total", 1, right=True),
    Column("Cost", 0, right=True, essential=True),
    Column("Prompts", 3, right=True),
    Column("Tools", 4, right=True),
]


def _token_cells(t: Tally) -> list[str]:
    return [
        tokens(t.input_tokens),
        tokens(t.output_tokens),
        tokens(t.cache_5m_tokens),
        tokens(t.cache_1h_tokens),
        tokens(t.cache_read_tokens),
        tokens(t.total_tokens),
        money(t.cost_nusd, t.unpriced_calls, t.llm_calls),
    ]


def print_unpriced(console: Any, reasons: dict[str, str]) -> None:
    """One line per unpriced model: its calls count in tokens but not in cost, and why."""
    if reasons:
        console.print(Text("Unpriced calls (tokens counted, cost not):"), style="yellow")
        for model, reason in reasons.items():
            console.print(cell(f"  {model}: {reason}"), style="yellow")


def _cell(text: str) -> Text:
    return cell(text)  # type: ignore[no-any-return]


def _print_table(grid: Grid, title: str | None = None) -> None:
    all_rows = [r.cells for r in (*grid.rows, *grid.footer)]
    console = make_console(width=_piped_width(grid.columns, all_rows))
    shown = fit(grid.columns, all_rows, console.width if console.is_terminal else None)
    table = Table(title=title, title_justify="left", header_style="bold")
    for f in shown:
        flex = f.column.flex_min > 0
        table.add_column(
            f.column.name,
            justify="right" if f.column.right else "left",
            no_wrap=True,
            overflow="ellipsis" if flex else "fold",
            min_width=None if flex else f.width,
            max_width=f.width if flex else None,
        )

    def add(row: Row) -> None:
        table.add_row(*(_cell(row.cells[f.index]) for f in shown), style=row.style or None)

    for row in grid.rows:
        add(row)
    if grid.footer:
        table.add_section()
        for row in grid.footer:
            add(row)
    console.print(table)
    left_out = hidden(grid.columns, shown)
    if left_out:
        console.print(
            Text(f"Not shown at this width: {', '.join(left_out)} (widen the terminal, or use --json)"),
            style="dim",
        )


def _piped_width(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> int | None:
    """When piped, everything at full width: the console is as wide as the whole table."""
    if sys.stdout.isatty():
        return None
    return max(80, table_width(natural_widths(columns, rows)))


def print_period_report(report: PeriodReport, breakdown: bool, filters: Filters) -> None:
    label = PERIOD_KEY[report.period].capitalize()
    grid = Grid([Column(label, 0, essential=True), Column("Models", 2, flex_min=12), *_TOKEN_COLUMNS])
    for key, tally in sorted(report.rows.items()):
        models = ", ".join(sorted(m for m in tally.models if m)) or "–"
        grid.rows.append(
            Row([key, models, *_token_cells(tally), f"{tally.prompts:,}", f"{tally.tool_calls:,}"])
        )
        if breakdown:
            for model, sub in sorted(tally.models.items(), key=lambda kv: -kv[1].cost_nusd):
                grid.rows.append(Row(["", f"  └ {model}", *_token_cells(sub), "", ""], "dim"))
    t = report.totals
    grid.footer.append(Row(["Total", "", *_token_cells(t), f"{t.prompts:,}", f"{t.tool_calls:,}"], "bold"))
    _print_table(grid, f"Agent usage, {report.period} ({report.timezone})")
    console = make_console()
    if len(t.agents) > 1:
        agents = Grid([Column("Agent", 0, essential=True), *_TOKEN_COLUMNS[:7]])
        for agent, sub in sorted(t.agents.items(), key=lambda kv: -kv[1].cost_nusd):
            agents.rows.append(Row([agent, *_token_cells(sub)]))
        _print_table(agents, "By agent")
    print_unpriced(console, report.unpriced_reasons)
    if not report.rows:
        console.print(empty_hint("usage", filters))


def print_session_report(report: SessionReport, tz: tzinfo | None, filters: Filters | None = None) -> None:
    grid = Grid(
        [
            Column("Session", 0, essential=True),
            Column("Started", 0, essential=True),
            Column("Project", 2, flex_min=8),
            Column("Models", 5, flex_min=12),
            *_TOKEN_COLUMNS,
        ]
    )
    totals = Tally()
    for s in report.sessions:
        t = session_tally(s)
        totals.add_usage(t, t.llm_calls, t.cost_nusd, t.unpriced_calls)
        totals.prompts += t.prompts
        totals.tool_calls += t.tool_calls
        grid.rows.append(
            Row(
                [
                    s.session_id[:8],
                    when(s.started_ms, tz),
                    project_name(s.project),
                    ", ".join(s.models) or "–",
                    *_token_cells(t),
                    f"{t.prompts:,}",
                    f"{t.tool_calls:,}",
                ]
            )
        )
    grid.footer.append(
        Row(
            ["Total", "", "", "", *_token_cells(totals), f"{totals.prompts:,}", f"{totals.tool_calls:,}"],
            "bold",
        )
    )
    _print_table(grid, "Usage by session")
    print_unpriced(make_console(), report.unpriced_reasons)
    if not report.sessions:
        make_console().print(empty_hint("sessions", filters))


def print_sessions(
    sessions: list[SessionSummary],
    tz: tzinfo | None,
    filters: Filters | None = None,
    search: str | None = None,
) -> None:
    grid = Grid(
        [
            Column("Session", 0, essential=True),
            Column("Agent", 6),
            Column("Started", 0, essential=True),
            Column("Duration", 2),
            Column("User", 7),
            Column("Project", 3, flex_min=8),
            Column("Branch", 8, flex_min=8),
            Column("Prompts", 5, right=True),
            Column("Tools", 9, right=True),
            Column("Tokens", 4, right=True),
            Column("Cost", 0, right=True, essential=True),
            Column("First prompt", 1, flex_min=16),
        ]
    )
    for s in sessions:
        end = s.last_activity_ms or s.ended_ms
        span = None if s.started_ms is None or end is None else end - s.started_ms
        grid.rows.append(
            Row(
                [
                    s.session_id[:8],
                    s.agent or "–",
                    when(s.started_ms, tz),
                    duration(span),
                    s.user_id or "–",
                    project_name(s.project),
                    s.git_branch or "–",
                    f"{s.prompts:,}",
                    f"{s.tool_calls:,}",
                    short_tokens(total_tokens(s)),
                    money(s.cost_nusd, s.unpriced_calls, s.llm_calls),
                    one_line(s.first_prompt or s.title, 60),
                ]
            )
        )
    if not sessions:
        make_console().print(empty_hint("sessions", filters, [f"--search {search!r}"] if search else []))
        return
    _print_table(grid)


def empty_hint(what: str, filters: Filters | None, extra: Sequence[str] = ()) -> str:
    """Why a listing is empty: the filters (name them), or nothing imported or captured yet."""
    active = [*_active_filters(filters), *extra]
    if active:
        return f"No {what} match {', '.join(active)}."
    return f"No {what} yet. Run `agent-trace import`, or `agent-trace init` to capture live."


def _active_filters(filters: Filters | None) -> list[str]:
    if filters is None:
        return []
    out = []
    if filters.since_ms is not None or filters.until_ms is not None:
        out.append("the date range")
    for name in ("project", "model", "user"):
        value = getattr(filters, name, None)
        if value:
            out.append(f"--{name} {value!r}")
    return out
