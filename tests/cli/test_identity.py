"""One identity rule (configured user, else git user.email, else the OS user) on every path,
and the smaller first-hour fixes: prompt counts that agree, durations under a minute."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_trace.cli.claude_settings import with_user_attribute
from agent_trace.cli.render import duration
from agent_trace.identity import resolve_user
from agent_trace.sources.otlp_build import otel_user
from tests.fixtures.transcripts import Transcript, text_block, uid, usage


def _home_with_git_email(tmp_path: Path, email: str | None) -> dict[str, str]:
    home = tmp_path / "user-home"
    home.mkdir(parents=True, exist_ok=True)
    if email:
        (home / ".gitconfig").write_text(f"[user]\n\temail = {email}\n")
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "GIT_CONFIG_NOSYSTEM": "1",
        "USER": "oslogin",
    }


def test_the_rule_in_order(tmp_path: Path) -> None:
    env = _home_with_git_email(tmp_path, "dev@example.com")
    assert resolve_user("configured", env) == "configured"
    assert resolve_user(None, env) == "dev@example.com"
    assert resolve_user(None, _home_with_git_email(tmp_path / "other", None)) == "oslogin"


def test_telemetry_names_the_same_user() -> None:
    resource = {"agent_trace.user": "dev@example.com", "user.id": "ab" * 32}
    assert otel_user({"user.email": "oauth@example.com"}, resource) == "dev@example.com"
    assert otel_user({"user.email": "oauth@example.com"}, {}) == "oauth@example.com"
    assert otel_user({}, {"user.account_uuid": "1234-uuid"}) == "otel:1234-uuid"
    assert otel_user({"user.id": "ff" * 32}, {}) == "otel:" + "ff" * 32


def test_init_adds_the_user_to_the_users_own_resource_attributes() -> None:
    assert with_user_attribute(None, "dev@example.com") == "agent_trace.user=dev@example.com"
    assert with_user_attribute("team=core,agent_trace.user=old", "a b") == "team=core,agent_trace.user=a%20b"


def _cli(env: dict[str, str], home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_trace.cli.main", *args],
        env={**env, "AGENT_TRACE_HOME": str(home), "TZ": "UTC"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def projects(tmp_path: Path) -> Path:
    t = Transcript(uid(), cwd="/work/alpha")
    t.clock = 14 * 3600
    t.prompt("typed", prompt_id="p1")
    t.assistant([text_block("hi")], u=usage(10, 100))
    t.prompt("<task-notification>background task done</task-notification>", prompt_id="p2")
    t.assistant([text_block("noted")], u=usage(1, 1))
    t.prompt("<command-name>/compact</command-name>", prompt_id="p3")
    t.assistant([text_block("compacted")], u=usage(1, 1))
    t.write(tmp_path / "projects" / "-work-alpha" / f"{t.session_id}.jsonl")
    return tmp_path / "projects"


def test_import_records_the_same_user_and_counts_prompts_as_reports_do(
    tmp_path: Path, projects: Path
) -> None:
    env = _home_with_git_email(tmp_path, "dev@example.com")
    home = tmp_path / "at-home"
    summary = json.loads(_cli(env, home, "import", str(projects), "--json").stdout)
    daily = json.loads(_cli(env, home, "report", "daily", "--json").stdout)
    assert summary["totals"]["prompts"] == daily["totals"]["prompts"] == 2  # typed + slash command
    (session,) = json.loads(_cli(env, home, "sessions", "--json").stdout)["sessions"]
    assert session["user"] == "dev@example.com"
    configured = _cli({**env, "AGENT_TRACE_USER": "alice"}, tmp_path / "home2", "import", str(projects))
    assert configured.returncode == 0
    (session,) = json.loads(_cli(env, tmp_path / "home2", "sessions", "--json").stdout)["sessions"]
    assert session["user"] == "alice"


def test_short_durations_are_not_zero() -> None:
    assert duration(1300) == "1.3s"
    assert duration(400) == "0.4s"
    assert duration(42_000) == "42s"
    assert duration(125_000) == "2m05s"
