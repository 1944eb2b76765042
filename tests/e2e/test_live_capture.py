"""Live capture, proven with the real Claude Code CLI: `agent-trace init` in the CLI's HOME, a real
`agent-trace serve` collector, the scripted fake API. What the store holds afterwards is compared
with what the fake API actually served: every session, prompt, tool call (input and output) and
LLM call (tokens and cost) exactly once, git facts, nothing beyond the privacy tier, no secret
anywhere, and nothing lost while the collector was down.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain.pricing import PriceBook
from agent_trace.domain.records import Usage as RecordUsage

from .conftest import E2E_USER, Capture, Collector
from .support.fake_anthropic import FakeAnthropic, RecordedResponse, Scenario
from .support.scenarios import (
    ALL_SCENARIOS,
    COMMIT_MESSAGE,
    FAILING_TOOL,
    GIT_COMMIT,
    GREET_PY,
    MULTI_PROMPT,
    PLANTED_SECRETS,
    SECRETS,
    SUBAGENT,
    SUBAGENT_MARKER,
    TOOLS,
)

pytestmark = pytest.mark.e2e

TIER2_SCENARIOS = (TOOLS, SUBAGENT, FAILING_TOOL, MULTI_PROMPT, SECRETS, GIT_COMMIT)


# -- one collector, every scenario at tier 2 (module scope: each CLI run costs ~1 s) ------------


@dataclass
class World:
    collector: Collector
    fake: FakeAnthropic
    captures: dict[str, Capture]

    def session_id(self, scenario: Scenario) -> str:
        sid = self.captures[scenario.name].claude.session_id
        assert sid is not None
        return sid

    def responses(self, scenario: Scenario) -> list[RecordedResponse]:
        return [r for r in self.fake.messages() if r.scenario == scenario.name]


@pytest.fixture(scope="module")
def world(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("live")
    collector = Collector(root / "collector", tier=2).start()
    try:
        with FakeAnthropic(ALL_SCENARIOS.values()) as fake:
            captures: dict[str, Capture] = {}
            for scenario in TIER2_SCENARIOS:
                # The form the specification documents (and users copy): the hook URL itself.
                capture = Capture(fake, claude_binary, root / scenario.name, collector.hooks_url, tier=2)
                capture.run_all(scenario.prompts)
                captures[scenario.name] = capture
            for capture in captures.values():
                settled = capture.settle()
                assert settled.returncode == 0, settled.stderr + capture.hook_log()
            yield World(collector, fake, captures)
    finally:
        collector.stop()


# -- expectations from the fake's log ----------------------------------------------------------


def expected_tools(responses: list[RecordedResponse], scenario: Scenario) -> dict[str, dict[str, Any]]:
    """tool_use_id → {name, input, error, thread} as the fake API sent them."""
    out: dict[str, dict[str, Any]] = {}
    for response in responses:
        turn = scenario.threads()[response.thread or ""][response.turn_index or 0]
        blocks = [b for b in response.content if b.get("type") == "tool_use"]
        for block, scripted in zip(blocks, turn.tool_uses, strict=True):
            out[block["id"]] = {
                "name": block["name"],
                "input": block["input"],
                "error": scripted.expect_error,
                "thread": response.thread,
            }
    return out


def rows(collector: Collector, sql: str, *params: object) -> list[dict[str, Any]]:
    db_rows = collector.query(sql, *params)
    names = sql.split("select", 1)[1].split("from", 1)[0].replace(" ", "").split(",")
    return [dict(zip(names, row, strict=True)) for row in db_rows]


LLM_COLUMNS = (
    "call_id,request_id,model,ts_ms,agent_id,input_tokens,output_tokens,cache_creation_tokens,"
    "cache_5m_tokens,cache_1h_tokens,cache_read_tokens,cost_nusd,response_text"
)


def assert_llm_calls_exactly_once(
    collector: Collector, session_id: str, responses: list[RecordedResponse]
) -> None:
    stored = rows(collector, f"select {LLM_COLUMNS} from llm_calls where session_id = ?", session_id)
    # Calls are keyed by message id; hooks, OTLP (request id only) and the transcript merge into
    # one row per API call, which knows its request id.
    calls = {r["request_id"]: r for r in stored}
    assert len(calls) == len(stored), "one stored call per API call, no more"
    assert set(calls) == {r.request_id for r in responses}, "one stored call per API call, no more"
    prices = PriceBook()
    for response in responses:
        call = calls[response.request_id]
        usage = response.usage
        assert usage is not None
        assert (
            call["input_tokens"],
            call["output_tokens"],
            call["cache_5m_tokens"],
            call["cache_1h_tokens"],
            call["cache_creation_tokens"],
            call["cache_read_tokens"],
        ) == (
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_write_5m,
            usage.cache_write_1h,
            usage.cache_creation_input_tokens,
            usage.cache_read,
        ), response.request_id
        assert call["model"] == response.model
        expected_cost = prices.cost_nusd(
            response.model,
            call["ts_ms"],
            RecordUsage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_creation_tokens=usage.cache_creation_input_tokens,
                cache_5m_tokens=usage.cache_write_5m,
                cache_1h_tokens=usage.cache_write_1h,
                cache_read_tokens=usage.cache_read,
            ),
        )
        assert expected_cost is not None and call["cost_nusd"] == expected_cost


def assert_tool_calls_exactly_once(
    collector: Collector, session_id: str, expected: dict[str, dict[str, Any]], *, details: bool = True
) -> dict[str, dict[str, Any]]:
    stored = {
        r["tool_use_id"]: r
        for r in rows(
            collector,
            "select tool_use_id,tool_name,status,input_json,output_text,error,agent_id from tool_calls "
            "where session_id = ?",
            session_id,
        )
    }
    assert set(stored) == set(expected)
    for tool_use_id, want in expected.items():
        call = stored[tool_use_id]
        assert call["tool_name"] == want["name"]
        assert call["status"] == ("error" if want["error"] else "success"), call
        if details:
            stored_input = json.loads(call["input_json"])
            assert {k: stored_input.get(k) for k in want["input"]} == want["input"]
            assert call["error"] if want["error"] else call["output_text"], call
    return stored


# -- tier 2: everything, once ----------------------------------------------------------------------


def test_tools_session_prompt_and_calls(world: World) -> None:
    sid = world.session_id(TOOLS)
    responses = world.responses(TOOLS)
    (session,) = rows(
        world.collector, "select session_id,project,user_id,ended_ms from sessions where session_id = ?", sid
    )
    assert session["project"] == str(world.captures[TOOLS.name].claude.repo) and session["ended_ms"]
    assert session["user_id"] == E2E_USER  # captured live: the identity rule's OS user
    (prompt,) = rows(world.collector, "select prompt_id,kind,text from prompts where session_id = ?", sid)
    assert prompt["kind"] == "prompt" and prompt["text"] == TOOLS.prompts[0]
    assert_llm_calls_exactly_once(world.collector, sid, responses)
    stored = assert_tool_calls_exactly_once(world.collector, sid, expected_tools(responses, TOOLS))
    assert {c["tool_name"] for c in stored.values()} == {"Bash", "Write", "Edit", "Read"}
    bash = next(c for c in stored.values() if c["tool_name"] == "Bash")
    assert bash["output_text"].strip() == "hello"
    write = next(c for c in stored.values() if c["tool_name"] == "Write")
    assert json.loads(write["input_json"])["content"] == GREET_PY


def test_git_state_of_the_session(world: World) -> None:
    capture = world.captures[TOOLS.name]
    (session,) = rows(
        world.collector,
        "select git_repo,git_branch,git_head,git_base_sha,git_lines_added,git_lines_removed,git_files_changed "
        "from sessions where session_id = ?",
        world.session_id(TOOLS),
    )
    head = (capture.claude.repo / ".git" / "refs" / "heads" / "main").read_text().strip()
    assert session == {
        "git_repo": str(capture.claude.repo),
        "git_branch": "main",
        "git_head": head,
        "git_base_sha": head,  # the agent made no commit: out.txt (1 line) and greet.py (5) are new
        "git_lines_added": 6,
        "git_lines_removed": 0,
        "git_files_changed": 2,
    }


def test_a_commit_made_during_the_session(world: World) -> None:
    capture = world.captures[GIT_COMMIT.name]
    sid = world.session_id(GIT_COMMIT)
    repo = capture.claude.repo
    head = (repo / ".git" / "refs" / "heads" / "main").read_text().strip()
    (commit,) = rows(
        world.collector,
        "select sha,session_id,branch,message,files_changed,insertions,deletions from commits where session_id = ?",
        sid,
    )
    assert commit == {
        "sha": head,
        "session_id": sid,
        "branch": "main",
        "message": COMMIT_MESSAGE,
        "files_changed": 1,
        "insertions": 1,
        "deletions": 0,
    }
    (session,) = rows(
        world.collector,
        "select git_head,git_base_sha,git_lines_added,git_files_changed from sessions where session_id = ?",
        sid,
    )
    assert session["git_head"] == head and session["git_base_sha"] != head
    assert (session["git_lines_added"], session["git_files_changed"]) == (1, 1)
    assert_llm_calls_exactly_once(world.collector, sid, world.responses(GIT_COMMIT))


def test_subagent_and_its_calls(world: World) -> None:
    sid = world.session_id(SUBAGENT)
    responses = world.responses(SUBAGENT)
    assert_llm_calls_exactly_once(world.collector, sid, responses)
    tools = assert_tool_calls_exactly_once(world.collector, sid, expected_tools(responses, SUBAGENT))
    (agent_call,) = [t for t in tools.values() if t["tool_name"] == "Agent"]
    (sub,) = rows(
        world.collector,
        "select agent_id,agent_type,parent_tool_use_id from subagents where session_id = ?",
        sid,
    )
    assert sub["agent_type"] == "general-purpose"
    assert sub["parent_tool_use_id"] == next(k for k, v in tools.items() if v is agent_call)
    (sub_bash,) = [t for t in tools.values() if t["tool_name"] == "Bash"]
    assert sub_bash["agent_id"] == sub["agent_id"]
    sub_ids = {r.request_id for r in responses if r.thread == f"subagent:{SUBAGENT_MARKER}"}
    stored = rows(world.collector, "select request_id,agent_id from llm_calls where session_id = ?", sid)
    assert {r["request_id"] for r in stored if r["agent_id"] == sub["agent_id"]} == sub_ids


def test_failing_tools(world: World) -> None:
    sid = world.session_id(FAILING_TOOL)
    responses = world.responses(FAILING_TOOL)
    tools = assert_tool_calls_exactly_once(world.collector, sid, expected_tools(responses, FAILING_TOOL))
    assert all(t["status"] == "error" for t in tools.values())
    assert any("Exit code 3" in (t["error"] or "") + (t["output_text"] or "") for t in tools.values())
    assert_llm_calls_exactly_once(world.collector, sid, responses)


def test_several_prompts_in_one_resumed_session(world: World) -> None:
    capture = world.captures[MULTI_PROMPT.name]
    assert len({run.session_id for run in capture.claude.runs}) == 1
    assert all("--resume" in run.args for run in capture.claude.runs[1:])
    sid = world.session_id(MULTI_PROMPT)
    prompts = rows(
        world.collector,
        "select prompt_id,kind,text,ts_ms from prompts where session_id = ? order by ts_ms",
        sid,
    )
    assert [p["text"] for p in prompts] == list(MULTI_PROMPT.prompts)
    assert_llm_calls_exactly_once(world.collector, sid, world.responses(MULTI_PROMPT))
    assert_tool_calls_exactly_once(
        world.collector, sid, expected_tools(world.responses(MULTI_PROMPT), MULTI_PROMPT)
    )
    assert world.collector.query("select count(*) from sessions where session_id = ?", sid) == [(1,)]


def test_every_session_once_and_totals_match_the_api(world: World) -> None:
    stored = {r[0] for r in world.collector.query("select session_id from sessions")}
    assert stored == {world.session_id(s) for s in TIER2_SCENARIOS}
    (totals,) = world.collector.query(
        "select sum(input_tokens), sum(output_tokens), sum(cache_creation_tokens), sum(cache_read_tokens) from llm_calls"
    )
    api = world.fake.total_usage()
    assert totals == (api.input_tokens, api.output_tokens, api.cache_creation_input_tokens, api.cache_read)


def test_planted_secrets_are_stored_nowhere(world: World) -> None:
    sid = world.session_id(SECRETS)
    assert_llm_calls_exactly_once(world.collector, sid, world.responses(SECRETS))
    tools = assert_tool_calls_exactly_once(
        world.collector, sid, expected_tools(world.responses(SECRETS), SECRETS), details=False
    )
    assert all("[REDACTED:" in (t["input_json"] or "") for t in tools.values())
    stored = world.collector.stored_bytes()
    spooled = b"".join(c.spooled_bytes() for c in world.captures.values())
    for secret in PLANTED_SECRETS:
        assert secret.encode() not in stored, secret[:8]
        assert secret.encode() not in spooled, secret[:8]


def test_status_reports_a_working_install(world: World) -> None:
    capture = world.captures[TOOLS.name]
    status = capture.agent_trace("status", "--json")
    report = json.loads(status.stdout)
    assert report["collector"]["ok"] and report["spool"]["payloads"] == 0
    assert report["hooks"][0]["events"] and not report["hooks"][0]["missing_events"]


# -- tier 1: no text at all ----------------------------------------------------------------------

TIER1_TEXTS = (
    TOOLS.prompts[0],
    "echo hello",
    'return "Hello, " + name',
    "I'll start with a quick shell check.",
    "The file reads back with the edit applied.",
    "greet.py now prints",
)


@pytest.mark.parametrize("transport", ["command"])
def test_tier_1_stores_no_text(
    transport: str,
    fake: FakeAnthropic,
    claude_binary: Path,
    tmp_path: Path,
    collector_factory: Callable[..., Collector],
) -> None:
    """The client alone enforces tier 1 here: the collector would keep everything (tier 3), and
    every event goes through the local handler (command transport)."""
    collector = collector_factory(tier=3)
    capture = Capture(fake, claude_binary, tmp_path / "t1", collector.url, tier=1, transport=transport)
    capture.run_all(TOOLS.prompts)
    assert capture.settle().returncode == 0
    sid = capture.claude.session_id
    assert sid is not None
    responses = [r for r in fake.messages() if r.scenario == TOOLS.name]
    assert_llm_calls_exactly_once(collector, sid, responses)
    assert_tool_calls_exactly_once(collector, sid, expected_tools(responses, TOOLS), details=False)
    assert collector.query("select count(*) from prompts where session_id = ? and kind = 'prompt'", sid) == [
        (1,)
    ]
    # The prompt is counted, its text never left the machine (the client sent a placeholder).
    assert collector.query("select distinct text from prompts") in (
        [(None,)],
        [("[withheld: privacy tier 1]",)],
    )
    # Tool calls keep their shape (names, keys), never a value: every string arrived empty.
    for input_json, output_text, error in collector.query(
        "select input_json, output_text, error from tool_calls"
    ):
        assert input_json is None or all(v in ("", False, None) for v in json.loads(str(input_json)).values())
        assert output_text in (None, "") and error in (None, "")
    assert collector.query(
        "select count(*) from llm_calls where response_text is not null or thinking is not null"
    ) == [(0,)]
    stored = collector.stored_bytes()
    for text in TIER1_TEXTS:
        assert text.encode() not in stored, text


# -- the collector is down for a whole session -----------------------------------------------------


def test_collector_down_for_a_whole_session(
    fake: FakeAnthropic, claude_binary: Path, tmp_path: Path, collector_factory: Callable[..., Collector]
) -> None:
    collector = collector_factory(start=False)
    # The base URL with a trailing slash, as people paste it.
    capture = Capture(fake, claude_binary, tmp_path / "down", collector.url + "/", tier=2)
    capture.run_all(TOOLS.prompts)
    down_session = capture.claude.session_id
    assert down_session is not None
    capture.wait_for_workers()
    assert len(list((capture.agent_trace_home / "spool").glob("*.json"))) == 3  # SessionStart, Stop, End
    assert "collector unreachable" in capture.hook_log()

    collector.start()
    # The next session's first hook delivers what waited (no explicit flush).
    capture.claude.run(FAILING_TOOL.prompts[0], resume=False)
    capture.wait_for_workers()
    assert list((capture.agent_trace_home / "spool").glob("*.json")) == []

    responses = [r for r in fake.messages() if r.scenario == TOOLS.name]
    assert_llm_calls_exactly_once(collector, down_session, responses)
    assert_tool_calls_exactly_once(collector, down_session, expected_tools(responses, TOOLS))
    (prompt,) = rows(collector, "select kind,text from prompts where session_id = ?", down_session)
    assert prompt == {"kind": "prompt", "text": TOOLS.prompts[0]}
    (session,) = rows(
        collector,
        "select git_branch,git_lines_added,ended_ms,user_id from sessions where session_id = ?",
        down_session,
    )
    assert session["git_branch"] == "main" and session["git_lines_added"] == 6 and session["ended_ms"]
    assert session["user_id"] == E2E_USER  # delivered from the spool: the same user

    # The same session imported from its transcript into a store of its own: the same user again.
    capture.env["AGENT_TRACE_HOME"] = str(tmp_path / "imported")
    imported = capture.agent_trace("import", str(capture.claude.projects_dir), "--json")
    assert imported.returncode == 0, imported.stderr
    listing = json.loads(capture.agent_trace("sessions", "--json").stdout)["sessions"]
    assert {s["session_id"]: s["user"] for s in listing}[down_session] == E2E_USER
    del capture.env["AGENT_TRACE_HOME"]

    # Delivering again (a flush, a repeated payload) changes nothing: still exactly once.
    before = collector.query("select count(*), sum(output_tokens) from llm_calls")
    assert capture.settle().returncode == 0
    assert collector.query("select count(*), sum(output_tokens) from llm_calls") == before
