"""Budget tables on SQL (SQLite, PostgreSQL; with ClickHouse they stay in PostgreSQL).

Alerts and deliveries rely on their primary keys for "exactly once": inserting an alert that is
already there returns nothing (`ON CONFLICT DO NOTHING RETURNING`), so only the process that
inserted it creates its deliveries; a delivery is claimed by one UPDATE … RETURNING before it is
sent, so two collectors never send the same one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_trace.domain.budgets import AlertDelivery, Budget, BudgetAlert
from agent_trace.store.sql.runner import SqlRunner
from agent_trace.store.sql.sqltext import now_ms

_BUDGET_COLUMNS = "budget_id, scope, period, unit, limit_value, thresholds, mode, updated_ms"
_ALERT_COLUMNS = "budget_id, period_key, subject, threshold, spent, limit_value, message, crossed_ms"
_DELIVERY_COLUMNS = "budget_id, period_key, subject, threshold, channel, status, attempts, last_error, next_attempt_ms, updated_ms"
_ALERT_KEY = (
    "budget_id = :budget_id AND period_key = :period_key AND subject = :subject AND threshold = :threshold"
)
# A delivery left in `sending` this long (its process died mid-send) is tried again.
STALE_SENDING_MS = 120_000


def _budget(row: Sequence[Any]) -> Budget:
    return Budget(
        scope=str(row[1]),
        period=str(row[2]),
        unit=str(row[3]),
        limit=int(row[4]),
        thresholds=tuple(int(t) for t in str(row[5]).split(",") if t),
        mode=str(row[6]),
        updated_ms=int(row[7]),
    )


def _alert(row: Sequence[Any]) -> BudgetAlert:
    return BudgetAlert(
        str(row[0]), str(row[1]), str(row[2]), int(row[3]), int(row[4]), int(row[5]), str(row[6]), int(row[7])
    )


def _delivery(row: Sequence[Any]) -> AlertDelivery:
    return AlertDelivery(
        str(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4]), str(row[5]),
        int(row[6]), row[7], int(row[8]), int(row[9]),
    )  # fmt: skip


class SqlBudgets:
    """The budget part of SqlStore (mixed in; uses its runner)."""

    runner: SqlRunner

    def budgets(self) -> list[Budget]:
        rows = self.runner.query(f"SELECT {_BUDGET_COLUMNS} FROM budgets ORDER BY budget_id")
        return [_budget(r) for r in rows]

    def save_budget(self, budget: Budget) -> None:
        """Insert or replace the budget with this scope, period and unit."""
        params = {
            "budget_id": budget.budget_id,
            "scope": budget.scope,
            "period": budget.period,
            "unit": budget.unit,
            "limit_value": budget.limit,
            "thresholds": ",".join(str(t) for t in budget.thresholds),
            "mode": budget.mode,
            "updated_ms": budget.updated_ms or now_ms(),
        }
        sets = ", ".join(f"{c} = excluded.{c}" for c in list(params)[1:])
        with self.runner.transaction():
            self.runner.execute(
                f"INSERT INTO budgets ({_BUDGET_COLUMNS}) VALUES "
                "(:budget_id, :scope, :period, :unit, :limit_value, :thresholds, :mode, :updated_ms) "
                f"ON CONFLICT (budget_id) DO UPDATE SET {sets}",
                params,
            )

    def delete_budget(self, budget_id: str) -> bool:
        with self.runner.transaction():
            rows = self.runner.query(
                "DELETE FROM budgets WHERE budget_id = :budget_id RETURNING budget_id",
                {"budget_id": budget_id},
            )
        return bool(rows)

    def record_alert(self, alert: BudgetAlert, channels: Sequence[str]) -> bool:
        """Store the alert and a pending delivery per channel; False (and nothing written) when
        this alert was recorded before."""
        params = {
            "budget_id": alert.budget_id,
            "period_key": alert.period_key,
            "subject": alert.subject,
            "threshold": alert.threshold,
            "spent": alert.spent,
            "limit_value": alert.limit,
            "message": alert.message,
            "crossed_ms": alert.crossed_ms,
        }
        with self.runner.transaction():
            inserted = self.runner.query(
                f"INSERT INTO budget_alerts ({_ALERT_COLUMNS}) VALUES (:budget_id, :period_key, :subject, "
                ":threshold, :spent, :limit_value, :message, :crossed_ms) "
                "ON CONFLICT (budget_id, period_key, subject, threshold) DO NOTHING RETURNING budget_id",
                params,
            )
            if not inserted:
                return False
            self.runner.execute_many(
                f"INSERT INTO alert_deliveries ({_DELIVERY_COLUMNS}) VALUES (:budget_id, :period_key, "
                ":subject, :threshold, :channel, 'pending', 0, NULL, :crossed_ms, :crossed_ms) "
                "ON CONFLICT (budget_id, period_key, subject, threshold, channel) DO NOTHING",
                [{**params, "channel": c} for c in channels],
            )
        return True

    def budget_alerts(self, since_ms: int = 0, limit: int = 200) -> list[BudgetAlert]:
        rows = self.runner.query(
            f"SELECT {_ALERT_COLUMNS} FROM budget_alerts WHERE crossed_ms >= :since "
            "ORDER BY crossed_ms DESC, budget_id, threshold DESC LIMIT :limit",
            {"since": since_ms, "limit": limit},
        )
        return [_alert(r) for r in rows]

    def alert_deliveries(self, limit: int = 200) -> list[AlertDelivery]:
        rows = self.runner.query(
            f"SELECT {_DELIVERY_COLUMNS} FROM alert_deliveries ORDER BY updated_ms DESC, channel LIMIT :limit",
            {"limit": limit},
        )
        return [_delivery(r) for r in rows]

    def claim_deliveries(self, now: int, limit: int = 20) -> list[tuple[AlertDelivery, BudgetAlert]]:
        """Deliveries due now, each marked `sending` by this call (so no other process sends it)."""
        claimed: list[tuple[AlertDelivery, BudgetAlert]] = []
        with self.runner.transaction():
            due = self.runner.query(
                f"SELECT {_DELIVERY_COLUMNS} FROM alert_deliveries WHERE (status = 'pending' "
                "AND next_attempt_ms <= :now) OR (status = 'sending' AND updated_ms <= :stale) "
                "ORDER BY next_attempt_ms LIMIT :limit",
                {"now": now, "stale": now - STALE_SENDING_MS, "limit": limit},
            )
            for row in due:
                d = _delivery(row)
                key = {
                    "budget_id": d.budget_id,
                    "period_key": d.period_key,
                    "subject": d.subject,
                    "threshold": d.threshold,
                }
                taken = self.runner.query(
                    f"UPDATE alert_deliveries SET status = 'sending', updated_ms = :now WHERE {_ALERT_KEY} "
                    "AND channel = :channel AND status = :status AND updated_ms = :seen RETURNING channel",
                    {**key, "channel": d.channel, "status": d.status, "seen": d.updated_ms, "now": now},
                )
                alert = self.runner.query(
                    f"SELECT {_ALERT_COLUMNS} FROM budget_alerts WHERE {_ALERT_KEY}", key
                )
                if taken and alert:
                    claimed.append((d, _alert(alert[0])))
        return claimed

    def finish_delivery(self, delivery: AlertDelivery) -> None:
        """Save the outcome of an attempt (status, attempts, error, next attempt)."""
        with self.runner.transaction():
            self.runner.execute(
                "UPDATE alert_deliveries SET status = :status, attempts = :attempts, last_error = :last_error, "
                f"next_attempt_ms = :next_attempt_ms, updated_ms = :updated_ms WHERE {_ALERT_KEY} AND channel = :channel",
                {
                    "budget_id": delivery.budget_id,
                    "period_key": delivery.period_key,
                    "subject": delivery.subject,
                    "threshold": delivery.threshold,
                    "channel": delivery.channel,
                    "status": delivery.status,
                    "attempts": delivery.attempts,
                    "last_error": delivery.last_error,
                    "next_attempt_ms": delivery.next_attempt_ms,
                    "updated_ms": delivery.updated_ms,
                },
            )

    def allow_session(self, session_id: str) -> None:
        with self.runner.transaction():
            self.runner.execute(
                "INSERT INTO budget_allowances (session_id, allowed_ms) VALUES (:sid, :now) "
                "ON CONFLICT (session_id) DO UPDATE SET allowed_ms = excluded.allowed_ms",
                {"sid": session_id, "now": now_ms()},
            )

    def allowed_sessions(self) -> set[str]:
        return {str(r[0]) for r in self.runner.query("SELECT session_id FROM budget_allowances")}
