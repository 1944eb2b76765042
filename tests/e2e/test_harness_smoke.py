"""The e2e harness itself works: the real Claude Code CLI runs offline against the fake API, and what
it writes to its transcripts carries exactly the ids and usage the fake logged.

These tests check the harness, not agent-trace; product tests build on the same pieces.
"""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .support.claude_cli import ClaudeSession, CliRun, read_jsonl
from .support.fake_anthropic import FakeAnthropic, Scenario, Thinking, Usage
from .support.scenarios import (
    ALL_SCENARIOS,
    COMMIT_MESSAGE,
    FAILING_TOOL,
    GREET_PY_EDITED,
    MULTI_PROMPT,
    OVERLOADED_ONCE,
    STREAM_RETRY,
    SUBAGENT,
    TOOLS,
)

pytestmark = pytest.mark.e2e


# The fixtures (claude_binary, fake, session) live in conftest.py.


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def run_all_prompts(session: ClaudeSession, scenario: Scenario) -> list[CliRun]:
    return [session.run(prompt) for prompt in scenario.prompts]


def transcript_files(run: CliRun) -> list[Path]:
    assert run.transcript_path is not None and run.transcript_path.is_file(), run.describe()
    return [run.transcript_path, *run.subagent_transcripts()]


def line_usage(line: dict[str, Any]) -> Usage:
    usage = line["message"]["usage"]
    split = usage.get("cache_creation") or {}
    result = Usage(
        input_tokens=usage["input_tokens"],
        output_tokens=usage["output_tokens"],
        cache_write_5m=split.get("ephemeral_5m_input_tokens", 0),
        cache_write_1h=split.get("ephemeral_1h_input_tokens", 0),
        cache_read=usage["cache_read_input_tokens"],
    )
    assert result.cache_creation_input_tokens == usage["cache_creation_input_tokens"], usage
    return result


def assistant_lines(files: list[Path]) -> dict[str, list[dict[str, Any]]]:
    """Transcript assistant lines by message id (one per content block while streaming)."""
    by_id: dict[str, list[dict[str, Any]]] = {}
    for path in files:
        for line in read_jsonl(path):
            if line.get("type") == "assistant" and line["message"].get("model") != "<synthetic>":
                by_id.setdefault(line["message"]["id"], []).append(line)
    return by_id


def tool_results(files: list[Path]) -> dict[str, bool]:
    """tool_use_id -> is_error (Write/Edit/Read omit the flag on success)."""
    out: dict[str, bool] = {}
    for path in files:
        for line in read_jsonl(path):
            content = line.get("message", {}).get("content") if line.get("type") == "user" else None
            for block in content if isinstance(content, list) else []:
                if block.get("type") == "tool_result":
                    out[block["tool_use_id"]] = bool(block.get("is_error"))
    return out


def assert_run_matches_script(fake: FakeAnthropic, scenario: Scenario, session: ClaudeSession) -> None:
    """Every scripted turn was served once, and the transcripts hold exactly what the fake sent."""
    problems = [r for r in fake.responses() if r.exhausted or r.thread == "unmatched"]
    assert not problems, f"unscripted requests: {problems}\n{scenario.describe()}"
    messages = fake.messages()
    for thread, turns in scenario.threads().items():
        served = [r for r in messages if r.thread == thread]
        assert [r.turn_index for r in served] == list(range(len(turns))), (thread, served)
        assert [r.usage for r in served] == [t.usage for t in turns], thread
    assert {r.cwd for r in fake.requests()} == {str(session.repo)}

    files = transcript_files(session.runs[-1])
    lines = assistant_lines(files)
    expected_errors: dict[str, bool] = {}
    for response in messages:
        if response.thread == "compact":
            # 2.1.331 writes no assistant record for a /compact request (only OTLP and cost-state).
            assert response.message_id not in lines
            continue
        group = lines.get(response.message_id or "")
        assert group, f"{response.message_id} ({response.thread}[{response.turn_index}]) not in transcripts"
        assert {line["requestId"] for line in group} == {response.request_id}
        assert all(line_usage(line) == response.usage for line in group), group
        turn = scenario.threads()[response.thread or ""][response.turn_index or 0]
        for tool_use, tool_id in zip(turn.tool_uses, response.tool_use_ids, strict=True):
            expected_errors[tool_id] = tool_use.expect_error
    assert set(lines) == {r.message_id for r in messages if r.thread != "compact"}
    assert tool_results(files) == expected_errors


# --------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------


