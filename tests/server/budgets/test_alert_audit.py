"""Every outgoing alert delivery attempt is in the tamper-evident audit log: channel, target
host (never the URL: a Slack or webhook URL carries its secret), attempt, outcome."""

from __future__ import annotations

import threading
from http.server import ThreadingHTTPServer
from typing import Any

from agent_trace.domain.audit_chain import verify_chain
from agent_trace.domain.budgets import make_budget
from agent_trace.store.identity import identity_of
from tests.server.budgets.test_alerts import NOW, USD, Receiver, _service, _spend


def test_each_alert_delivery_attempt_is_audited(sqlite_store: Any) -> None:
    receiver = Receiver(statuses=[500])
    server = ThreadingHTTPServer(("127.0.0.1", 0), receiver.handler())
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/s3cr3t"
        _spend(sqlite_store, "c1", 6 * USD, NOW)
        sqlite_store.save_budget(make_budget("all", "month", usd="10"))
        service = _service(sqlite_store, slack_webhook_url=url, retry_base_s=1.0, max_attempts=5)
        service.tick(NOW)
        service.tick(NOW + 1_000)
    finally:
        server.shutdown()
        server.server_close()
    ids = identity_of(sqlite_store)
    entries = [e for e in ids.audit_entries() if e.action == "alert_delivery"]
    assert [
        (e.actor, e.target, e.detail["channel"], e.detail["attempt"], e.detail["outcome"]) for e in entries
    ] == [
        ("budgets", "127.0.0.1", "slack", 1, "retrying"),
        ("budgets", "127.0.0.1", "slack", 2, "sent"),
    ]
    assert "500" in entries[0].detail["error"] and entries[1].detail["error"] is None
    assert entries[0].detail["budget"] == "all/month/usd" and entries[0].detail["threshold"] == 50
    assert "s3cr3t" not in str([e.as_json() for e in entries])
    assert verify_chain(ids.audit_rows(), ids.audit_head()) == []
