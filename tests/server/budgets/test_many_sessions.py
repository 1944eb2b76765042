"""Per-session budgets see every session that matters, however many sessions the store holds."""

from __future__ import annotations

import time
from typing import Any

from agent_trace.domain.budgets import make_budget
from agent_trace.domain.records import LlmCall, RecordBatch, Session, Usage
from agent_trace.hook.budget import decide as decide_from_doc
from agent_trace.server.budgets.guard import BudgetGuard
from agent_trace.server.budgets.spend import RECENT_SESSIONS, recent_sessions, session_floors
from tests.server.budgets.test_spend_and_guard import BERLIN, NOW, ms

MANY = RECENT_SESSIONS + 100


def _calls(sid: str, cost: int, n: int = 1) -> list[LlmCall]:
    usage = Usage(input_tokens=10, output_tokens=1)
    return [
        LlmCall(
            f"{sid}-c{i}", sid, model="m", ts_ms=ms("2026-03-29T10:00:00Z") + i, usage=usage, cost_nusd=cost
        )
        for i in range(n)
    ]


def _sessions(store: Any, prefix: str, count: int, cost: int) -> None:
    ids = [f"{prefix}{i:04d}" for i in range(count)]
    store.write(
        RecordBatch(
            sessions=[Session(sid, user_id="ana", project="/home/ana/api") for sid in ids],
            llm_calls=[c for sid in ids for c in _calls(sid, cost)],
        )
    )


def _blocked(guard: BudgetGuard, sid: str) -> bool:
    return decide_from_doc(guard.state_doc("ana"), "PreToolUse", sid, None) is not None


def test_an_old_session_over_its_budget_is_blocked_among_many(store: Any) -> None:
    store.write(RecordBatch(sessions=[Session("s-big", user_id="ana")], llm_calls=_calls("s-big", 90_000)))
    time.sleep(0.01)  # every later session is updated after s-big
    _sessions(store, "s-small-", MANY, 10)
    assert "s-big" not in {s.session_id for s in recent_sessions(store)}  # too old to be recent

    store.save_budget(make_budget("session", None, usd="0.000050", mode="block"))  # 50,000 nano-USD
    guard = BudgetGuard(store, BERLIN)
    state = guard.refresh(NOW)
    assert state.floors == {"usd": 25_000} == session_floors(state.snap.budgets)  # 50% of the limit
    assert _blocked(guard, "s-big")
    assert not _blocked(guard, "s-small-0000")
    (status,) = [s for s in guard.statuses(state) if s.subject == "s-big"]
    assert status.exhausted and status.spent == 90_000
    # The snapshot holds the recent sessions and the one over a floor, not all of them.
    assert len(state.sessions) == RECENT_SESSIONS + 1

    # An old session (not among the recent ones when read) crosses its budget later: the
    # changed session is read again, kept because it is over the floor, and blocked.
    oldest = sorted(sid for sid in {f"s-small-{i:04d}" for i in range(MANY)} if sid not in state.sessions)
    assert oldest, "some small sessions are not held"
    late = LlmCall(
        "late",
        oldest[0],
        model="m",
        ts_ms=ms("2026-03-29T10:05:00Z"),
        usage=Usage(input_tokens=1),
        cost_nusd=60_000,
    )
    store.write(RecordBatch(llm_calls=[late]))
    # Then many new sessions push everything else out of the recent ones.
    _sessions(store, "s-new-", MANY, 10)
    state = guard.refresh(NOW + 1_000)
    assert _blocked(guard, oldest[0]) and _blocked(guard, "s-big")
    crossed = {s.subject for s in guard.statuses(state) if s.exhausted}
    assert crossed == {"s-big", oldest[0]}
    assert len(state.sessions) == RECENT_SESSIONS + 2


def test_lowering_a_budget_reads_the_sessions_it_now_reaches(store: Any) -> None:
    store.write(RecordBatch(sessions=[Session("s-mid", user_id="ana")], llm_calls=_calls("s-mid", 20_000)))
    time.sleep(0.01)
    _sessions(store, "s-small-", MANY, 10)
    store.save_budget(make_budget("session", None, usd="0.001", mode="block"))
    guard = BudgetGuard(store, BERLIN)
    guard.refresh(NOW)
    assert not _blocked(guard, "s-mid")
    store.save_budget(make_budget("session", None, usd="0.000015", mode="block"))  # same id: replaced
    guard.refresh(NOW + 1_000)
    assert _blocked(guard, "s-mid")
