"""Budgets with their spend now, recent alerts and deliveries: one shape for the API
(`GET /v1/budgets`), `agent-trace budgets list --json`, `status` and the dashboard."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import tzinfo
from typing import Any

from agent_trace.domain.budgets import AlertDelivery, BudgetAlert
from agent_trace.server.budgets.guard import BudgetGuard, BudgetStatus
from agent_trace.store.port import Store

# Alerts shown as "current" (dashboard banner, `status`): crossed within this window.
RECENT_ALERT_MS = 7 * 86_400_000


def current_statuses(guard: BudgetGuard, now_ms: int) -> list[BudgetStatus]:
    """One status per budget: a calendar budget's spend this period; for a per-session budget,
    its largest session among those the guard holds (the recent ones and every one over the
    budget's lowest threshold: docs/configuration.md; none yet: spend 0)."""
    state = guard.refresh(now_ms)
    by_budget: dict[str, BudgetStatus] = {}
    for status in guard.statuses(state):
        seen = by_budget.get(status.budget.budget_id)
        if seen is None or status.spent > seen.spent:
            by_budget[status.budget.budget_id] = status
    return [by_budget.get(b.budget_id) or BudgetStatus(b, "", "", 0) for b in state.snap.budgets]


def _row_json(row: BudgetAlert | AlertDelivery) -> dict[str, Any]:
    """An alert or delivery as JSON: its fields, with `subject` named `session_id` (None if '')."""
    data = asdict(row)
    data["session_id"] = data.pop("subject") or None
    return data


def budgets_report(store: Store, tz: tzinfo | None, now_ms: int | None = None) -> dict[str, Any]:
    now = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    guard = BudgetGuard(store, tz)
    statuses = current_statuses(guard, now)
    return {
        "budgets": [s.to_json() for s in statuses],
        "alerts": [_row_json(a) for a in store.budget_alerts(since_ms=now - RECENT_ALERT_MS, limit=50)],
        "deliveries": [_row_json(d) for d in store.alert_deliveries(limit=50)],
        "allowed_sessions": sorted(store.allowed_sessions()),
    }


def banner_lines(report: dict[str, Any]) -> list[str]:
    """What the dashboard banner and `agent-trace status` say: each budget at or past a threshold."""
    lines = []
    for b in report["budgets"]:
        if b["crossed"]:
            where = f" (session {b['session_id'][:8]})" if b.get("session_id") else ""
            state = "SPENT" if b["exhausted"] else f"{b['percent']}%"
            action = ", prompts blocked" if b["exhausted"] and b["mode"] == "block" else ""
            lines.append(f"budget {b['id']}{where}: {state} — {b['spent']} of {b['limit']}{action}")
    return lines
