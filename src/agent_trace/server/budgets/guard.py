"""The budget decision on the hook path, answered from a snapshot kept in memory.

The collector answers Claude Code's http hooks itself, so the decision is local to it: a hook
request looks up its session, user and project in the last snapshot (spend.py), refreshed by the
budget service about once a second, and never waits for the database. What Claude Code gets
(its documented hook output):

- UserPromptSubmit, a `block` budget spent: `{"decision": "block", "reason": …}` (the prompt is
  refused; the reason is shown to the developer, not sent to the model).
- PreToolUse, a `block` budget spent: `hookSpecificOutput.permissionDecision = "deny"` with the
  reason (Claude sees it and stops using tools), plus `systemMessage` for the developer.
- UserPromptSubmit, a `warn` budget spent (or a block budget for an allowed session):
  `{"systemMessage": …}`: shown, the prompt runs. Tool calls are not warned one by one.
- Nothing spent up: no body (HTTP 204), exactly as before budgets existed.

When the collector cannot be reached Claude Code treats the http hook as a non-blocking error
and goes on: budgets fail open (docs/configuration.md, "Budgets").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from agent_trace.domain.budgets import Budget, exhausted, refusal_message
from agent_trace.server.budgets.spend import (
    Snapshot,
    TeamMembers,
    recent_sessions,
    session_amount,
    snapshot,
    team_members,
)
from agent_trace.store.port import SessionSummary, Store

ENFORCED_EVENTS = ("UserPromptSubmit", "PreToolUse")
DEFAULT_CONTACT = "ask an agent-trace admin (`agent-trace budgets set` raises it, `agent-trace budgets allow --session ID` lets this session go on)"


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """A budget's spend for one period (and one session, for per-session budgets)."""

    budget: Budget
    period_key: str
    subject: str  # the session id for per-session budgets, else ''
    spent: int

    @property
    def exhausted(self) -> bool:
        return exhausted(self.budget, self.spent)

    def to_json(self) -> dict[str, Any]:
        from agent_trace.domain.budgets import crossed_thresholds, format_amount, percent

        return {
            **self.budget.to_json(),
            "period_key": self.period_key,
            "session_id": self.subject or None,
            "spent": format_amount(self.budget.unit, self.spent, exact=True),
            "spent_raw": self.spent,
            "percent": percent(self.spent, self.budget.limit),
            "crossed": list(crossed_thresholds(self.budget, self.spent)),
            "exhausted": self.exhausted,
        }


@dataclass
class GuardState:
    snap: Snapshot
    sessions: dict[str, SessionSummary]


class BudgetGuard:
    def __init__(
        self,
        store: Store,
        tz: tzinfo | None,
        contact: str | None = None,
        members_of: TeamMembers = team_members,
    ) -> None:
        self.store = store
        self.tz = tz
        self.contact = contact or DEFAULT_CONTACT
        self.members_of = members_of
        self._state: GuardState | None = None
        self._lock = threading.Lock()

    # -- refresh (the budget service's thread) ------------------------------------------------

    def refresh(self, now_ms: int) -> GuardState:
        snap = snapshot(self.store, self.tz, now_ms, self.members_of)
        per_session = any(b.period == "session" for b in snap.budgets)
        found = {s.session_id: s for s in recent_sessions(self.store)} if per_session else {}
        state = GuardState(snap, found)
        with self._lock:
            self._state = state
        return state

    @property
    def state(self) -> GuardState | None:
        with self._lock:
            return self._state

    # -- what is spent ------------------------------------------------------------------------

    def statuses(self, state: GuardState) -> list[BudgetStatus]:
        """Every calendar budget once, and every per-session budget once per recent session it applies to."""
        out: list[BudgetStatus] = []
        snap = state.snap
        for budget in snap.budgets:
            if budget.period != "session":
                out.append(
                    BudgetStatus(budget, snap.periods[budget.period].key, "", snap.period_spent(budget))
                )
                continue
            for s in state.sessions.values():
                if snap.applies(budget, s.user_id, s.project):
                    out.append(
                        BudgetStatus(budget, s.session_id, s.session_id, session_amount(budget.unit, s))
                    )
        return out

    def applicable(
        self, state: GuardState, session_id: str, user: str | None, project: str | None
    ) -> list[BudgetStatus]:
        snap = state.snap
        summary = state.sessions.get(session_id)
        if summary is not None:
            user = user or summary.user_id
            project = summary.project or project
        out: list[BudgetStatus] = []
        for budget in snap.budgets:
            if not snap.applies(budget, user, project):
                continue
            if budget.period == "session":
                spent = session_amount(budget.unit, summary) if summary is not None else 0
                out.append(BudgetStatus(budget, session_id, session_id, spent))
            else:
                out.append(
                    BudgetStatus(budget, snap.periods[budget.period].key, "", snap.period_spent(budget))
                )
        return out

    # -- the hook decision --------------------------------------------------------------------

    def decide(
        self, event: str, session_id: str, user: str | None, project: str | None
    ) -> dict[str, Any] | None:
        """Claude Code's hook output for this event, or None to let it run silently."""
        state = self.state
        if state is None or event not in ENFORCED_EVENTS or not state.snap.budgets:
            return None
        spent_up = [s for s in self.applicable(state, session_id, user, project) if s.exhausted]
        if not spent_up:
            return None
        allowed = session_id in state.snap.allowed
        blocking = [s for s in spent_up if s.budget.mode == "block" and not allowed]
        if blocking:
            message = self.message(blocking[0])
            if event == "UserPromptSubmit":
                return {"decision": "block", "reason": message, "systemMessage": message}
            return {
                "systemMessage": message,
                "hookSpecificOutput": {
                    "hookEventName": "PreToolUse",
                    "permissionDecision": "deny",
                    "permissionDecisionReason": message,
                },
            }
        if event == "UserPromptSubmit":
            return {"systemMessage": " ".join(self.message(s) for s in spent_up)}
        return None

    def message(self, status: BudgetStatus) -> str:
        return refusal_message(status.budget, status.spent, status.period_key, self.contact)
