"""Budget alerts: one message per threshold crossing on every channel (webhook, Slack-style,
e-mail through a real local SMTP server), none repeated after a restart, failures retried with
backoff and recorded."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from agent_trace.config import BudgetSettings, Settings
from agent_trace.domain.budgets import make_budget
from agent_trace.domain.records import LlmCall, RecordBatch, Session, Usage
from agent_trace.server.budgets.alerts import AlertSender
from agent_trace.server.budgets.guard import BudgetGuard
from agent_trace.server.budgets.service import BudgetService
from tests.e2e.conftest import Collector
from tests.fixtures.stores import sqlite_store_at

NOW = 1_774_785_600_000  # 2026-03-29T12:00:00Z
USD = 1_000_000_000


@dataclass
class Receiver:
    """An HTTP endpoint that records every POST body and answers with scripted statuses."""

    statuses: list[int] = field(default_factory=list)  # consumed in order; then 200
    bodies: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                receiver.bodies.append(json.loads(self.rfile.read(length)))
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        return Handler


@pytest.fixture
def receivers() -> Iterator[dict[str, Receiver]]:
    found: dict[str, Receiver] = {}
    servers = []
    for name in ("webhook", "slack"):
        receiver = Receiver()
        server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
        receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook/{name}"
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        servers.append(server)
        found[name] = receiver
    yield found
    for server in servers:
        server.shutdown()
        server.server_close()


@dataclass
class Mailbox:
    messages: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    from aiosmtpd.controller import Controller

    from tests.e2e.conftest import free_port

    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, mailbox
    controller.stop()


def _spend(store: Any, call_id: str, nusd: int, ts_ms: int) -> None:
    store.write(RecordBatch(
        sessions=[Session("s1", user_id="dev", project="/w/api")],
        llm_calls=[LlmCall(call_id, "s1", model="m", ts_ms=ts_ms, usage=Usage(1, 1), cost_nusd=nusd)],
    ))  # fmt: skip


def _wait(condition: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# -- in process, stepping the clock ----------------------------------------------------------------


def _service(store: Any, **alerts: Any) -> BudgetService:
    guard = BudgetGuard(store, None, contact="ask ops")
    return BudgetService(guard, AlertSender(store, BudgetSettings(**alerts)), interval_s=1.0)


def test_a_failing_webhook_is_retried_with_backoff_and_recorded(
    sqlite_store: Any, receivers: dict[str, Receiver]
) -> None:
    hook = receivers["webhook"]
    hook.statuses = [500, 503]
    _spend(sqlite_store, "c1", 6 * USD, NOW)
    sqlite_store.save_budget(make_budget("all", "month", usd="10"))
    service = _service(sqlite_store, webhook_url=hook.url, retry_base_s=2.0, max_attempts=5)

    service.tick(NOW)
    (d,) = sqlite_store.alert_deliveries()
    assert (d.status, d.attempts, d.next_attempt_ms) == ("pending", 1, NOW + 2_000)
    assert d.last_error is not None and "500" in d.last_error
    service.tick(NOW + 1_999)  # not due yet
    assert len(hook.bodies) == 1
    service.tick(NOW + 2_000)
    (d,) = sqlite_store.alert_deliveries()
    assert (d.status, d.attempts, d.next_attempt_ms) == ("pending", 2, NOW + 2_000 + 4_000)  # doubled
    service.tick(NOW + 6_000)
    (d,) = sqlite_store.alert_deliveries()
    assert (d.status, d.attempts, d.last_error) == ("sent", 3, None)
    assert len(hook.bodies) == 3 and hook.bodies[0] == hook.bodies[2]
    body = hook.bodies[0]
    assert (body["type"], body["budget_id"], body["threshold"], body["spent"], body["limit"]) == (
        "budget.threshold_crossed", "all/month/usd", 50, "$6.00", "$10.00",
    )  # fmt: skip
    service.tick(NOW + 60_000)
    assert len(hook.bodies) == 3  # sent once; the crossing is not alerted again


def test_a_webhook_that_keeps_failing_is_given_up_and_shown(
    sqlite_store: Any, receivers: dict[str, Receiver], settings: Settings
) -> None:
    hook = receivers["webhook"]
    hook.statuses = [500] * 10
    _spend(sqlite_store, "c1", 10 * USD, NOW)
    sqlite_store.save_budget(make_budget("all", "month", usd="10", thresholds="100", mode="block"))
    service = _service(sqlite_store, webhook_url=hook.url, retry_base_s=1.0, max_attempts=2)
    service.tick(NOW)
    service.tick(NOW + 1_000)
    service.tick(NOW + 100_000)
    (d,) = sqlite_store.alert_deliveries()
    assert (d.status, d.attempts) == ("failed", 2) and "HTTP Error 500" in str(d.last_error)
    assert len(hook.bodies) == 2

    from agent_trace.server.budgets.report import banner_lines, budgets_report

    report = budgets_report(sqlite_store, None, now_ms=NOW)
    assert report["deliveries"][0]["status"] == "failed"
    assert banner_lines(report) == ["budget all/month/usd: SPENT — $10.00 of $10.00, prompts blocked"]


def test_thresholds_crossed_together_send_one_message_for_the_highest(
    sqlite_store: Any, receivers: dict[str, Receiver]
) -> None:
    _spend(sqlite_store, "c1", 9 * USD, NOW)
    sqlite_store.save_budget(make_budget("all", "month", usd="10"))
    service = _service(sqlite_store, slack_webhook_url=receivers["slack"].url)
    service.tick(NOW)
    service.tick(NOW + 5_000)
    assert [b["text"] for b in receivers["slack"].bodies] == [
        "agent-trace budget all/month/usd crossed 80% (2026-03): $9.00 of $10.00, mode warn."
    ]
    assert sorted(a.threshold for a in sqlite_store.budget_alerts()) == [50, 80]


# -- a real server, restarted ------------------------------------------------------------------------


def test_each_crossing_reaches_every_channel_once_across_a_restart(
    tmp_path: Path, receivers: dict[str, Receiver], smtp: tuple[int, Mailbox]
) -> None:
    port, mailbox = smtp
    env = {
        "AGENT_TRACE_ALERT_WEBHOOK_URL": receivers["webhook"].url,
        "AGENT_TRACE_ALERT_SLACK_WEBHOOK_URL": receivers["slack"].url,
        "AGENT_TRACE_SMTP_HOST": "127.0.0.1",
        "AGENT_TRACE_SMTP_PORT": str(port),
        "AGENT_TRACE_ALERT_EMAIL_TO": "lead@example.com, ops@example.com",
        "AGENT_TRACE_ALERT_EMAIL_FROM": "agent-trace@example.com",
        "AGENT_TRACE_BUDGET_REFRESH_SECONDS": "0.2",
        "AGENT_TRACE_BUDGET_CONTACT": "ask the platform team (#eng-budget)",
    }
    collector = Collector(tmp_path / "server", env=env)
    collector.home.mkdir(parents=True)
    store = sqlite_store_at(collector.database)
    try:
        now = time.time_ns() // 1_000_000
        store.save_budget(make_budget("all", "month", usd="10", mode="block"))
        _spend(store, "c1", 6 * USD, now)  # 60%: crosses 50
        collector.start()
        try:
            _wait(lambda: len(mailbox.messages) == 1 and len(receivers["webhook"].bodies) == 1
                  and len(receivers["slack"].bodies) == 1, "the 50% alert")  # fmt: skip
        finally:
            collector.stop()
        collector.start()  # a restart: the 50% crossing is still there, and must not alert again
        try:
            _spend(store, "c2", 2_500_000_000, now)  # 85%: crosses 80
            _wait(lambda: len(mailbox.messages) == 2, "the 80% e-mail")
            _wait(
                lambda: len(receivers["webhook"].bodies) == 2 and len(receivers["slack"].bodies) == 2,
                "the 80% posts",
            )
            _spend(store, "c3", 1_500_000_000, now)  # 100%
            _wait(lambda: len(mailbox.messages) == 3, "the 100% e-mail")
            _wait(lambda: all(d.status == "sent" for d in store.alert_deliveries()), "every delivery sent")
            time.sleep(1.0)  # several more rounds of the service: still nothing new
        finally:
            collector.stop()
    finally:
        store.close()
    assert [b["threshold"] for b in receivers["webhook"].bodies] == [50, 80, 100]
    assert [m["Subject"] for m in mailbox.messages] == [
        "[agent-trace] budget all/month/usd at 50%",
        "[agent-trace] budget all/month/usd at 80%",
        "[agent-trace] budget all/month/usd at 100%",
    ]
    assert mailbox.messages[0]["To"] == "lead@example.com, ops@example.com"
    last = receivers["slack"].bodies[-1]["text"]
    assert last.startswith("agent-trace budget blocked: all USD budget for this month")
    assert last.endswith("is spent: $10.00 of $10.00. To raise it: ask the platform team (#eng-budget).")
    assert len(receivers["slack"].bodies) == 3
    reopened = sqlite_store_at(collector.database)
    try:
        deliveries = reopened.alert_deliveries()
    finally:
        reopened.close()
    assert len(deliveries) == 9 and {(d.channel, d.status, d.attempts) for d in deliveries} == {
        ("webhook", "sent", 1), ("slack", "sent", 1), ("email", "sent", 1),
    }  # fmt: skip
