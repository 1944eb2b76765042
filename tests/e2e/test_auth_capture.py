"""Live capture with auth on, proven with the real Claude Code CLI: a developer's machine runs
`agent-trace init --token <personal token>`; everything the CLI's hooks and telemetry send is
stored as that person's, although the machine's own identity (USER=e2e-dev) says otherwise; a
machine without a valid token gets nothing stored."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

from .conftest import AGENT_TRACE, Capture, Collector
from .support.fake_anthropic import FakeAnthropic
from .support.scenarios import TOOLS

AUTH = {"AGENT_TRACE_AUTH": "on"}


def _add_user(collector: Collector, name: str) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(collector.root),
        "AGENT_TRACE_HOME": str(collector.home),
        **AUTH,
    }
    proc = subprocess.run(
        [*AGENT_TRACE, "users", "add", name, "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    token: str = json.loads(proc.stdout)["token"]
    return token


def test_a_personal_token_attributes_every_record(
    fake: FakeAnthropic, claude_binary: Path, tmp_path: Path, collector_factory: Callable[..., Collector]
) -> None:
    collector = collector_factory(env=AUTH)
    token = _add_user(collector, "dana")
    capture = Capture(fake, claude_binary, tmp_path / "dana", collector.url, tier=2, token=token)
    capture.run_all(TOOLS.prompts)
    assert capture.settle().returncode == 0
    sid = capture.claude.session_id
    assert sid is not None
    assert collector.query("select user_id from sessions where session_id = ?", sid) == [("dana",)]
    assert collector.query("select count(*) from llm_calls where session_id = ?", sid)[0][0] > 0
    assert collector.query("select count(*) from tool_calls where session_id = ?", sid)[0][0] > 0
    # Nobody else: not the OS user the hook handler would have named, not an OTLP user id.
    assert collector.query("select distinct user_id from sessions") == [("dana",)]


def test_without_a_valid_token_nothing_is_stored(
    fake: FakeAnthropic, claude_binary: Path, tmp_path: Path, collector_factory: Callable[..., Collector]
) -> None:
    collector = collector_factory(env=AUTH)
    _add_user(collector, "dana")
    capture = Capture(
        fake, claude_binary, tmp_path / "nobody", collector.url, tier=2, token="at_not-a-real-token"
    )
    capture.claude.run(TOOLS.prompts[0])
    capture.settle()
    assert collector.query("select count(*) from sessions") == [(0,)]
    assert collector.query("select count(*) from raw_events") == [(0,)]
