"""Budgets enforced through Claude Code's own hooks, proven with the real CLI.

A real `agent-trace serve --role collector`, `agent-trace init` in the CLI's HOME (default hook
layout: UserPromptSubmit and PreToolUse post to the collector, which answers with a hook
decision), the scripted fake API, and budgets set with the documented `agent-trace budgets`
commands against the collector's database, the way an admin types them.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from .conftest import AGENT_TRACE, Capture, Collector
from .support.claude_cli import CliRun
from .support.fake_anthropic import FakeAnthropic, RecordedRequest, Scenario, Usage, turn
from .support.scenarios import agent, bash

pytestmark = pytest.mark.e2e

# One text turn with a large, exact usage: far more than the small budgets below.
BIG = Scenario(
    name="budget-big",
    description="one answer with 400k input tokens",
    prompts=("SCENARIO:budget-big Summarise the repository.",),
    main=(turn("Here is the summary.", usage=Usage(400_000, 120)),),
)
# Two tool calls: the first runs; the spend of the first request reaches the session's budget
# while the second request is answered, so the second tool call is refused by PreToolUse.
TWO_TOOLS = Scenario(
    name="budget-tools",
    description="two Bash calls, then an answer",
    prompts=("SCENARIO:budget-tools Make two files.",),
    main=(
        turn(bash("echo one > first.txt", "first file"), usage=Usage(400_000, 50)),
        turn(bash("echo two > second.txt", "second file"), usage=Usage(12, 40, cache_read=400_000)),
        turn("Done.", usage=Usage(10, 8, cache_read=400_050)),
    ),
)
# The same inside a foreground subagent: its first request's spend puts the session over its
# budget, so its second tool call is refused.
SUB_MARKER = "SUBTASK:budget-two-files"
SUBAGENT_TOOLS = Scenario(
    name="budget-subagent",
    description="a subagent with two Bash calls",
    prompts=("SCENARIO:budget-subagent Delegate making two files.",),
    main=(
        turn(agent(f"{SUB_MARKER} Make two files with Bash.", "Make two files"), usage=Usage(20, 30)),
        turn("The subagent is done.", usage=Usage(10, 8)),
    ),
    subagents={
        SUB_MARKER: (
            turn(bash("echo one > sub1.txt", "first file"), usage=Usage(400_000, 50)),
            turn(bash("echo two > sub2.txt", "second file"), usage=Usage(12, 40, cache_read=400_000)),
            turn("Stopped by a budget.", usage=Usage(10, 8, cache_read=400_050)),
        )
    },
)
SCENARIOS = (BIG, TWO_TOOLS, SUBAGENT_TOOLS)


def admin(collector: Collector, *args: str) -> subprocess.CompletedProcess[str]:
    """`agent-trace <args>` as the admin runs it on the collector's machine (its database)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(collector.root),
        "AGENT_TRACE_HOME": str(collector.home),
    }
    return subprocess.run([*AGENT_TRACE, *args], env=env, capture_output=True, text=True, timeout=120)


def set_budget(collector: Collector, *args: str) -> None:
    """`agent-trace budgets set ARGS` on the collector's machine; it must succeed."""
    result = admin(collector, "budgets", "set", *args)
    assert result.returncode == 0, result.stderr


def spend_up(dev: Capture, collector: Collector) -> None:
    """One session larger than the small budgets, delivered, and counted by the collector."""
    assert "Here is the summary." in dev.claude.run(BIG.prompts[0]).stdout
    assert dev.settle().returncode == 0
    wait_for_rules(collector, True)


def budget_state(collector: Collector, user: str = "e2e-dev") -> dict[str, Any]:
    with urllib.request.urlopen(f"{collector.url}/v1/budgets/state?user={user}", timeout=5) as response:
        state: dict[str, Any] = json.loads(response.read())
    return state


def wait_for_rules(collector: Collector, want: bool, timeout: float = 30.0) -> dict[str, Any]:
    """Until the collector's budget state has (or no longer has) a spent-up budget."""
    deadline = time.monotonic() + timeout
    while True:
        state = budget_state(collector)
        if bool(state["rules"]) == want:
            return state
        assert time.monotonic() < deadline, f"budget state never became {want}: {state}\n{collector.log()}"
        time.sleep(0.1)


