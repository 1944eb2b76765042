"""Golden tests for the Claude Code hooks source, on the real 2.1.331 captures plus synthetic payloads."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain.records import RecordBatch, Subagent, ToolCall
from agent_trace.sources.claude_hook_context import transcript_deltas
from agent_trace.sources.claude_hooks import (
    hook_events_of_interest,
    records_from_hook,
    render_tool_response,
)
from agent_trace.sources.hook_fields import HookPayloadError

REAL_CLIENT = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "claude-code" / "real-client"
SCENARIOS = sorted(p.parent.name for p in REAL_CLIENT.glob("*/hooks.jsonl")) if REAL_CLIENT.is_dir() else []
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z

needs_corpus = pytest.mark.skipif(not REAL_CLIENT.is_dir(), reason="../shared corpus is absent")


def payloads(scenario: str) -> list[dict[str, Any]]:
    lines = (REAL_CLIENT / scenario / "hooks.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def replay(scenario: str) -> tuple[list[dict[str, Any]], list[RecordBatch]]:
    """Every payload of a capture, received one millisecond apart."""
    items = payloads(scenario)
    return items, [records_from_hook(p, T0 + i) for i, p in enumerate(items)]


def everything(batches: Iterable[RecordBatch]) -> RecordBatch:
    out = RecordBatch()
    for batch in batches:
        out.extend(batch)
    return out


def merged_tool_calls(calls: Iterable[ToolCall]) -> dict[str, ToolCall]:
    """What a store keeping the union of details ends with (a later non-None value wins)."""
    out: dict[str, ToolCall] = {}
    for call in calls:
        have = out.setdefault(call.tool_use_id, ToolCall(call.tool_use_id, call.session_id))
        for f in fields(ToolCall):
            value = getattr(call, f.name)
            if value is not None:
                setattr(have, f.name, value)
    return out


def merged_subagents(subagents: Iterable[Subagent]) -> dict[str, Subagent]:
    out: dict[str, Subagent] = {}
    for sub in subagents:
        have = out.setdefault(sub.agent_id, Subagent(sub.session_id, sub.agent_id))
        for f in fields(Subagent):
            value = getattr(sub, f.name)
            if value is not None:
                setattr(have, f.name, value)
    return out


def transcript_tool_use_ids(scenario: str) -> set[str]:
    ids: set[str] = set()
    for path in (REAL_CLIENT / scenario / "transcripts").rglob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            message = record.get("message")
            content = message.get("content") if isinstance(message, dict) else None
            for block in content if isinstance(content, list) else []:
                if isinstance(block, dict) and block.get("type") == "tool_use":
                    ids.add(block["id"])
    return ids


def base(event: str, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "session_id": "s-1",
        "transcript_path": "/home/dev/.claude/projects/-home-dev-work/s-1.jsonl",
        "cwd": "/home/dev/work",
        "prompt_id": "p-1",
        "permission_mode": "default",
        "hook_event_name": event,
    }
    payload.update(extra)
    return payload


# ── the real captures ───────────────────────────────────────────────────────────────────────────


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_real_payload_parses_with_one_raw_event(scenario: str) -> None:
    items, batches = replay(scenario)
    assert items
    ids = set()
    for i, (payload, batch) in enumerate(zip(items, batches, strict=True)):
        (raw,) = batch.raw_events
        assert raw.source == "hook"
        assert raw.kind == payload["hook_event_name"]
        assert raw.session_id == payload["session_id"]
        assert raw.received_ms == raw.ts_ms == T0 + i
        assert re.fullmatch(r"[0-9a-f]{64}", raw.event_id)
        assert raw.payload is not None and json.loads(raw.payload) == payload
        ids.add(raw.event_id)
        for session in batch.sessions:
            assert session.session_id == payload["session_id"] and session.agent == "claude-code"
    assert len(ids) == len(items), "distinct real events must not share an event id"


@needs_corpus
@pytest.mark.corpus
def test_basic_yields_the_transcripts_tool_calls_with_success() -> None:
    _, batches = replay("basic")
    records = everything(batches)
    calls = merged_tool_calls(records.tool_calls)
    assert set(calls) == transcript_tool_use_ids("basic")
    assert {c.tool_name for c in calls.values()} == {"Bash", "Write", "Edit"}
    for call in calls.values():
        assert call.status == "success"
        assert call.prompt_id == "0a307393-62cf-485b-ad78-353dfa17352d"
        assert call.agent_id is None
        assert call.started_ms is not None and call.ended_ms is not None and call.started_ms < call.ended_ms
        assert call.duration_ms is not None and call.input_json is not None
    bash = calls["toolu_0a2484a9b210491c99e8497e"]
    assert json.loads(bash.input_json or "") == {
        "command": "echo hello > out.txt && cat out.txt",
        "description": "Write hello to out.txt",
    }
    assert bash.output_text == "hello"
    assert bash.duration_ms == 63
    edit = calls["toolu_365e6cebafc94572b98bc747"]
    assert json.loads(edit.output_text or "")["structuredPatch"], "non-Bash output is the JSON response"
    touches = {(t.tool_use_id, t.path, t.op) for t in records.file_touches}
    assert touches == {
        ("toolu_0a2484a9b210491c99e8497e", "/home/dev/work/out.txt", "write"),  # Bash bashEditDiff
        ("toolu_17e73dd3f80b431b903376ec", "/home/dev/work/hello.py", "write"),
        ("toolu_365e6cebafc94572b98bc747", "/home/dev/work/hello.py", "write"),
    }
    (prompt,) = records.prompts
    assert prompt.kind == "prompt" and prompt.text is not None and prompt.text.startswith("SCENARIO:basic")


@needs_corpus
@pytest.mark.corpus
def test_basic_session_lifecycle() -> None:
    items, batches = replay("basic")
    start, end = batches[0].sessions[0], batches[-1].sessions[0]
    assert start.project == start.cwd == "/home/dev/work"
    assert start.started_ms == T0 and start.ended_ms is None
    assert end.ended_ms == T0 + len(items) - 1 and end.end_reason == "other"
    assert end.project is None, "only the start cwd names the project"
    # Stop ends a turn, not the session.
    stop = next(b for p, b in zip(items, batches, strict=True) if p["hook_event_name"] == "Stop")
    assert stop.sessions[0].ended_ms is None and not stop.prompts
    # PreToolUse carries the main thread's permission mode.
    pre = next(b for p, b in zip(items, batches, strict=True) if p["hook_event_name"] == "PreToolUse")
    assert pre.sessions[0].permission_mode == "bypassPermissions"


@needs_corpus
@pytest.mark.corpus
def test_fail_yields_error_statuses_with_the_error_text() -> None:
    _, batches = replay("fail")
    calls = merged_tool_calls(everything(batches).tool_calls)
    bash = calls["toolu_b77df43f9f754fefb3abf457"]
    read = calls["toolu_2532b9d0bdbe46c380dd2437"]
    assert bash.status == read.status == "error"
    assert bash.error is not None and bash.error.startswith("Exit code 2\nabout-to-fail")
    assert read.error == "File does not exist. Note: your current working directory is /home/dev/work."
    assert bash.output_text is None and bash.duration_ms == 57 and bash.ended_ms is not None


@needs_corpus
@pytest.mark.corpus
def test_denied_calls_have_no_post_hook_so_no_status() -> None:
    items, batches = replay("denied")
    records = everything(batches)
    calls = merged_tool_calls(records.tool_calls)
    assert set(calls) == transcript_tool_use_ids("denied")
    # Denied Bash and Write: PreToolUse, a PermissionRequest, then only the batch. Hooks never say
    # "denied"; status, output and end time stay unknown until the transcript (is_error) fills them.
    for tool_use_id in ("toolu_25df28bdc30d4c64ab234412", "toolu_741f9aa2175147c59dfdee71"):
        call = calls[tool_use_id]
        assert call.started_ms is not None and call.input_json is not None
        assert call.status is None and call.ended_ms is None and call.output_text is None
    # The Edit failed input validation: no PreToolUse, no Post*, only the batch's <tool_use_error>.
    edit = calls["toolu_47b3a593d0d343e996e9be92"]
    assert edit.tool_name == "Edit" and edit.status == "error" and edit.started_ms is None
    assert edit.error == "File does not exist. Note: your current working directory is /home/dev/work."
    # PermissionRequest has no tool_use_id: only its raw event.
    for payload, batch in zip(items, batches, strict=True):
        if payload["hook_event_name"] == "PermissionRequest":
            assert len(batch) == 1 and len(batch.raw_events) == 1
    # The touch comes from PreToolUse input, so the denied Write still names hello.py.
    assert {t.tool_use_id for t in records.file_touches} == {"toolu_741f9aa2175147c59dfdee71"}


@needs_corpus
@pytest.mark.corpus
@pytest.mark.parametrize(
    ("scenario", "agent_tool_use_id", "agent_id", "bash_tool_use_id"),
    [
        ("task", "toolu_1e68dd1c3d664e42ac5f08d1", "a55548a31f14b3a49", "toolu_ae4291f8a9e84910afda398c"),
        ("taskbg", "toolu_cb07ef7b5e454dccb08e1b9d", "a25428cca476e9288", "toolu_3380f726f5c34387b618f44c"),
    ],
)
def test_subagents_are_typed_timed_and_linked(
    scenario: str, agent_tool_use_id: str, agent_id: str, bash_tool_use_id: str
) -> None:
    _, batches = replay(scenario)
    records = everything(batches)
    subagents = merged_subagents(records.subagents)
    assert set(subagents) == {agent_id}
    sub = subagents[agent_id]
    assert sub.agent_type == "general-purpose"
    assert sub.parent_tool_use_id == agent_tool_use_id
    assert sub.description == "Run echo in a subagent"
    assert sub.model == "claude-opus-5-5"
    assert sub.started_ms is not None and sub.ended_ms is not None and sub.started_ms < sub.ended_ms
    assert sub.is_compaction is None
    calls = merged_tool_calls(records.tool_calls)
    agent_call = calls[agent_tool_use_id]
    assert agent_call.tool_name == "Agent" and agent_call.subagent_id == agent_id
    assert agent_call.agent_id is None and agent_call.status == "success"
    inner = calls[bash_tool_use_id]
    assert inner.agent_id == agent_id and inner.output_text == "from-subagent"
    assert inner.prompt_id == agent_call.prompt_id, "subagent events carry the launching prompt"
    for session in records.sessions:  # subagent events do not move the session's cwd or mode
        assert session.cwd in (None, "/home/dev/work")


@needs_corpus
@pytest.mark.corpus
def test_taskbg_notification_is_its_own_task_notification_prompt() -> None:
    items, batches = replay("taskbg")
    prompts = everything(batches).prompts
    assert [p.kind for p in prompts] == ["prompt", "task_notification"]
    assert prompts[0].prompt_id != prompts[1].prompt_id
    assert prompts[1].text is not None and "<task-id>a25428cca476e9288</task-id>" in prompts[1].text
    events = [p["hook_event_name"] for p in items]
    assert events.index("Stop") < events.index("SubagentStop"), "background agent: Stop first"


@needs_corpus
@pytest.mark.corpus
def test_compact_resume_keeps_project_and_marks_the_compaction_run() -> None:
    items, batches = replay("compact")
    starts = [
        b.sessions[0] for p, b in zip(items, batches, strict=True) if p["hook_event_name"] == "SessionStart"
    ]
    assert [s.project for s in starts] == [None, None], "resume/compact cwd is not the start cwd"
    (sub,) = everything(batches).subagents
    assert sub.agent_id == "af85121cb04f7702d" and sub.is_compaction is True and sub.agent_type is None
    assert sub.ended_ms is not None


@needs_corpus
@pytest.mark.corpus
def test_resumed_instructions_loaded_dedups_against_the_original() -> None:
    # Claude Code sends a byte-identical InstructionsLoaded on resume; without our handler's
    # ts_ms nothing tells the two apart, so content-hash dedup keeps one raw event.
    (basic,) = [
        records_from_hook(p, 1) for p in payloads("basic") if p["hook_event_name"] == "InstructionsLoaded"
    ]
    (again,) = [
        records_from_hook(p, 2) for p in payloads("compact") if p["hook_event_name"] == "InstructionsLoaded"
    ]
    assert basic.raw_events[0].event_id == again.raw_events[0].event_id


@needs_corpus
@pytest.mark.corpus
def test_cwd_change_moves_the_session_cwd() -> None:
    items, batches = replay("cwd")
    i = next(i for i, p in enumerate(items) if p["hook_event_name"] == "CwdChanged")
    assert batches[i].sessions[0].cwd == "/home/dev/work/sub"
    assert batches[-1].sessions[0].cwd == "/home/dev/work/sub"
    touches = {(t.path, t.op) for t in everything(batches).file_touches}
    assert touches == {("/home/dev/work/sub/marker.txt", "write")}


@needs_corpus
@pytest.mark.corpus
def test_stop_failure_counts_an_api_error_on_the_prompt() -> None:
    items, batches = replay("apierror-fatal")
    i = next(i for i, p in enumerate(items) if p["hook_event_name"] == "StopFailure")
    (prompt,) = batches[i].prompts
    assert prompt.prompt_id == "115506e2-2ec2-4c25-bc38-0d2f6c6dc5b6" and prompt.api_errors == 1
    assert prompt.ts_ms is None and prompt.text is None, "StopFailure knows only the error"


# ── synthetic payloads ──────────────────────────────────────────────────────────────────────────


def test_enrichment_supplies_time_user_git_and_commits() -> None:
    payload = base(
        "Stop",
        agent_trace={
            "ts_ms": T0 + 5,
            "user": "dev@example.com",
            "project_dir": "/home/dev/work",
            "entrypoint": "cli",
            "git": {
                "repo": "github.com/acme/app",
                "branch": "main",
                "head": "b" * 40,
                "base_sha": "a" * 40,
                "lines_added": 12,
                "lines_removed": 3,
                "files_changed": 2,
                "commits": [
                    {
                        "sha": "b" * 40,
                        "message": "Fix greeting",
                        "author": "Dev <dev@example.com>",
                        "ts_ms": T0 + 1,
                        "files_changed": 1,
                        "insertions": 10,
                        "deletions": 2,
                    },
                    {"sha": "c" * 40},
                ],
            },
        },
    )
    batch = records_from_hook(payload, received_ms=T0 + 999)
    (session,) = batch.sessions
    assert session.started_ms == T0 + 5, "the handler's clock, not the collector's"
    assert (session.user_id, session.project, session.entrypoint) == (
        "dev@example.com",
        "/home/dev/work",
        "cli",
    )
    assert (session.git_repo, session.git_branch, session.git_head, session.git_base_sha) == (
        "github.com/acme/app",
        "main",
        "b" * 40,
        "a" * 40,
    )
    assert (session.git_lines_added, session.git_lines_removed, session.git_files_changed) == (12, 3, 2)
    first, second = batch.commits
    assert first.sha == "b" * 40 and first.session_id == "s-1" and first.repo == "github.com/acme/app"
    assert (first.branch, first.message, first.author, first.ts_ms) == (
        "main",
        "Fix greeting",
        "Dev <dev@example.com>",
        T0 + 1,
    )
    assert (first.files_changed, first.insertions, first.deletions) == (1, 10, 2)
    assert second.sha == "c" * 40 and second.message is None and second.repo == "github.com/acme/app"
    (raw,) = batch.raw_events
    assert raw.ts_ms == T0 + 5 and raw.received_ms == T0 + 999


def test_timestamps_fall_back_to_received_ms() -> None:
    batch = records_from_hook(
        base("PreToolUse", tool_name="Read", tool_input={"file_path": "/x"}, tool_use_id="t"), 42
    )
    assert batch.tool_calls[0].started_ms == 42 and batch.file_touches[0].ts_ms == 42
    assert batch.raw_events[0].ts_ms == 42


def test_redelivery_dedups_but_another_firing_does_not() -> None:
    payload = base("UserPromptSubmit", prompt="hi", agent_trace={"ts_ms": T0})
    first = records_from_hook(payload, T0 + 1).raw_events[0]
    again = records_from_hook(payload, T0 + 50_000).raw_events[0]
    reordered = records_from_hook(dict(reversed(list(payload.items()))), T0 + 2).raw_events[0]
    later = records_from_hook({**payload, "agent_trace": {"ts_ms": T0 + 7}}, T0 + 1).raw_events[0]
    assert first.event_id == again.event_id == reordered.event_id
    assert first.payload == reordered.payload, "canonical JSON: sorted keys"
    assert later.event_id != first.event_id


def test_transcript_delta_is_exposed_but_not_copied_into_the_raw_event() -> None:
    text = '{"type":"user","uuid":"u1"}\n'
    delta = {"path": "/home/dev/.claude/projects/-home-dev-work/s-1.jsonl", "offset": 128, "text": text}
    payload = base("Stop", agent_trace={"ts_ms": T0, "transcript_delta": delta})
    (got,) = transcript_deltas(payload)
    assert (got.path, got.offset, got.text) == (delta["path"], 128, text)
    raw = records_from_hook(payload, T0).raw_events[0]
    assert raw.payload is not None and text not in raw.payload
    assert json.loads(raw.payload)["agent_trace"]["transcript_delta"] == [
        {"path": delta["path"], "offset": 128, "bytes": len(text)}
    ]
    other = copy.deepcopy(payload)
    other["agent_trace"]["transcript_delta"]["text"] = text + text
    assert records_from_hook(other, T0).raw_events[0].event_id != raw.event_id, "the id covers what arrived"
    listed = base("SubagentStop", agent_trace={"transcript_delta": [delta, {**delta, "offset": 0}]})
    assert [d.offset for d in transcript_deltas(listed)] == [128, 0]
    assert transcript_deltas(base("Stop")) == ()


def test_post_tool_use_failure_interrupt() -> None:
    payload = base(
        "PostToolUseFailure",
        tool_name="Bash",
        tool_input={"command": "sleep 100"},
        tool_use_id="t-1",
        error="Interrupted by user",
        is_interrupt=True,
        duration_ms=1500,
    )
    (call,) = records_from_hook(payload, T0).tool_calls
    assert (call.status, call.error, call.duration_ms, call.ended_ms) == (
        "interrupted",
        "Interrupted by user",
        1500,
        T0,
    )


def test_bash_output_renders_stdout_then_stderr() -> None:
    response = {"stdout": "out", "stderr": "warn", "interrupted": False, "isImage": False}
    assert render_tool_response("Bash", response) == "out\nwarn"
    assert render_tool_response("Bash", {"stdout": "", "stderr": ""}) == ""
    assert render_tool_response("Read", {"file": {"content": "é"}}) == '{"file":{"content":"é"}}'
    assert render_tool_response("mcp__x__y", "plain text") == "plain text"
    assert render_tool_response("Bash", None) is None
    payload = base("PostToolUse", tool_name="Bash", tool_input={"command": "x"}, tool_use_id="t")
    (call,) = records_from_hook(
        {**payload, "tool_response": {**response, "interrupted": True}}, T0
    ).tool_calls
    assert call.status == "interrupted" and call.output_text == "out\nwarn"


def test_post_tool_batch_fills_only_what_it_knows() -> None:
    payload = base(
        "PostToolBatch",
        agent_id="a-1",
        agent_type="Explore",
        tool_calls=[
            {
                "tool_name": "Bash",
                "tool_input": {"command": "ls"},
                "tool_use_id": "t-1",
                "tool_response": "a\nb",
            },
            {
                "tool_name": "Edit",
                "tool_input": {},
                "tool_use_id": "t-2",
                "tool_response": "<tool_use_error>bad</tool_use_error>",
            },
            {"tool_name": "Read", "tool_input": {"file_path": "/x"}},  # no id: nothing to key on
        ],
    )
    batch = records_from_hook(payload, T0)
    first, second = batch.tool_calls
    assert (first.tool_use_id, first.tool_name, first.input_json, first.agent_id) == (
        "t-1",
        "Bash",
        '{"command":"ls"}',
        "a-1",
    )
    assert (
        first.status is None
        and first.output_text is None
        and first.started_ms is None
        and first.ended_ms is None
    )
    assert (second.status, second.error) == ("error", "bad")
    assert not batch.file_touches
    assert [(s.agent_id, s.agent_type) for s in batch.subagents] == [("a-1", "Explore")]


def test_slash_commands_and_prompts() -> None:
    def kind(text: str) -> str | None:
        return records_from_hook(base("UserPromptSubmit", prompt=text), T0).prompts[0].kind

    assert kind("/review 12") == "command"
    assert kind("/home/dev/x is broken") == "prompt"
    assert kind("<task-notification>\n<task-id>a</task-id>") == "task_notification"
    assert kind("fix it") == "prompt"
    assert not records_from_hook(base("UserPromptSubmit", prompt="hi", prompt_id=None), T0).prompts


def test_session_start_sources() -> None:
    def project(**extra: Any) -> str | None:
        return records_from_hook(base("SessionStart", **extra), T0).sessions[0].project

    assert project(source="startup") == "/home/dev/work"
    assert project(source="clear") == "/home/dev/work"
    assert project() == "/home/dev/work"
    assert project(source="resume") is None
    assert project(source="compact", model="claude-opus-5-5") is None


def test_old_clis_without_ids_yield_no_tool_call() -> None:
    payload = base("PreToolUse", tool_name="Bash", tool_input={"command": "ls"})
    del payload["prompt_id"]
    batch = records_from_hook(payload, T0)
    assert not batch.tool_calls and len(batch.sessions) == len(batch.raw_events) == 1


def test_message_display_is_raw_only() -> None:
    payload = base("MessageDisplay", turn_id="x", message_id="y", index=0, final=True, delta="Hello")
    batch = records_from_hook(payload, T0)
    assert len(batch) == 1 and batch.raw_events[0].kind == "MessageDisplay"


def test_unknown_events_do_not_raise() -> None:
    batch = records_from_hook(base("TeammateIdle", anything={"goes": [1, 2]}), T0)
    assert [s.session_id for s in batch.sessions] == ["s-1"] and len(batch) == 2
    sessionless = records_from_hook({"hook_event_name": "ConfigChange", "source": "user_settings"}, T0)
    assert len(sessionless) == 1 and sessionless.raw_events[0].session_id is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (["not", "an", "object"], "payload"),
        ({"hook_event_name": "Stop"}, "session_id"),
        (base("Stop", session_id=""), "session_id"),
        (base("Stop", session_id=12), "session_id"),
        ({"session_id": "s-1"}, "hook_event_name"),
        (base("Stop", hook_event_name=["Stop"]), "hook_event_name"),
        (base("Stop", cwd=7), "cwd"),
        (base("Stop", prompt_id={"id": 1}), "prompt_id"),
        (base("UserPromptSubmit", prompt=["x"]), "prompt"),
        (base("PreToolUse", tool_name="Bash", tool_input=["ls"], tool_use_id="t"), "tool_input"),
        (base("PreToolUse", tool_name="Bash", tool_input={}, tool_use_id=5), "tool_use_id"),
        (base("PostToolUse", tool_name="Bash", tool_use_id="t", duration_ms="12"), "duration_ms"),
        (base("PostToolUseFailure", tool_use_id="t", is_interrupt="no"), "is_interrupt"),
        (base("PostToolBatch", tool_calls={"t": 1}), "tool_calls"),
        (base("PostToolBatch", tool_calls=["x"]), "tool_calls[0]"),
        (base("PostToolBatch", tool_calls=[{"tool_use_id": 3}]), "tool_calls[0].tool_use_id"),
        (base("CwdChanged", new_cwd=1), "new_cwd"),
        (base("SessionEnd", reason=0), "reason"),
        (base("Stop", agent_trace="x"), "agent_trace"),
        (base("Stop", agent_trace={"ts_ms": "2026-01-01"}), "agent_trace.ts_ms"),
        (base("Stop", agent_trace={"ts_ms": True}), "agent_trace.ts_ms"),
        (base("Stop", agent_trace={"git": {"lines_added": -1}}), "agent_trace.git.lines_added"),
        (
            base("Stop", agent_trace={"git": {"commits": [{"message": "x"}]}}),
            "agent_trace.git.commits[0].sha",
        ),
        (
            base("Stop", agent_trace={"git": {"commits": [{"sha": "a", "ts_ms": "x"}]}}),
            "agent_trace.git.commits[0].ts_ms",
        ),
        (
            base("Stop", agent_trace={"transcript_delta": {"path": "/x", "offset": 0}}),
            "agent_trace.transcript_delta",
        ),
        (
            base("Stop", agent_trace={"transcript_delta": [{"path": 1}]}),
            "agent_trace.transcript_delta[0].path",
        ),
        (base("Stop", extra=float("nan")), "payload"),
    ],
)
def test_malformed_payloads_name_the_field(payload: Any, field: str) -> None:
    with pytest.raises(HookPayloadError) as caught:
        records_from_hook(payload, T0)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).startswith(field + ":"), str(caught.value)


def test_hook_events_of_interest() -> None:
    events = hook_events_of_interest()
    assert len(events) == len(set(events))
    assert {"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PostToolUseFailure"} <= set(
        events
    )
    assert {"PostToolBatch", "SubagentStart", "SubagentStop", "Stop", "StopFailure", "SessionEnd"} <= set(
        events
    )
    assert "MessageDisplay" not in events
    for event in events:
        batch = records_from_hook(base(event), T0)
        assert batch.raw_events[0].kind == event
