"""The logs of agent-trace's OpenCode plugin (sources/opencode_otel.py) beyond the golden run of
tests/sources/test_agent_sessions.py: a child session rolled into its root, as the import does,
and logs that do not hold what they should skipped without an error."""

from __future__ import annotations

import json
from typing import Any

from agent_trace.domain.records import RecordBatch
from agent_trace.sources.otlp import parse_request

ROOT, CHILD = "ses_root", "ses_child"
SESSIONS = [
    {"id": CHILD, "parentID": ROOT, "title": "explore (@explore subagent)", "time": {"created": 1_800_000_001_000}},
    {"id": ROOT, "directory": "/work/repo", "title": "fix it", "version": "1.18.33",
     "time": {"created": 1_800_000_000_000, "updated": 1_800_000_009_000}},
]  # fmt: skip


def log(attrs: dict[str, str]) -> bytes:
    record = {
        "timeUnixNano": "1800000002000000000",
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
    }
    resource = {"attributes": [{"key": "service.name", "value": {"stringValue": "opencode"}}]}
    body = {"resourceLogs": [{"resource": resource, "scopeLogs": [{"logRecords": [record]}]}]}
    return json.dumps(body).encode()


def parse(attrs: dict[str, str]) -> RecordBatch:
    return parse_request("logs", "application/json", log(attrs), received_ms=0).batch


def message(session: str, parts: list[dict[str, Any]]) -> dict[str, str]:
    info = {"id": "msg_a", "sessionID": session, "role": "assistant", "modelID": "gpt-4.1",
            "parentID": "msg_u", "time": {"created": 1_800_000_002_000}}  # fmt: skip
    return {
        "event.name": "opencode.message",
        "session.id": ROOT,
        "opencode.sessions": json.dumps([s for s in SESSIONS if session == CHILD or s["id"] == ROOT]),
        "opencode.message": json.dumps(info),
        "opencode.parts": json.dumps([{"part": p, "first": 1_800_000_002_100, "last": 1_800_000_002_200} for p in parts]),
    }  # fmt: skip


# Part ids grow with time in OpenCode (the order the parts were written).
STEP = {"id": "prt_2_step", "type": "step-finish", "cost": 0,
        "tokens": {"input": 10, "output": 4, "reasoning": 1, "cache": {"read": 90, "write": 0}}}  # fmt: skip
TOOL = {"id": "prt_1_tool", "type": "tool", "callID": "call_1", "tool": "read",
        "state": {"status": "completed", "input": {"filePath": "/work/repo/a.py"}, "output": "x",
                  "time": {"start": 1_800_000_002_050, "end": 1_800_000_002_090}}}  # fmt: skip


def test_a_child_sessions_message_is_a_subagent_of_its_root() -> None:
    batch = parse(message(CHILD, [TOOL, STEP]))
    [call] = batch.llm_calls
    assert (call.call_id, call.session_id, call.agent_id, call.is_sidechain) == (
        "opencode:prt_2_step",
        ROOT,
        CHILD,
        True,
    )
    assert call.usage is not None and (call.usage.input_tokens, call.usage.output_tokens) == (10, 5)
    [tool] = batch.tool_calls
    assert (tool.session_id, tool.agent_id, tool.call_id, tool.status) == (
        ROOT,
        CHILD,
        "opencode:prt_2_step",
        "success",
    )
    [sub] = batch.subagents
    assert (sub.session_id, sub.agent_id, sub.description) == (ROOT, CHILD, "explore (@explore subagent)")
    assert [(s.session_id, s.agent) for s in batch.sessions] == [(ROOT, "opencode")]


def test_a_roots_message_keys_its_call_by_the_step_part_and_links_its_prompt() -> None:
    batch = parse(message(ROOT, [TOOL, STEP]))
    [call] = batch.llm_calls
    assert (call.session_id, call.agent_id, call.prompt_id, call.ts_ms) == (
        ROOT,
        None,
        "msg_u",
        1_800_000_002_100,
    )
    assert [(t.path, t.op) for t in batch.file_touches] == [("/work/repo/a.py", "read")]
    [session] = batch.sessions
    assert (session.session_id, session.agent, session.project, session.title) == (
        ROOT,
        "opencode",
        "/work/repo",
        "fix it",
    )


def test_logs_without_a_usable_message_are_skipped() -> None:
    good = message(ROOT, [STEP])
    for broken in (
        {**good, "opencode.message": "{not json"},
        {**good, "opencode.message": "[1, 2]"},
        {**good, "opencode.parts": "null", "opencode.sessions": "7"},
        {**good, "event.name": "opencode.something_else"},
    ):
        batch = parse(broken)
        assert not batch.llm_calls and not batch.tool_calls
        assert [s.agent for s in batch.sessions] == ["opencode"]


def test_what_the_model_said_is_a_response_payload_key() -> None:
    """An assistant's text and reasoning parts travel in their own attribute, which a raw event
    keeps only at tier 3 (the prompt and the tools stay at tier 2, nothing of them at tier 1)."""
    from agent_trace.domain.privacy import sanitize_payload

    said = {"id": "prt_0_text", "type": "text", "text": "the model's answer"}
    attrs = {**message(ROOT, [STEP]), "opencode.response_parts": json.dumps([{"part": said}])}
    batch = parse(attrs)
    [call] = batch.llm_calls
    assert call.response_text == "the model's answer"
    [raw] = batch.raw_events
    payload = json.loads(raw.payload)
    assert "opencode.response_parts" in sanitize_payload(payload, 3)
    tier2 = sanitize_payload(payload, 2)
    assert "opencode.response_parts" not in tier2 and "opencode.parts" in tier2
    assert set(sanitize_payload(payload, 1)) <= {"event.name", "session.id"}