def test_fake_answers_json_and_other_paths(fake: FakeAnthropic) -> None:
    body = {
        "model": "claude-test",
        "stream": False,
        "messages": [{"role": "user", "content": "SCENARIO:failing-tool go"}],
    }
    req = urllib.request.Request(
        fake.url + "/v1/messages?beta=true", data=json.dumps(body).encode(), method="POST"
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        message = json.loads(resp.read())
        assert resp.headers["request-id"].startswith("req_")
    assert message["model"] == "claude-test"
    assert message["content"][0]["id"].startswith("toolu_")
    assert message["usage"]["cache_creation"]["ephemeral_1h_input_tokens"] == 13000
    with urllib.request.urlopen(fake.url + "/api/hello", timeout=10) as resp:
        assert json.loads(resp.read()) == {}
    (logged,) = fake.messages()
    assert logged.message_id == message["id"] and logged.usage == FAILING_TOOL.main[0].usage


def test_tools_scenario(session: ClaudeSession, fake: FakeAnthropic) -> None:
    (run,) = run_all_prompts(session, TOOLS)
    assert run.returncode == 0
    assert_run_matches_script(fake, TOOLS, session)
    assert [r.stream for r in fake.requests()] == [True] * len(TOOLS.main)
    assert (session.repo / "out.txt").read_text() == "hello\n"
    assert (session.repo / "greet.py").read_text() == GREET_PY_EDITED
    # Each streamed content block is its own transcript line sharing the message id.
    blocks = [
        block
        for lines in assistant_lines(transcript_files(run)).values()
        for line in lines
        for block in line["message"]["content"]
    ]
    assert {b["id"] for b in blocks if b["type"] == "tool_use"} == set(fake.tool_use_ids())
    assert len(fake.tool_use_ids()) == 4
    scripted = [b.thinking for b in TOOLS.main[-1].blocks if isinstance(b, Thinking)]
    assert [b["thinking"] for b in blocks if b["type"] == "thinking"] == scripted
    assert run.result is not None and run.result["session_id"] == run.session_id


def test_foreground_subagent(session: ClaudeSession, fake: FakeAnthropic) -> None:
    (run,) = run_all_prompts(session, SUBAGENT)
    assert_run_matches_script(fake, SUBAGENT, session)
    (sub_file,) = run.subagent_transcripts()
    meta = json.loads(sub_file.with_suffix(".meta.json").read_text())
    (agent_call,) = fake.messages(thread="main")[0].tool_use_ids
    assert meta["toolUseId"] == agent_call
    sub_ids = {r.message_id for r in fake.messages() if r.thread and r.thread.startswith("subagent:")}
    assert set(assistant_lines([sub_file])) == sub_ids
    assert not sub_ids & set(assistant_lines([run.transcript_path or Path()]))
    # The subagent gets a smaller toolset than the main thread (10 vs 12 in 2.1.331).
    main_tools, sub_tools = ({t["name"] for t in fake.requests()[i].body["tools"]} for i in (0, 1))
    assert "Agent" in main_tools and sub_tools < main_tools


def test_overloaded_then_success(session: ClaudeSession, fake: FakeAnthropic) -> None:
    (run,) = run_all_prompts(session, OVERLOADED_ONCE)
    assert [(r.status, r.kind) for r in fake.responses()] == [
        (200, "message"),
        (529, "http_error"),
        (200, "message"),
    ]
    assert_run_matches_script(fake, OVERLOADED_ONCE, session)
    errors = [line for line in run.transcript() if line.get("subtype") == "api_error"]
    assert len(errors) == 1 and errors[0]["error"]["status"] == 529


def test_stream_error_retries_without_streaming(session: ClaudeSession, fake: FakeAnthropic) -> None:
    (run,) = run_all_prompts(session, STREAM_RETRY)
    assert [(r.kind, r.stream) for r in fake.responses()] == [("stream_error", True), ("message", False)]
    assert_run_matches_script(fake, STREAM_RETRY, session)
    aborted = fake.responses(kind="stream_error")[0]
    assert aborted.message_id not in assistant_lines(transcript_files(run))
    # The CLI's own total counts the aborted stream's message_start usage as well.
    usage = (run.result or {})["usage"]
    expected = STREAM_RETRY.main[0].usage
    assert usage["input_tokens"] == 2 * expected.input_tokens
    assert usage["output_tokens"] == expected.output_tokens + 1


def test_resume_continues_one_session(session: ClaudeSession, fake: FakeAnthropic) -> None:
    runs = run_all_prompts(session, MULTI_PROMPT)
    assert len({r.session_id for r in runs}) == 1
    assert "--resume" not in runs[0].args and all("--resume" in r.args for r in runs[1:])
    assert len({r.transcript_path for r in runs}) == 1
    assert_run_matches_script(fake, MULTI_PROMPT, session)
    prompts = [
        line["message"]["content"]
        for line in runs[-1].transcript()
        if line.get("type") == "user" and isinstance(line["message"]["content"], str)
    ]
    assert prompts == list(MULTI_PROMPT.prompts)
    assert {r.session_id for r in fake.requests()} == {runs[0].session_id}


def test_prewritten_settings_hooks_fire(session: ClaudeSession, fake: FakeAnthropic, tmp_path: Path) -> None:
    log = tmp_path / "hooks.jsonl"
    command = {"type": "command", "command": f"cat >> {log} && echo >> {log}"}
    http = {"type": "http", "url": fake.url + "/v1/hooks"}
    events = ["SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUseFailure", "Stop", "SessionEnd"]
    session.write_settings({"hooks": {event: [{"hooks": [command, http]}] for event in events}})
    (run,) = run_all_prompts(session, FAILING_TOOL)
    assert_run_matches_script(fake, FAILING_TOOL, session)
    payloads = read_jsonl(log)
    fired = [p["hook_event_name"] for p in payloads]
    assert set(fired) == set(events), fired
    failing_ids = fake.tool_use_ids()
    assert [p["tool_use_id"] for p in payloads if p["hook_event_name"] == "PostToolUseFailure"] == failing_ids
    assert all(p["session_id"] == run.session_id for p in payloads)
    http_events = {
        r.body["hook_event_name"] for r in fake.requests(messages_only=False) if r.path == "/v1/hooks"
    }
    # http handlers do not fire for SessionStart (claude-code-data.md §2); command handlers do.
    assert http_events == set(events) - {"SessionStart"}


@pytest.mark.parametrize("name", ["secrets", "git-commit", "compact"])
def test_other_scenarios_run_as_scripted(name: str, session: ClaudeSession, fake: FakeAnthropic) -> None:
    scenario = ALL_SCENARIOS[name]
    run_all_prompts(session, scenario)
    assert_run_matches_script(fake, scenario, session)
    if name == "git-commit":
        log = (session.repo / ".git" / "logs" / "HEAD").read_text()
        assert COMMIT_MESSAGE in log
