"""Outcomes with the real Claude Code CLI (issue 14): the agent writes a file and commits it, a
person commits in the same repository between two prompts, and another session runs the same
failing test command five times. What `agent-trace show --json` answers is compared with what
the fake API scripted."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain.provenance import text_keys

from .conftest import AGENT_TRACE, Capture, Collector
from .support.fake_anthropic import FakeAnthropic
from .support.scenarios import ALL_SCENARIOS, CALC_PY, OUTCOME_COMMIT, OUTCOME_SPIN, SPIN_COMMAND

pytestmark = pytest.mark.e2e


@dataclass
class World:
    collector: Collector
    fake: FakeAnthropic
    commit: Capture
    spin: Capture
    person_sha: str

    def show(self, capture: Capture) -> dict[str, Any]:
        sid = capture.claude.session_id
        assert sid is not None
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.collector.root),
            "AGENT_TRACE_HOME": str(self.collector.home),
        }
        proc = subprocess.run(
            [*AGENT_TRACE, "show", sid, "--json"], env=env, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        data: dict[str, Any] = json.loads(proc.stdout)
        return data


def person_commit(capture: Capture) -> str:
    repo = capture.claude.repo
    (repo / "NOTES.md").write_text("notes written by a person\nsecond line\n")
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(capture.claude.home), "GIT_CONFIG_NOSYSTEM": "1"}
    for args in (["add", "NOTES.md"], ["commit", "-q", "-m", "Notes by hand"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    out = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


@pytest.fixture(scope="module")
def world(claude_binary: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("outcomes")
    collector = Collector(root / "collector", tier=2).start()
    try:
        with FakeAnthropic(ALL_SCENARIOS.values()) as fake:
            commit = Capture(fake, claude_binary, root / OUTCOME_COMMIT.name, collector.url, tier=2)
            commit.claude.run(OUTCOME_COMMIT.prompts[0])
            commit.wait_for_workers()
            person_sha = person_commit(commit)  # between the two prompts of the same session
            # git stamps commits to the second (and provenance allows 1 s of clock slack): a
            # person types the next prompt seconds later, not within the same second.
            time.sleep(2.1)
            commit.claude.run(OUTCOME_COMMIT.prompts[1])
            spin = Capture(fake, claude_binary, root / OUTCOME_SPIN.name, collector.url, tier=2)
            spin.run_all(OUTCOME_SPIN.prompts)
            for capture in (commit, spin):
                settled = capture.settle()
                assert settled.returncode == 0, settled.stderr + capture.hook_log()
            yield World(collector, fake, commit, spin, person_sha)
    finally:
        collector.stop()


def test_the_agents_commit_is_linked_to_its_prompt_with_its_lines(world: World) -> None:
    replay = world.show(world.commit)
    first_prompt = replay["prompts"][0]
    write_call = next(t for step in first_prompt["steps"] for t in step["tools"] if t["tool_name"] == "Write")
    commit_call = next(
        t
        for step in first_prompt["steps"]
        for t in step["tools"]
        if "git commit" in json.dumps(t.get("input"))
    )
    agent = next(c for c in replay["commits"] if c["message"] == "Add calc")
    assert agent["prompt_id"] == first_prompt["prompt_id"]
    assert agent["tool_use_id"] == commit_call["tool_use_id"]
    assert agent["by_agent"] is True
    written = len(text_keys(write_call["input"]["content"]))
    assert written == len(text_keys(CALC_PY)) == 6
    assert agent["agent_lines"] == written == agent["lines_added"]
    assert agent["patch_id"] and agent["parent_sha"]


def test_a_persons_commit_in_the_session_is_linked_with_no_agent_lines(world: World) -> None:
    replay = world.show(world.commit)
    person = next(c for c in replay["commits"] if c["sha"] == world.person_sha)
    assert person["by_agent"] is False and person["tool_use_id"] is None
    assert person["agent_lines"] == 0 and person["lines_added"] == 2
    assert person["prompt_id"] == replay["prompts"][0]["prompt_id"]  # made before the second prompt
    assert replay["outcome"]["label"] == "committed"
    assert replay["outcome"]["agent_lines"] == 6


def test_five_runs_of_the_same_failing_test_command_are_spun(world: World) -> None:
    replay = world.show(world.spin)
    runs = [
        t["tool_use_id"]
        for p in replay["prompts"]
        for step in p["steps"]
        for t in step["tools"]
        if t["tool_name"] == "Bash" and t["input"]["command"] == SPIN_COMMAND
    ]
    assert len(runs) == 5
    outcome = replay["outcome"]
    assert outcome["label"] == "spun"
    loop = next(s for s in outcome["signals"] if s["name"] == "loop")
    assert loop["value"] == 5
    assert [e["id"] for e in loop["evidence"]] == runs
    assert replay["commits"] == []
