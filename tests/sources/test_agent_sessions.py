"""Golden tests of the Codex CLI, Gemini CLI, Qwen Code and OpenCode parsers, on files the real
clients wrote in our own offline runs (tests/fixtures/agents, see shrink.py there), each against
what the fake API billed in that run; and the session files against the same run's telemetry:
both channels must name every fact with the same key."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from agent_trace.domain.records import RecordBatch
from agent_trace.ingest.transcript_files import parser_for
from agent_trace.sources.codex_rollout import CodexRolloutParser, CodexState
from agent_trace.sources.opencode_store import OpencodeRows
from agent_trace.sources.otlp import parse_request

AGENTS = Path(__file__).resolve().parents[1] / "fixtures" / "agents"
CODEX_NEW = next((AGENTS / "codex-0.171.0").glob("rollout-*.jsonl"))
CODEX_OLD = next((AGENTS / "codex-0.63.0").glob("rollout-*.jsonl"))
GEMINI = next((AGENTS / "gemini-0.61.0").rglob("session-*.jsonl"))
QWEN = next((AGENTS / "qwen-0.24.4").rglob("*.jsonl"))

# What the fake Responses API billed in both Codex runs: (input incl. cached, cached, output incl.
# reasoning, reasoning), in order; the last one answered the resumed second prompt.
CODEX_BILLED = [(1000, 0, 50, 10), (1200, 1000, 60, 20), (1300, 1100, 70, 0), (1400, 1200, 80, 30),
                (1500, 1300, 90, 40), (1600, 1400, 25, 5)]  # fmt: skip
# Gemini API usageMetadata: (prompt incl. cached, cached, candidates, thoughts apart).
GEMINI_BILLED = [(2001, 0, 31, 7), (2103, 1500, 42, 9), (2205, 1600, 53, 0), (2307, 1700, 64, 11),
                 (2409, 1800, 75, 13)]  # fmt: skip
# Chat Completions usage: (prompt incl. cached, cached, completion incl. reasoning, reasoning).
QWEN_BILLED = [(3001, 0, 41, 5), (3103, 2500, 52, 7), (3205, 2600, 63, 0), (3307, 2700, 74, 9),
               (3409, 2800, 85, 11)]  # fmt: skip
OPENCODE_BILLED = [(4001, 0, 41, 5), (4103, 3500, 52, 7), (4205, 3600, 63, 0), (4307, 3700, 74, 9),
                   (4409, 3800, 85, 11)]  # fmt: skip


def parse(path: Path, cut_every: int = 0) -> RecordBatch:
    """Parse a session file as the importer does; with `cut_every`, stop after every n-th line,
    save the parser state as JSON and resume with a new parser (an incremental import)."""
    out = RecordBatch()
    lines = path.read_bytes().splitlines(keepends=True)
    start, state = 0, None
    while True:
        parser = parser_for(path, state)
        parser.start_at(start)
        offset = start
        for n, line in enumerate(_lines_from(lines, start), 1):
            offset += len(line)
            parser.feed(line, offset)
            if cut_every and n % cut_every == 0 and offset < sum(map(len, lines)):
                break
        out.extend(parser.take_batch())
        if offset >= sum(map(len, lines)):
            return out
        start, state = parser.safe_offset, orjson.dumps(parser.safe_state().to_json()).decode()


def _lines_from(lines: list[bytes], start: int) -> list[bytes]:
    at = 0
    for i, line in enumerate(lines):
        if at >= start:
            return lines[i:]
        at += len(line)
    return []


def otlp(name: str) -> RecordBatch:
    out = RecordBatch()
    for body in json.loads((AGENTS / name / "otlp-logs.json").read_text()):
        out.extend(parse_request("logs", "application/json", json.dumps(body).encode(), received_ms=0).batch)
    return out


def usage_rows(batch: RecordBatch) -> list[tuple[int, int, int]]:
    """(input without cache, output with reasoning, cache reads) per call, in time order."""
    calls = {c.call_id: c for c in batch.llm_calls if c.usage is not None}
    ordered = sorted(calls.values(), key=lambda c: (c.ts_ms or 0, c.call_id))
    return [
        (c.usage.input_tokens, c.usage.output_tokens, c.usage.cache_read_tokens) for c in ordered if c.usage
    ]


def tool_rows(batch: RecordBatch) -> dict[str, tuple[str | None, str | None]]:
    tools: dict[str, tuple[str | None, str | None]] = {}
    for t in batch.tool_calls:
        name, status = tools.get(t.tool_use_id, (None, None))
        tools[t.tool_use_id] = (t.tool_name or name, t.status or status)
    return tools


# -- Codex CLI ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [CODEX_NEW, CODEX_OLD], ids=["0.171.0-usage-records", "0.63.0-token-count"])
@pytest.mark.parametrize("cut_every", [0, 1, 3, 7])
def test_codex_rollout_calls_are_what_was_billed(path: Path, cut_every: int) -> None:
    batch = parse(path, cut_every)
    # Cached input moved out of input, reasoning kept inside output: nothing added twice.
    assert usage_rows(batch) == [(i - c, o, c) for i, c, o, _r in CODEX_BILLED]
    assert len({c.call_id for c in batch.llm_calls}) == 6
    tools = tool_rows(batch)
    assert sorted(v for v in tools.values()) == sorted(
        [
            ("apply_patch", "success"),
            ("apply_patch", "success"),
            (tools_shell := ("exec_command" if path == CODEX_NEW else "shell"), "success"),
            (tools_shell, "error"),
        ]
    )
    linked = {t.tool_use_id: t.call_id for t in batch.tool_calls if t.call_id}
    assert len(linked) == 4 and all(c.endswith((".10", ".20", ".0", ".30")) for c in linked.values())
    prompts = {p.prompt_id: p.text for p in batch.prompts}
    assert sorted(prompts.values()) == ["SCENARIO:codex again", "SCENARIO:codex do it"]
    assert all(c.prompt_id in prompts for c in batch.llm_calls)
    assert {s.agent for s in batch.sessions} == {"codex"}
    assert {(t.path.rsplit("/", 1)[-1], t.op) for t in batch.file_touches} == {("notes.txt", "write")}


def test_codex_new_rollout_carries_the_response_ids() -> None:
    calls = {c.call_id: c for c in parse(CODEX_NEW).llm_calls}
    assert all(c.request_id and c.request_id.startswith("resp_") for c in calls.values())
    assert {c.model for c in calls.values()} == {"gpt-5.5"}


def test_codex_telemetry_and_rollout_share_every_key() -> None:
    live, files = otlp("codex-0.171.0"), parse(CODEX_NEW)
    assert {c.call_id for c in live.llm_calls} == {c.call_id for c in files.llm_calls}
    assert usage_rows(live) == usage_rows(files)
    assert tool_rows(live) == tool_rows(files)
    assert {p.prompt_id for p in live.prompts} == {p.prompt_id for p in files.prompts}
    assert {t.tool_use_id: t.input_json for t in live.tool_calls} == {
        t.tool_use_id: t.input_json for t in files.tool_calls
    }


def test_codex_archived_copy_and_forked_replay_add_nothing() -> None:
    original = parse(CODEX_NEW)
    lines = CODEX_NEW.read_bytes().splitlines(keepends=True)
    parser = CodexRolloutParser(str(CODEX_NEW).replace("sessions", "archived_sessions"), CodexState())
    for line in lines + lines:  # the same lines twice: an archived copy, a replayed history
        parser.feed(line)
    again = parser.take_batch()
    assert {c.call_id for c in again.llm_calls} == {c.call_id for c in original.llm_calls}


def test_a_spawned_codex_thread_rolls_into_its_parent(tmp_path: Path) -> None:
    """A subagent thread's rollout (its `session_meta.source` names the parent thread, as codex-rs
    `SessionSource::SubAgent(ThreadSpawn)` serialises it): the real run's file with that source."""
    parent = "01a242d8-0000-7000-8000-00000000a11c"
    lines = CODEX_NEW.read_text().splitlines(keepends=True)
    meta = json.loads(lines[0])
    child = meta["payload"]["id"]
    spawn = {"parent_thread_id": parent, "depth": 1, "agent_nickname": "Euclid", "agent_role": "explorer"}
    meta["payload"].update(source={"subagent": {"thread_spawn": spawn}}, thread_source="subagent",
                           agent_nickname="Euclid", agent_role="explorer")  # fmt: skip
    path = tmp_path / CODEX_NEW.name
    path.write_text(json.dumps(meta) + "\n" + "".join(lines[1:]))
    own = parse(CODEX_NEW)
    for cut_every in (0, 3):
        batch = parse(path, cut_every)
        # The same calls, keyed by their own thread (live copies still merge), billed once.
        assert {c.call_id for c in batch.llm_calls} == {c.call_id for c in own.llm_calls}
        assert usage_rows(batch) == usage_rows(own)
        assert {(c.session_id, c.agent_id, c.is_sidechain, c.prompt_id) for c in batch.llm_calls} == {
            (parent, child, True, None)
        }
        assert {(t.session_id, t.agent_id) for t in batch.tool_calls} == {(parent, child)}
        assert tool_rows(batch) == tool_rows(own)
        assert {(t.session_id, t.path) for t in batch.file_touches} == {
            (parent, t.path) for t in own.file_touches
        }
        assert not batch.prompts and not batch.sessions  # the task text is the parent's, not a turn
        subs = {(s.session_id, s.agent_id) for s in batch.subagents}
        assert subs == {(parent, child)}
        assert ("explorer", "Euclid") in {(s.agent_type, s.description) for s in batch.subagents}


