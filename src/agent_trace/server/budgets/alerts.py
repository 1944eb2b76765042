"""Budget alerts: record each threshold crossing once, then deliver it with retries.

A crossing is recorded in the store under its key (budget, period, subject, threshold); the
insert tells whether it is new, so a restarted collector (or a second one) never alerts twice.
When several thresholds are crossed at once (a budget created at 90% spent), all are recorded
and one message goes out, for the highest. Each channel's delivery is its own row: claimed
before sending, retried with exponential backoff on failure, `failed` after the last attempt,
and kept for `agent-trace budgets list`, the dashboard and the API.

Channels (docs/configuration.md, "Budgets and alerts"):
    webhook  POST a JSON document (`type`, `budget`, `threshold`, `spent`, `limit`, `message`, …)
    slack    POST `{"text": message}` (a Slack incoming webhook, or anything that takes that shape)
    email    one message through the configured SMTP server
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from agent_trace.config import BudgetSettings
from agent_trace.domain.budgets import AlertDelivery, Budget, BudgetAlert, format_amount, refusal_message
from agent_trace.server.budgets.guard import BudgetStatus
from agent_trace.store.port import Store

log = logging.getLogger("agent_trace.budgets")
SEND_TIMEOUT_S = 10.0


def channels(settings: BudgetSettings) -> list[str]:
    out = []
    if settings.webhook_url:
        out.append("webhook")
    if settings.slack_webhook_url:
        out.append("slack")
    if settings.smtp_host and settings.email_to:
        out.append("email")
    return out


def alert_message(budget: Budget, threshold: int, spent: int, period_key: str, contact: str) -> str:
    if threshold >= 100:
        return refusal_message(budget, spent, period_key, contact)
    return (
        f"agent-trace budget {budget.budget_id} crossed {threshold}% ({period_key}): "
        f"{format_amount(budget.unit, spent)} of {format_amount(budget.unit, budget.limit)}, mode {budget.mode}."
    )


def record_crossings(
    store: Store, statuses: Sequence[BudgetStatus], settings: BudgetSettings, contact: str, now_ms: int
) -> list[BudgetAlert]:
    """Record every threshold crossed now and not recorded before; returns the new alerts."""
    wanted = channels(settings)
    new: list[BudgetAlert] = []
    for status in statuses:
        budget = status.budget
        crossed = [t for t in budget.thresholds if status.spent * 100 >= t * budget.limit]
        delivered = False
        for threshold in sorted(crossed, reverse=True):
            alert = BudgetAlert(
                budget_id=budget.budget_id,
                period_key=status.period_key,
                subject=status.subject,
                threshold=threshold,
                spent=status.spent,
                limit=budget.limit,
                message=alert_message(budget, threshold, status.spent, status.period_key, contact),
                crossed_ms=now_ms,
            )
            if store.record_alert(alert, [] if delivered else wanted):
                delivered = True
                new.append(alert)
                log.info("budget alert: %s", alert.message)
    return new


Sender = Callable[[AlertDelivery, BudgetAlert], None]


class AlertSender:
    """Sends claimed deliveries and records the outcome."""

    def __init__(
        self, store: Store, settings: BudgetSettings, senders: dict[str, Sender] | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.senders: dict[str, Sender] = senders or {
            "webhook": self._webhook,
            "slack": self._slack,
            "email": self._email,
        }

    def run_due(self, now_ms: int) -> list[AlertDelivery]:
        done: list[AlertDelivery] = []
        for delivery, alert in self.store.claim_deliveries(now_ms):
            attempts = delivery.attempts + 1
            try:
                self.senders[delivery.channel](delivery, alert)
            except Exception as exc:  # any failure of a channel is recorded and retried
                error = f"{type(exc).__name__}: {exc}"[:500]
                final = attempts >= self.settings.max_attempts
                delay_ms = int(self.settings.retry_base_s * 1000 * 2 ** (attempts - 1))
                outcome = replace(
                    delivery,
                    status="failed" if final else "pending",
                    attempts=attempts,
                    last_error=error,
                    next_attempt_ms=now_ms + delay_ms,
                    updated_ms=now_ms,
                )
                log.warning(
                    "budget alert %s via %s: attempt %d failed (%s)%s",
                    alert.budget_id, delivery.channel, attempts, error, "; giving up" if final else "",
                )  # fmt: skip
            else:
                outcome = replace(
                    delivery, status="sent", attempts=attempts, last_error=None, updated_ms=now_ms
                )
            self.store.finish_delivery(outcome)
            self._audit(outcome, alert)
            done.append(outcome)
        return done

    def _audit(self, outcome: AlertDelivery, alert: BudgetAlert) -> None:
        """Each attempt in the audit log, naming only the target's host: a Slack or webhook URL
        usually carries its secret in the path. Runs on the budget service's thread."""
        from agent_trace.store.identity import identity_of

        detail = {
            "channel": outcome.channel,
            "budget": alert.budget_id,
            "period": alert.period_key,
            "threshold": alert.threshold,
            "attempt": outcome.attempts,
            "outcome": {"sent": "sent", "pending": "retrying"}.get(outcome.status, outcome.status),
            "error": outcome.last_error,
        }
        identity_of(self.store).append_audit("budgets", "alert_delivery", self._host(outcome.channel), detail)

    def _host(self, channel: str) -> str | None:
        s = self.settings
        url = {"webhook": s.webhook_url, "slack": s.slack_webhook_url}.get(channel)
        if url is not None:
            return urlsplit(url).hostname
        return s.smtp_host if channel == "email" else None

    # -- channels -----------------------------------------------------------------------------

    def _webhook(self, delivery: AlertDelivery, alert: BudgetAlert) -> None:
        assert self.settings.webhook_url
        _post_json(self.settings.webhook_url, webhook_body(alert))

    def _slack(self, delivery: AlertDelivery, alert: BudgetAlert) -> None:
        assert self.settings.slack_webhook_url
        _post_json(self.settings.slack_webhook_url, {"text": alert.message})

    def _email(self, delivery: AlertDelivery, alert: BudgetAlert) -> None:
        s = self.settings
        assert s.smtp_host
        message = EmailMessage()
        message["Subject"] = f"[agent-trace] budget {alert.budget_id} at {alert.threshold}%"
        message["From"] = s.email_from
        message["To"] = ", ".join(s.email_to)
        message.set_content(alert.message + "\n")
        with smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=SEND_TIMEOUT_S) as smtp:
            if s.smtp_starttls:
                smtp.starttls()
            if s.smtp_user:
                smtp.login(s.smtp_user, s.smtp_password or "")
            smtp.send_message(message)


def webhook_body(alert: BudgetAlert) -> dict[str, Any]:
    scope, period, unit = alert.budget_id.split("/")
    return {
        "type": "budget.threshold_crossed",
        "budget_id": alert.budget_id,
        "scope": scope,
        "period": period,
        "unit": unit,
        "period_key": alert.period_key,
        "session_id": alert.subject or None,
        "threshold": alert.threshold,
        "spent": format_amount(unit, alert.spent, exact=True),
        "limit": format_amount(unit, alert.limit, exact=True),
        "spent_raw": alert.spent,
        "limit_raw": alert.limit,
        "message": alert.message,
        "crossed_at": datetime.fromtimestamp(alert.crossed_ms / 1000, UTC).isoformat().replace("+00:00", "Z"),
        "text": alert.message,  # so a Slack-style receiver shows something too
    }


def _post_json(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "agent-trace-alerts"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_S) as response:
        response.read()
