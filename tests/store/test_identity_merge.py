"""Who a session belongs to, whichever channel names the developer first."""

from __future__ import annotations

from typing import Any

from agent_trace.domain.records import RecordBatch, Session


def _user_of(store: Any, session_id: str) -> str | None:
    detail = store.session_detail(session_id)
    return None if detail is None else detail.session["user_id"]


def test_a_real_identity_replaces_the_anonymous_telemetry_hash(store: Any) -> None:
    store.write(RecordBatch(sessions=[Session("s1", user_id="otel:8036bd")]))
    store.write(RecordBatch(sessions=[Session("s1", user_id="dev@example.com")]))
    store.write(RecordBatch(sessions=[Session("s1", user_id="otel:8036bd")]))
    assert _user_of(store, "s1") == "dev@example.com"


def test_the_first_real_identity_stays(store: Any) -> None:
    store.write(RecordBatch(sessions=[Session("s2", user_id="alice")]))
    store.write(RecordBatch(sessions=[Session("s2", user_id="bob")]))
    store.write(RecordBatch(sessions=[Session("s2", user_id="otel:ffff")]))
    assert _user_of(store, "s2") == "alice"