def output_of(run: CliRun) -> str:
    return run.stdout + run.stderr


def prompt_requests(fake: FakeAnthropic, session_id: str | None) -> list[RecordedRequest]:
    return [r for r in fake.requests() if r.scenario and r.session_id == session_id]


def assert_ran(fake: FakeAnthropic, run: CliRun) -> None:
    """The prompt reached the model once and its answer is in the CLI's output."""
    assert "Here is the summary." in run.stdout, run.describe()
    assert len(prompt_requests(fake, run.session_id)) == 1


@pytest.fixture
def fake() -> Any:
    with FakeAnthropic(SCENARIOS) as server:
        yield server


@pytest.fixture
def world(
    fake: FakeAnthropic, claude_binary: Path, tmp_path: Path, collector_factory: Any
) -> tuple[Collector, Capture]:
    collector = collector_factory()
    capture = Capture(fake, claude_binary, tmp_path / "dev", collector.url)
    return collector, capture


def test_block_refuses_the_next_prompt_until_the_admin_raises_the_limit(
    world: tuple[Collector, Capture], fake: FakeAnthropic
) -> None:
    collector, dev = world
    set_budget(collector, "--scope", "all", "--period", "day", "--usd", "0.05", "--mode", "block")
    spend_up(dev, collector)  # the first session runs
    state = budget_state(collector)
    assert state["rules"][0]["budget_id"] == "all/day/usd"

    refused = dev.claude.run(BIG.prompts[0], resume=False, check=False)
    message = state["rules"][0]["message"]
    assert "agent-trace budget blocked: all USD budget for this day" in output_of(refused), refused.describe()
    assert "of $0.05" in message and "To raise it" in message
    assert prompt_requests(fake, refused.session_id) == [], "the refused prompt reached the model"
    listed = admin(collector, "budgets", "list")
    assert "all/day/usd" in listed.stdout and "block" in listed.stdout

    set_budget(collector, "--scope", "all", "--period", "day", "--usd", "1000", "--mode", "block")
    wait_for_rules(collector, False)
    assert_ran(fake, dev.claude.run(BIG.prompts[0], resume=False))


def test_warn_shows_the_message_and_the_prompt_runs(
    world: tuple[Collector, Capture], fake: FakeAnthropic
) -> None:
    collector, dev = world
    set_budget(collector, "--scope", "user:e2e-dev", "--period", "month", "--tokens", "1000")
    spend_up(dev, collector)

    warned = dev.claude.run(BIG.prompts[0], resume=False)
    assert "agent-trace budget warning: user:e2e-dev TOKENS budget for this month" in output_of(warned), (
        warned.describe()
    )
    assert_ran(fake, warned)


