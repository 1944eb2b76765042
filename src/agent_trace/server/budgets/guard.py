"""The budget decision on the hook path, answered from a snapshot kept in memory.

The collector answers Claude Code's http hooks itself, so the decision is local to it: a hook
request looks up its session, user and project in the last snapshot (spend.py), refreshed by the
budget service about once a second, and never waits for the database. The snapshot becomes a
state document per developer (`state_doc`), and hook/budget.py `decide` turns it into Claude
Code's hook output: the same function the command hook handler applies to its cached copy.

When the collector cannot be reached, Claude Code treats an http hook as a non-blocking error
and goes on: budgets fail open (docs/configuration.md, "Budgets and alerts").
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import tzinfo
from typing import Any

from agent_trace.domain.budgets import Budget, exhausted, refusal_message
from agent_trace.hook.budget import ENFORCED_EVENTS, decide
from agent_trace.server.budgets.spend import (
    Snapshot,
    TeamMembers,
    budget_sessions,
    keep_sessions,
    session_amount,
    session_floors,
    snapshot,
    team_members,
)
from agent_trace.store.port import SessionQuery, SessionSummary, Store

# Session changes read per refresh; more than this since the last one: read the sessions afresh.
CHANGES_PER_REFRESH = 1000
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
    floors: dict[str, int] = field(default_factory=dict)  # spend.session_floors of snap.budgets


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
        previous = self.state
        snap = snapshot(self.store, self.tz, now_ms, self.members_of, previous.snap if previous else None)
        # Sessions: the recent ones (the user and project of a session whose hook call does not
        # name them) and every one a per-session budget may alert on or block, however old.
        floors = session_floors(snap.budgets)
        found = self._sessions(previous, snap.seq, floors) if snap.budgets else {}
        state = GuardState(snap, found, floors)
        with self._lock:
            self._state = state
        return state

    def _sessions(
        self, previous: GuardState | None, seq: int, floors: dict[str, int]
    ) -> dict[str, SessionSummary]:
        """The previous sessions updated with those changed since (one small read while sessions
        run), or all of them afresh (first refresh, a budget changed its floors, many changes)."""
        if previous is None or not previous.sessions or previous.floors != floors:
            return budget_sessions(self.store, floors)
        if previous.snap.seq == seq:
            return previous.sessions
        changes = self.store.changes_since(previous.snap.seq, CHANGES_PER_REFRESH)
        if len(changes) >= CHANGES_PER_REFRESH:
            return budget_sessions(self.store, floors)
        ids = tuple(dict.fromkeys(c.session_id for c in changes))
        merged = dict(previous.sessions)
        if ids:
            page = self.store.list_sessions(SessionQuery(session_ids=ids, limit=len(ids)))
            merged.update((s.session_id, s) for s in page.sessions)
        return keep_sessions(merged, floors)

    @property
    def state(self) -> GuardState | None:
        with self._lock:
            return self._state

    # -- what is spent ------------------------------------------------------------------------

    def statuses(self, state: GuardState) -> list[BudgetStatus]:
        """Every calendar budget once, and every per-session budget once per held session it applies to."""
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

    # -- the hook decision --------------------------------------------------------------------

    def state_doc(self, user: str | None, session_id: str | None = None) -> dict[str, Any]:
        """The spent-up budgets that can apply to `user` (hook/budget.py documents the shape).

        With `session_id`, the session's stored user and project count too (the collector's own
        http hooks); without, the document serves any session of the user (the handler's cache).
        """
        state = self.state
        doc: dict[str, Any] = {"version": 1, "computed_ms": 0, "rules": [], "allowed_sessions": []}
        if state is None:
            return doc
        snap = state.snap
        doc["computed_ms"] = snap.computed_ms
        summary = state.sessions.get(session_id) if session_id else None
        if summary is not None and summary.user_id:
            user = user or summary.user_id
        rules: list[dict[str, Any]] = doc["rules"]
        for budget in snap.budgets:
            kind = budget.scope_kind
            if kind in ("user", "team") and not snap.applies(budget, user, None):
                continue
            rule: dict[str, Any] = {"budget_id": budget.budget_id, "mode": budget.mode}
            if budget.period == "session":
                spent_up = [
                    s for s in state.sessions.values()
                    if (user is None or s.user_id in (None, user))
                    and snap.applies(budget, user or s.user_id, s.project)
                    and exhausted(budget, session_amount(budget.unit, s))
                ]  # fmt: skip
                if not spent_up:
                    continue
                worst = max(spent_up, key=lambda s: session_amount(budget.unit, s))
                rule |= {"match": "sessions", "session_ids": sorted(s.session_id for s in spent_up)}
                rule["message"] = self.message(
                    BudgetStatus(
                        budget, worst.session_id, worst.session_id, session_amount(budget.unit, worst)
                    )
                )
            else:
                spent = snap.period_spent(budget)
                if not exhausted(budget, spent):
                    continue
                rule["message"] = self.message(
                    BudgetStatus(budget, snap.periods[budget.period].key, "", spent)
                )
                if kind == "project":
                    rule |= {"match": "project", "project": budget.scope_name}
                else:
                    rule["match"] = "all"
            rules.append(rule)
        doc["allowed_sessions"] = sorted(snap.allowed) if rules else []
        return doc

    def decide(self, event: str, session_id: str, user: str | None, cwd: str | None) -> dict[str, Any] | None:
        """Claude Code's hook output for this http hook call, or None to let it run silently."""
        state = self.state
        if state is None or event not in ENFORCED_EVENTS or not state.snap.budgets:
            return None
        summary = state.sessions.get(session_id)
        project = (summary.project if summary is not None else None) or cwd
        return decide(self.state_doc(user, session_id), event, session_id, project)

    def message(self, status: BudgetStatus) -> str:
        return refusal_message(status.budget, status.spent, status.period_key, self.contact)