# -- Gemini CLI --------------------------------------------------------------------------------


@pytest.mark.parametrize("cut_every", [0, 1, 4])
def test_gemini_chat_calls_are_what_was_billed(cut_every: int) -> None:
    batch = parse(GEMINI, cut_every)
    # Thoughts are not inside candidates on the Gemini API: billed as output, added here.
    assert usage_rows(batch) == [(p - c, o + t, c) for p, c, o, t in GEMINI_BILLED]
    assert sorted(tool_rows(batch).values()) == sorted(
        [
            ("run_shell_command", "success"),
            ("write_file", "success"),
            ("replace", "success"),
            ("run_shell_command", "error"),
        ]
    )
    assert [p.text for p in batch.prompts] == ["SCENARIO:gem do it"]  # not the <session_context> turn
    assert {s.project for s in batch.sessions} == {"/tmp/i17probe/gem1/repo"}


def test_gemini_telemetry_and_chat_share_every_key() -> None:
    live, files = otlp("gemini-0.61.0"), parse(GEMINI)
    assert {c.call_id for c in live.llm_calls} == {c.call_id for c in files.llm_calls}
    assert usage_rows(live) == usage_rows(files)
    assert tool_rows(live) == tool_rows(files)
    assert {p.prompt_id for p in live.prompts} == {p.prompt_id for p in files.prompts}


