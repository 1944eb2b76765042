"""The hook's tier rule agrees with the collector's (domain.privacy): both strip with
domain.payload_keys.strip_payload (stdlib only), the hook keeping two keys more at tier 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain import privacy
from agent_trace.domain.payload_keys import CLIENT_METADATA_KEYS, PAYLOAD_METADATA_KEYS, PAYLOAD_RESPONSE_KEYS
from agent_trace.hook.worker import sanitize_payload

SECRET = "ghp_" + "a1B2c3D4e5" * 4

PAYLOADS: list[dict[str, Any]] = [
    {
        "session_id": "s1",
        "hook_event_name": "PostToolUse",
        "cwd": "/work",
        "transcript_path": "/home/dev/.claude/projects/-work/s1.jsonl",
        "tool_name": "Bash",
        "tool_use_id": "toolu_1",
        "tool_input": {"command": f"GITHUB_TOKEN={SECRET} gh pr list", "description": "list"},
        "tool_response": {"stdout": "ok", "stderr": "", "interrupted": False},
        "duration_ms": 12,
        "permission_mode": "default",
        "effort": {"level": "medium"},
    },
    {
        "session_id": "s1",
        "hook_event_name": "Stop",
        "cwd": "/work",
        "stop_hook_active": False,
        "last_assistant_message": "All done.",
        "background_tasks": [],
    },
    {"session_id": "s1", "hook_event_name": "UserPromptSubmit", "prompt": "hello", "prompt_id": "p1"},
]


def test_metadata_keys_are_the_collectors_plus_cwd() -> None:
    hook_metadata = PAYLOAD_METADATA_KEYS | CLIENT_METADATA_KEYS
    assert hook_metadata - {"cwd", "transcript_path"} == PAYLOAD_METADATA_KEYS
    assert tuple(f'"{key}"' for key in sorted(PAYLOAD_RESPONSE_KEYS)) == privacy._RESPONSE_MARKERS


@pytest.mark.parametrize("tier", [1, 2, 3])
@pytest.mark.parametrize("payload", PAYLOADS, ids=lambda p: p["hook_event_name"])
def test_client_and_server_keep_the_same(payload: dict[str, Any], tier: int) -> None:
    client = sanitize_payload(payload, tier)
    server = privacy.sanitize_payload(payload, tier)
    # The collector keeps a session's cwd at every tier; the client sends it for that.
    for key in ("cwd", "transcript_path"):
        if tier == 1:
            client.pop(key, None)
    assert client == server
    assert SECRET not in json.dumps(client)


def test_payload_is_not_changed_in_place() -> None:
    payload = json.loads(json.dumps(PAYLOADS[0]))
    sanitize_payload(payload, 1)
    assert payload == PAYLOADS[0]


def test_tiers_for_a_tool_call(tmp_path: Path) -> None:
    t1, t2, t3 = (sanitize_payload(PAYLOADS[0], t) for t in (1, 2, 3))
    assert "tool_input" not in t1 and t1["tool_use_id"] == "toolu_1" and t1["duration_ms"] == 12
    assert (
        t2["tool_input"]["description"] == "list" and "[REDACTED:github-token]" in t2["tool_input"]["command"]
    )
    assert t3 == t2
    _, stop2, stop3 = (sanitize_payload(PAYLOADS[1], t) for t in (1, 2, 3))
    assert "last_assistant_message" not in stop2 and stop3["last_assistant_message"] == "All done."