def test_allow_lets_one_blocked_session_go_on(world: tuple[Collector, Capture], fake: FakeAnthropic) -> None:
    collector, dev = world
    set_budget(collector, "--scope", "all", "--period", "week", "--usd", "0.05", "--mode", "block")
    spend_up(dev, collector)
    refused = dev.claude.run(BIG.prompts[0], resume=False, check=False)
    assert "budget blocked" in output_of(refused)
    assert dev.settle().returncode == 0

    allowed = admin(collector, "budgets", "allow", "--session", str(refused.session_id))
    assert allowed.returncode == 0, allowed.stderr
    deadline = time.monotonic() + 30
    while refused.session_id not in budget_state(collector)["allowed_sessions"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert_ran(fake, dev.claude.run(BIG.prompts[0], resume=True))  # the refused session, resumed


def test_http_hooks_fail_open_when_the_collector_is_down(
    world: tuple[Collector, Capture], fake: FakeAnthropic
) -> None:
    collector, dev = world
    set_budget(collector, "--scope", "all", "--period", "month", "--usd", "0.05", "--mode", "block")
    spend_up(dev, collector)
    assert "budget blocked" in output_of(dev.claude.run(BIG.prompts[0], resume=False, check=False))
    collector.stop()  # Claude Code's http hook now fails: a non-blocking error, the prompt runs
    assert_ran(fake, dev.claude.run(BIG.prompts[0], resume=False))


def test_pre_tool_use_refuses_a_tool_call_inside_a_running_session(
    world: tuple[Collector, Capture], fake: FakeAnthropic
) -> None:
    collector, dev = world
    set_budget(collector, "--scope", "session", "--usd", "0.05", "--mode", "block")

    # The second request's tool call must be refused: it is answered once the first request's
    # spend (sent live by Claude Code's OpenTelemetry export) puts the running session over.
    fake.before_answer = hold_until_over_budget(collector, TWO_TOOLS.name, "main", 1)
    run = dev.claude.run(TWO_TOOLS.prompts[0], env={"OTEL_LOGS_EXPORT_INTERVAL": "200"})
    assert (dev.claude.repo / "first.txt").read_text() == "one\n"
    assert not (dev.claude.repo / "second.txt").exists(), "the refused tool call ran"
    assert "agent-trace budget blocked: session USD budget for this session is spent" in run.stdout, (
        run.describe()
    )


def hold_until_over_budget(collector: Collector, scenario: str, thread: str, turn_index: int) -> Any:
    """A fake-API hook: answer that request only once the collector counts its session over a
    per-session budget (the spend of the earlier requests arrives live, by OpenTelemetry)."""

    def hold(request: RecordedRequest) -> None:
        if request.scenario == scenario and request.thread == thread and request.turn_index == turn_index:
            deadline = time.monotonic() + 60
            while request.session_id not in str(budget_state(collector)["rules"]):
                assert time.monotonic() < deadline, collector.log()
                time.sleep(0.1)

    return hold


def test_a_subagent_counts_and_is_stopped_as_it_runs(
    world: tuple[Collector, Capture], fake: FakeAnthropic
) -> None:
    collector, dev = world
    set_budget(collector, "--scope", "session", "--usd", "0.05", "--mode", "block")
    fake.before_answer = hold_until_over_budget(collector, SUBAGENT_TOOLS.name, f"subagent:{SUB_MARKER}", 1)
    run = dev.claude.run(SUBAGENT_TOOLS.prompts[0], env={"OTEL_LOGS_EXPORT_INTERVAL": "200"})
    assert (dev.claude.repo / "sub1.txt").read_text() == "one\n"
    assert not (dev.claude.repo / "sub2.txt").exists(), "the subagent's refused tool call ran"
    assert "agent-trace budget blocked: session USD budget for this session is spent" in run.stdout, (
        run.describe()
    )


def test_command_transport_decides_from_the_cached_state(
    fake: FakeAnthropic, claude_binary: Path, tmp_path: Path, collector_factory: Any
) -> None:
    """`--hook-transport command`: the handler answers from the state its workers cached."""
    collector = collector_factory()
    dev = Capture(fake, claude_binary, tmp_path / "dev", collector.url, transport="command")
    settings = json.loads(dev.claude.settings_path.read_text())
    (handler,) = settings["hooks"]["UserPromptSubmit"][0]["hooks"]
    assert handler["type"] == "command" and "--decide" in handler["command"]
    set_budget(collector, "--scope", "all", "--period", "day", "--usd", "0.05", "--mode", "block")

    spend_up(dev, collector)
    assert dev.settle().returncode == 0  # --flush also refreshes the cached budget state
    cached = json.loads((dev.agent_trace_home / "budget-state.json").read_text())
    assert [r["budget_id"] for r in cached["rules"]] == ["all/day/usd"]
    refused = dev.claude.run(BIG.prompts[0], resume=False, check=False)
    assert "agent-trace budget blocked: all USD budget for this day" in output_of(refused), refused.describe()
    assert prompt_requests(fake, refused.session_id) == []

    # The collector goes away: the cached state still holds; once it is stale, budgets fail open.
    collector.stop()
    again = dev.claude.run(BIG.prompts[0], resume=False, check=False)
    assert "agent-trace budget blocked" in output_of(again) and prompt_requests(fake, again.session_id) == []
    dev.wait_for_workers()
    assert "keeping the cached state" in dev.hook_log()
    old = time.time() - 3600
    os.utime(dev.agent_trace_home / "budget-state.json", (old, old))
    assert_ran(fake, dev.claude.run(BIG.prompts[0], resume=False))
    dev.wait_for_workers()
    assert "budgets fail open" in dev.hook_log()