def test_gemini_legacy_json_document_is_the_same_session(tmp_path: Path) -> None:
    messages: dict[str, dict[str, object]] = {}
    header: dict[str, object] = {}
    for line in GEMINI.read_text().splitlines():
        record = json.loads(line)
        if "sessionId" in record and "type" not in record:
            header = record
        elif isinstance(record.get("id"), str):
            messages.setdefault(record["id"], {}).update(record)
    legacy = tmp_path / "tmp" / "repo" / "chats" / "session-legacy.json"
    legacy.parent.mkdir(parents=True)
    legacy.write_text(json.dumps({**header, "messages": list(messages.values())}, indent=2))
    assert usage_rows(parse(legacy)) == usage_rows(parse(GEMINI))  # a .json is always read whole


def test_a_gemini_subagent_file_rolls_into_its_parent(tmp_path: Path) -> None:
    """Gemini CLI 0.61 writes a subagent's chat to `chats/<parent session>/<subagent session>.jsonl`
    (`kind: subagent`, no `session-` prefix): the real run's file, moved and marked so."""
    parent, child = "11111111-2222-4333-8444-555555555555", "child-prompt-id"
    lines = GEMINI.read_text().splitlines(keepends=True)
    meta = json.loads(lines[0])
    meta.update(sessionId=child, kind="subagent")
    path = tmp_path / "repo" / "chats" / parent / f"{child}.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(meta) + "\n" + "".join(lines[1:]))
    own = parse(GEMINI)
    own_sid = json.loads(lines[0])["sessionId"]
    batch = parse(path)
    # Keyed by the main session, as Gemini CLI's telemetry (which names only that) keys them.
    assert {c.call_id for c in batch.llm_calls} == {c.call_id.replace(own_sid, parent) for c in own.llm_calls}
    assert usage_rows(batch) == usage_rows(own)
    assert {(c.session_id, c.agent_id, c.is_sidechain) for c in batch.llm_calls} == {(parent, child, True)}
    assert {(t.session_id, t.agent_id) for t in batch.tool_calls} == {(parent, child)}
    assert tool_rows(batch) == tool_rows(own)
    assert not batch.prompts  # the task text is the parent's, not a turn
    assert {(s.session_id, s.agent_id) for s in batch.subagents} == {(parent, child)}


