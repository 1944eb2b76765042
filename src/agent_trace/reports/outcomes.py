"""The cost of results: per commit, per merged pull request, per agent-authored line kept; by
project, developer, model and week; and the sessions that cost money and shipped nothing.

Pure over `Store.outcome_rows` (one row per session, its outcome kept by the refresh of derived
data). Every cost divides the whole spend of a group's sessions - those that produced nothing
included - by its results: what a result really cost. A divisor of 0 gives null, never 0.
A session counts under the local week (Monday) it started in, and under the model that cost it
most (docs/outcomes.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from agent_trace.domain.outcomes import LABELS
from agent_trace.domain.records import NANO_PER_USD
from agent_trace.reports.periods import local_day, period_label
from agent_trace.store.port import Filters, OutcomeRow, RecordReader

UNSHIPPED = ("no-commit", "spun")


@dataclass
class _Group:
    sessions: int = 0
    cost_nusd: int = 0
    commits: int = 0
    merged_prs: int = 0
    agent_lines: int = 0
    lines_added: int = 0
    labels: dict[str, int] = field(default_factory=lambda: dict.fromkeys(LABELS, 0))
    unshipped_cost_nusd: int = 0

    def add(self, r: OutcomeRow) -> None:
        self.sessions += 1
        self.cost_nusd += r.cost_nusd
        self.commits += r.commits
        self.merged_prs += r.merged_prs
        self.agent_lines += r.agent_lines
        self.lines_added += r.lines_added
        label = r.label or "no-commit"
        self.labels[label] = self.labels.get(label, 0) + 1
        if label in UNSHIPPED:
            self.unshipped_cost_nusd += r.cost_nusd

    def as_json(self) -> dict[str, Any]:
        def per(n: int) -> float | None:
            return None if n == 0 else self.cost_nusd / NANO_PER_USD / n

        return {
            "sessions": self.sessions,
            "cost_usd": self.cost_nusd / NANO_PER_USD,
            "cost_nusd": self.cost_nusd,
            "labels": self.labels,
            "commits": self.commits,
            "merged_prs": self.merged_prs,
            "agent_lines_kept": self.agent_lines,
            "lines_added": self.lines_added,
            "cost_per_commit_usd": per(self.commits),
            "cost_per_merged_pr_usd": per(self.merged_prs),
            "cost_per_agent_line_usd": per(self.agent_lines),
            "unshipped_cost_usd": self.unshipped_cost_nusd / NANO_PER_USD,
            "shipped_rate": None if not self.sessions else self.labels.get("shipped", 0) / self.sessions,
        }


def _grouped(rows: Iterable[OutcomeRow], key: Any, name: str) -> list[dict[str, Any]]:
    groups: dict[str, _Group] = {}
    for r in rows:
        groups.setdefault(key(r) or "", _Group()).add(r)
    out = [{name: k, **g.as_json()} for k, g in groups.items()]
    return sorted(out, key=lambda g: (-g["cost_nusd"], g[name]))


def _week(ms: int | None, tz: tzinfo) -> str:
    if ms is None:
        return ""
    return period_label(local_day(ms, tz), "weekly")


def outcomes_report(
    store: RecordReader,
    filters: Filters,
    tz: tzinfo,
    tz_name: str,
    since: str | None,
    until: str | None,
    top: int = 20,
) -> dict[str, Any]:
    """`filters` bound the sessions' start times (epoch ms); `since`/`until` label the range."""
    rows = store.outcome_rows(filters)
    totals = _Group()
    for r in rows:
        totals.add(r)
    unshipped = sorted(
        (r for r in rows if r.cost_nusd > 0 and (r.label or "no-commit") in UNSHIPPED),
        key=lambda r: (-r.cost_nusd, r.session_id),
    )
    return {
        "timezone": tz_name,
        "since": since,
        "until": until,
        "totals": totals.as_json(),
        "by_project": _grouped(rows, lambda r: r.project, "project"),
        "by_user": _grouped(rows, lambda r: r.user_id, "user"),
        "by_model": _grouped(rows, lambda r: r.model, "model"),
        "by_week": sorted(
            _grouped(rows, lambda r: _week(r.started_ms, tz), "week"), key=lambda g: str(g["week"])
        ),
        "unshipped": [
            {
                "session_id": r.session_id,
                "project": r.project,
                "user": r.user_id,
                "model": r.model,
                "title": r.title,
                "started_ms": r.started_ms,
                "label": r.label,
                "score": r.score,
                "cost_usd": r.cost_nusd / NANO_PER_USD,
                "cost_nusd": r.cost_nusd,
            }
            for r in unshipped[:top]
        ],
    }
