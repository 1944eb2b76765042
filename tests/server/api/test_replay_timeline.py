"""GET /v1/sessions/{id} (the full replay) and /v1/timeline?session_id=."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from agent_trace.server.api import models
from tests.fixtures.showcase import SCRIPT, TOOLS
from tests.server.conftest import error_of
from tests.server.dataset import Dataset


def all_tools(node: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for step in node.get("steps", []):
        for tool in step["tools"]:
            found.append(tool)
            if tool["subagent"]:
                found.extend(all_tools(tool["subagent"]))
    for tool in node.get("tools", []):
        found.append(tool)
    for sub in node.get("subagents", []):
        found.extend(all_tools(sub))
    return found


def test_replay_is_prompt_by_prompt_with_subagents_nested(api: TestClient, dataset: Dataset) -> None:
    response = api.get(f"/v1/sessions/{dataset.showcase.session_id}")
    assert response.status_code == 200
    replay = response.json()
    models.Replay.model_validate(replay)
    assert [p["text"][:20] for p in replay["prompts"]] == ["Fix the login page <", "thanks, now commit i"]
    first = replay["prompts"][0]
    names = {t["tool_name"] for t in all_tools(first)}
    assert set(TOOLS) <= names
    [agent] = [t for t in all_tools(first) if t["tool_name"] == "Agent"]
    sub = agent["subagent"]
    assert sub["agent_id"] == dataset.showcase.agent_id and sub["agent_type"] == "Explore"
    assert [t["tool_name"] for s in sub["steps"] for t in s["tools"]] == ["Bash", "Read"]
    [failed] = [t for t in all_tools(first) if t["status"] == "error"]
    assert failed["tool_use_id"] == dataset.showcase.failed_tool_id
    assert first["tool_errors"] == 1 and first["tool_calls"] == 17
    assert "/home/dev/showcase/templates/login.html" in first["files_written"]
    assert "/home/dev/showcase/app.py" in first["files_read"]
    assert first["response"].startswith("Fixed it.")
    assert any(s["thinking"] for s in first["steps"])  # tier 3 keeps thinking
    # Tokens and cost per prompt add up to the session's.
    total = sum(p["totals"]["cost_usd"] for p in replay["prompts"])
    assert abs(total - replay["totals"]["cost_usd"]) < 1e-9
    assert replay["summary"]["session_id"] == dataset.showcase.session_id
    assert replay["session"]["git"]["branch"] == "main"


def test_replay_returns_transcript_text_verbatim(api: TestClient, dataset: Dataset) -> None:
    """The API is JSON: untrusted text is data, escaped by whoever renders it."""
    replay = api.get(f"/v1/sessions/{dataset.showcase.session_id}").json()
    assert SCRIPT in replay["prompts"][0]["text"]
    assert response_type(api, dataset) == "application/json"


def response_type(api: TestClient, dataset: Dataset) -> str:
    return str(api.get(f"/v1/sessions/{dataset.showcase.session_id}").headers["content-type"])


def test_unknown_session_is_404_naming_it(api: TestClient) -> None:
    response = api.get("/v1/sessions/no-such-session")
    assert response.status_code == 404
    error = error_of(response)
    assert (error["code"], error["field"]) == ("not_found", "session_id")
    assert "no-such-session" in error["message"]


def test_timeline_orders_every_event(api: TestClient, dataset: Dataset) -> None:
    response = api.get("/v1/timeline", params={"session_id": dataset.showcase.session_id})
    assert response.status_code == 200
    body = response.json()
    models.Timeline.model_validate(body)
    events = body["events"]
    stamps = [e["ts_ms"] for e in events]
    assert stamps == sorted(stamps)
    kinds = {e["kind"] for e in events}
    assert {"prompt", "llm_call", "tool_call", "subagent_start", "subagent_end"} <= kinds
    assert sum(1 for e in events if e["kind"] == "tool_call") == 18
    assert sum(1 for e in events if e["kind"] == "prompt") == 2
    assert events[0]["kind"] == "prompt"
    bash = next(e for e in events if e["kind"] == "tool_call" and e["name"] == "Bash")
    assert bash["detail"].startswith("echo")
    failed = next(e for e in events if e["id"] == dataset.showcase.failed_tool_id)
    assert failed["status"] == "error"


def test_timeline_kind_filter_and_errors(api: TestClient, dataset: Dataset) -> None:
    sid = dataset.showcase.session_id
    only = api.get(f"/v1/timeline?session_id={sid}&kind=prompt,subagent_start").json()["events"]
    assert {e["kind"] for e in only} == {"prompt", "subagent_start"}
    missing = api.get("/v1/timeline")
    assert missing.status_code == 400 and error_of(missing)["field"] == "session_id"
    bad_kind = api.get(f"/v1/timeline?session_id={sid}&kind=dance")
    assert bad_kind.status_code == 400 and error_of(bad_kind)["field"] == "kind"
    unknown = api.get("/v1/timeline?session_id=nope")
    assert unknown.status_code == 404 and error_of(unknown)["field"] == "session_id"