# -- Qwen Code ---------------------------------------------------------------------------------


@pytest.mark.parametrize("cut_every", [0, 1, 3])
def test_qwen_chat_calls_are_what_was_billed(cut_every: int) -> None:
    batch = parse(QWEN, cut_every)
    # Reasoning is inside the completion count here: not added again; the telemetry copies in
    # the file are the same calls (keyed by the API's response id), not second ones.
    assert usage_rows(batch) == [(p - c, o, c) for p, c, o, _t in QWEN_BILLED]
    assert {c.call_id[:9] for c in batch.llm_calls} == {"chatcmpl-"}
    assert sorted(tool_rows(batch).values()) == sorted(
        [
            ("run_shell_command", "success"),
            ("write_file", "success"),
            ("edit", "success"),
            ("run_shell_command", "error"),
        ]
    )
    assert [p.text for p in batch.prompts] == ["SCENARIO:qw do it"]


def test_qwen_telemetry_and_chat_share_every_key() -> None:
    live, files = otlp("qwen-0.24.4"), parse(QWEN)
    assert {c.call_id for c in live.llm_calls} == {c.call_id for c in files.llm_calls}
    assert usage_rows(live) == usage_rows(files)
    assert tool_rows(live) == tool_rows(files)
    assert {p.prompt_id for p in live.prompts} == {p.prompt_id for p in files.prompts}


# -- OpenCode ----------------------------------------------------------------------------------


def test_opencode_rows_calls_are_what_was_billed() -> None:
    rows = json.loads((AGENTS / "opencode-1.18.33" / "rows.json").read_text())
    batch = OpencodeRows(rows["session"]).records(rows["message"], rows["part"])
    # OpenCode stores input without the cache and output without reasoning: both restored.
    assert usage_rows(batch) == [(p - c, o, c) for p, c, o, _r in OPENCODE_BILLED]
    assert sorted(tool_rows(batch).values()) == sorted(
        [("bash", "success"), ("write", "success"), ("edit", "success"), ("bash", "error")]
    )
    assert all(t.call_id for t in batch.tool_calls)
    assert len(batch.prompts) == 1 and "SCENARIO:oc do it" in (batch.prompts[0].text or "")
    assert {s.agent for s in batch.sessions} == {"opencode"}


# What the fake billed in the live run (tests/fixtures/agents/opencode-1.18.33/live: the logs
# agent-trace's OpenCode plugin sent, and the same run's database rows).
OPENCODE_LIVE_BILLED = [(4001, 0, 41, 5), (4103, 3501, 52, 7), (4205, 3603, 63, 0), (4307, 3705, 74, 9),
                        (4409, 3807, 85, 11)]  # fmt: skip


def test_opencode_plugin_logs_and_database_share_every_key() -> None:
    live = otlp("opencode-1.18.33/live")
    rows = json.loads((AGENTS / "opencode-1.18.33" / "live" / "rows.json").read_text())
    files = OpencodeRows(rows["session"]).records(rows["message"], rows["part"])
    assert usage_rows(live) == [(p - c, o, c) for p, c, o, _r in OPENCODE_LIVE_BILLED]
    assert {c.call_id for c in live.llm_calls} == {c.call_id for c in files.llm_calls}
    assert usage_rows(live) == usage_rows(files)
    assert tool_rows(live) == tool_rows(files)
    assert {(t.tool_use_id, t.call_id) for t in live.tool_calls if t.call_id} == {
        (t.tool_use_id, t.call_id) for t in files.tool_calls
    }
    assert {p.prompt_id for p in live.prompts} == {p.prompt_id for p in files.prompts}
    assert {(s.session_id, s.agent, s.project) for s in live.sessions} == {
        (s.session_id, s.agent, s.project) for s in files.sessions
    }
