"""The SSE parsing the dashboard's HTTP client relays with."""

from __future__ import annotations

from agent_trace.server.dashboard.client import LiveEvent, parse_sse


def test_parse_sse_messages() -> None:
    event = parse_sse(["id: 42", "event: session", 'data: {"session_id": "s1", "prompts": 2}'])
    assert event == LiveEvent(42, {"session_id": "s1", "prompts": 2})
    assert parse_sse(["id: 43"]) == LiveEvent(43, None)  # a resume point moving forward
    assert parse_sse([": keepalive"]) is None
    assert parse_sse(["retry: 1000", ": connected at change 7"]) is None
    assert parse_sse(["event: other", "data: {}"]) is None
