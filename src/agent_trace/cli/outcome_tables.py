"""Terminal tables for `agent-trace report outcomes` and the outcome part of `show`."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from agent_trace.cli.render import make_console, one_line, project_name

GROUPS = (
    ("by_project", "project", "Project"),
    ("by_user", "user", "Developer"),
    ("by_model", "model", "Model"),
    ("by_week", "week", "Week"),
)


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _row(name: str, g: dict[str, Any]) -> list[str]:
    labels = g["labels"]
    return [
        name or "(unknown)",
        str(g["sessions"]),
        f"{labels.get('shipped', 0)}/{labels.get('committed', 0)}/{labels.get('no-commit', 0)}/{labels.get('spun', 0)}",
        str(g["commits"]),
        str(g["merged_prs"]),
        str(g["agent_lines_kept"]),
        _usd(g["cost_usd"]),
        _usd(g["cost_per_commit_usd"]),
        _usd(g["cost_per_merged_pr_usd"]),
        _usd(g["cost_per_agent_line_usd"]),
        _usd(g["unshipped_cost_usd"]),
    ]


def _table(title: str, first: str) -> Table:
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column(first)
    for name in (
        "Sessions",
        "Ship/Com/No/Spun",
        "Commits",
        "Merged PRs",
        "Agent lines",
        "Cost",
        "$/commit",
        "$/merged PR",
        "$/agent line",
        "Unshipped $",
    ):
        table.add_column(name, justify="right")
    return table


def print_outcomes(data: dict[str, Any]) -> None:
    console = make_console()
    span = f"{data['since'] or 'first'} .. {data['until'] or 'last'} ({data['timezone']})"
    for key, field, title in GROUPS:
        if not data[key]:
            continue
        table = _table(f"Outcomes by {title.lower()}, {span}", title)
        for g in data[key]:
            name = project_name(g[field]) if field == "project" else str(g[field])
            table.add_row(*_row(name, g))
        table.add_section()
        table.add_row(*_row("Total", data["totals"]), style="bold")
        console.print(table)
    if not data["by_project"]:
        console.print("No sessions in this range.")
    if data["unshipped"]:
        table = Table(title="Costly sessions that shipped nothing", title_justify="left", header_style="bold")
        for name in ("Session", "Project", "Outcome", "Score", "Cost", "Title"):
            table.add_column(name, justify="right" if name in ("Score", "Cost") else "left")
        for s in data["unshipped"]:
            table.add_row(
                s["session_id"][:8],
                project_name(s["project"]),
                str(s["label"]),
                "-" if s["score"] is None else str(s["score"]),
                _usd(s["cost_usd"]),
                one_line(s["title"], 50),
            )
        console.print(table)


def outcome_lines(outcome: dict[str, Any] | None, commits: list[dict[str, Any]]) -> list[str]:
    """`show`'s commits (agent or person, prompt, lines, PR, fate) and outcome (label, score,
    each signal with its evidence)."""
    lines: list[str] = []
    for c in commits:
        who = "agent" if c["by_agent"] else "person"
        agent = c["agent_lines"] if c["agent_lines"] is not None else "?"
        extra = [f"PR #{c['pr']['number']} {c['pr']['state']}"] if c["pr"] else []
        if c["reverted_by"]:
            extra.append(f"reverted by {c['reverted_by'][:10]}")
        elif c["rewritten_as"]:
            extra.append(f"landed as {c['rewritten_as'][:10]}")
        elif c["on_default"]:
            extra.append("on the default branch")
        lines.append(
            f"commit {c['sha'][:10]} {one_line(c['message'], 60)}  ({who}, prompt {str(c['prompt_id'] or '-')[:12]}, "
            f"+{c['lines_added'] or 0} lines, {agent} by the agent{''.join(', ' + e for e in extra)})"
        )
    if outcome is None:
        return lines
    lines.append(
        f"outcome {outcome['label']} · score {outcome['score']} · agent lines kept {outcome['agent_lines']}"
    )
    for s in outcome["signals"]:
        ids = ", ".join(e["id"][:12] for e in s["evidence"][:6])
        more = f" (+{len(s['evidence']) - 6})" if len(s["evidence"]) > 6 else ""
        detail = f"  {s['detail']}" if s["detail"] else ""
        lines.append(
            f"  {s['name']} = {s['value']} ({s['points']:+d}){': ' + ids + more if ids else ''}{detail}"
        )
    return lines
