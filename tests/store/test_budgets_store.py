"""Budget tables on every backend: replace by id, alerts exactly once, deliveries claimed once."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agent_trace.domain.budgets import Budget, BudgetAlert, make_budget


def _alert(threshold: int, period_key: str = "2026-12", subject: str = "") -> BudgetAlert:
    return BudgetAlert("all/month/usd", period_key, subject, threshold, 600, 1000, f"at {threshold}%", 1_000)


def test_budgets_are_replaced_by_scope_period_and_unit(store: Any) -> None:
    store.save_budget(make_budget("all", "month", usd="10", updated_ms=5))
    store.save_budget(make_budget("all", "month", tokens="1m", mode="block", updated_ms=6))
    store.save_budget(
        make_budget("all", "month", usd="25.5", thresholds="80,100", mode="block", updated_ms=7)
    )
    store.save_budget(make_budget("project:/home/ä/api", "day", usd="1", updated_ms=8))
    budgets = {b.budget_id: b for b in store.budgets()}
    assert list(budgets) == sorted(budgets)
    assert budgets["all/month/usd"] == Budget("all", "month", "usd", 25_500_000_000, (80, 100), "block", 7)
    assert budgets["all/month/tokens"].limit == 1_000_000
    assert budgets["project:/home/ä/api/day/usd"].scope == "project:/home/ä/api"
    assert store.delete_budget("all/month/tokens") is True
    assert store.delete_budget("all/month/tokens") is False
    assert [b.budget_id for b in store.budgets()] == ["all/month/usd", "project:/home/ä/api/day/usd"]


def test_an_alert_is_recorded_once_with_one_delivery_per_channel(store: Any) -> None:
    assert store.record_alert(_alert(50), ["webhook", "email"]) is True
    assert store.record_alert(_alert(50), ["webhook", "email"]) is False  # a restart, or a second collector
    assert store.record_alert(_alert(50, "2027-01"), ["webhook"]) is True  # the next period alerts again
    assert store.record_alert(_alert(80), []) is True  # recorded, nothing to send
    alerts = store.budget_alerts()
    assert sorted((a.period_key, a.threshold) for a in alerts) == [
        ("2026-12", 50),
        ("2026-12", 80),
        ("2027-01", 50),
    ]
    assert alerts[0].threshold == 80  # newest first, then the highest threshold
    deliveries = store.alert_deliveries()
    assert sorted((d.period_key, d.channel, d.status) for d in deliveries) == [
        ("2026-12", "email", "pending"), ("2026-12", "webhook", "pending"), ("2027-01", "webhook", "pending"),
    ]  # fmt: skip


def test_deliveries_are_claimed_once_and_retried_when_due(store: Any) -> None:
    store.record_alert(_alert(50), ["webhook"])
    claimed = store.claim_deliveries(now=2_000)
    assert [(d.channel, d.status, a.threshold) for d, a in claimed] == [("webhook", "pending", 50)]
    assert store.claim_deliveries(now=2_000) == []  # being sent by the first claimer
    delivery = claimed[0][0]
    store.finish_delivery(
        replace(
            delivery,
            status="pending",
            attempts=1,
            last_error="HTTP 500",
            next_attempt_ms=9_000,
            updated_ms=2_000,
        )
    )
    assert store.claim_deliveries(now=8_999) == []
    again = store.claim_deliveries(now=9_000)
    assert [(d.attempts, d.last_error) for d, _ in again] == [(1, "HTTP 500")]
    store.finish_delivery(replace(again[0][0], status="sent", attempts=2, last_error=None, updated_ms=9_001))
    assert store.claim_deliveries(now=10**12) == []
    (done,) = store.alert_deliveries()
    assert (done.status, done.attempts, done.last_error) == ("sent", 2, None)


def test_a_delivery_left_sending_by_a_dead_process_is_taken_again(store: Any) -> None:
    from agent_trace.store.sql.budgets import STALE_SENDING_MS

    store.record_alert(_alert(100), ["email"])
    assert len(store.claim_deliveries(now=5_000)) == 1
    assert store.claim_deliveries(now=5_000 + STALE_SENDING_MS - 1) == []
    assert len(store.claim_deliveries(now=5_000 + STALE_SENDING_MS)) == 1


def test_allowed_sessions(store: Any) -> None:
    assert store.allowed_sessions() == set()
    store.allow_session("s1")
    store.allow_session("s1")
    store.allow_session("s2")
    assert store.allowed_sessions() == {"s1", "s2"}
