"""`init`, `status` and `uninstall` on real files in a temporary HOME, run as the user runs them."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_trace.cli.claude_settings import (
    LEAN_SKIPPED_EVENTS,
    HookPlan,
    InstallRecord,
    install,
    installed_events,
    otel_env,
    uninstall,
)
from agent_trace.sources.claude_hooks import hook_events_of_interest

USER_SETTINGS: dict[str, Any] = {
    "model": "opus",
    "permissions": {"allow": ["Bash(ls:*)"]},
    "hooks": {
        "Stop": [{"hooks": [{"type": "command", "command": "notify-send done"}]}],
        "PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "./guard.sh"}]}],
    },
    "env": {"FOO": "bar", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://old-collector:4318"},
}


def cli(home: Path, *args: str, cwd: Path | None = None, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AGENT_TRACE_HOME": str(home / ".agent-trace"),
        "USER": "dev",
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "agent_trace.cli.main", *args],
        env=env,
        cwd=cwd or home,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    return home


def settings_file(home: Path) -> Path:
    return home / ".claude" / "settings.json"


def read(path: Path) -> Any:
    return json.loads(path.read_text())


# -- merge rules (pure) ------------------------------------------------------------------------


def plan(**kw: Any) -> HookPlan:
    return HookPlan(
        command="/venv/bin/python -I -S /site/agent_trace/hook/__main__.py",
        hooks_url=kw.pop("hooks_url", "http://127.0.0.1:8317/v1/hooks"),
        events=hook_events_of_interest(),
        **kw,
    )


def test_install_keeps_the_users_hooks_and_is_idempotent() -> None:
    record = InstallRecord(settings_path="s", scope="user")
    env = otel_env(tier=2, protocol="http/protobuf", endpoint="http://127.0.0.1:8317", token=None)
    once = install(USER_SETTINGS, plan(), env, record)
    snapshot = record.to_json()
    twice = install(once, plan(), env, record)
    assert once == twice and record.to_json() == snapshot
    assert once["hooks"]["Stop"][0] == USER_SETTINGS["hooks"]["Stop"][0]
    assert once["hooks"]["PreToolUse"][0] == USER_SETTINGS["hooks"]["PreToolUse"][0]
    assert once["permissions"] == USER_SETTINGS["permissions"] and once["env"]["FOO"] == "bar"
    assert uninstall(twice, record) == USER_SETTINGS


def test_handler_types_by_event() -> None:
    settings = install({}, plan(), {}, InstallRecord(settings_path="s", scope="user"))
    kinds = {e: [h["type"] for g in groups for h in g["hooks"]] for e, groups in settings["hooks"].items()}
    assert kinds.pop("SessionStart") == kinds.pop("Stop") == kinds.pop("SessionEnd") == ["command"]
    assert set(kinds) == set(hook_events_of_interest()) - {"SessionStart", "Stop", "SessionEnd"}
    assert all(k == ["http"] for k in kinds.values())
    remote = install({}, plan(transport="command"), {}, InstallRecord(settings_path="s", scope="user"))
    assert {h["type"] for groups in remote["hooks"].values() for g in groups for h in g["hooks"]} == {
        "command"
    }


def test_the_token_goes_into_no_settings_key() -> None:
    settings = install({}, plan(), {}, InstallRecord(settings_path="s", scope="user"))
    assert "headers" not in settings["hooks"]["PreToolUse"][0]["hooks"][0]
    env = otel_env(tier=1, protocol="grpc", endpoint="http://h:4717", token="t0k")
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in env and "t0k" not in json.dumps(env)


def test_budget_events_decide_in_the_foreground_with_the_command_transport() -> None:
    remote = install(
        {}, plan(transport="command", decide_command="py __main__.py --decide"), {},
        InstallRecord(settings_path="s", scope="user"),
    )  # fmt: skip
    commands = {e: groups[0]["hooks"][0]["command"] for e, groups in remote["hooks"].items()}
    assert commands.pop("UserPromptSubmit") == commands.pop("PreToolUse") == "py __main__.py --decide"
    assert set(commands.values()) == {plan().command}
    local = install(
        {}, plan(decide_command="py --decide", user="ana"), {}, InstallRecord(settings_path="s", scope="user")
    )
    (handler,) = local["hooks"]["UserPromptSubmit"][0]["hooks"]
    assert handler["type"] == "http" and handler["headers"] == {"X-Agent-Trace-User": "ana"}


@pytest.mark.parametrize(
    ("tier", "content_keys"),
    [
        (1, set()),
        (2, {"OTEL_LOG_USER_PROMPTS", "OTEL_LOG_TOOL_DETAILS"}),
        (3, {"OTEL_LOG_USER_PROMPTS", "OTEL_LOG_TOOL_DETAILS", "OTEL_LOG_ASSISTANT_RESPONSES"}),
    ],
)
def test_content_logging_follows_the_tier(tier: int, content_keys: set[str]) -> None:
    env = otel_env(tier=tier, protocol="http/protobuf", endpoint="http://c", token=None)
    assert {k for k in env if k.startswith("OTEL_LOG_")} == content_keys
    assert env["CLAUDE_CODE_ENABLE_TELEMETRY"] == "1" and env["CLAUDE_CODE_ENHANCED_TELEMETRY_BETA"] == "1"
    assert env["OTEL_LOGS_EXPORTER"] == env["OTEL_METRICS_EXPORTER"] == env["OTEL_TRACES_EXPORTER"] == "otlp"


def test_lowering_the_tier_takes_content_logging_back_out() -> None:
    record = InstallRecord(settings_path="s", scope="user")
    high = install(
        USER_SETTINGS, plan(), otel_env(tier=3, protocol="http/json", endpoint="e", token=None), record
    )
    low = install(high, plan(), otel_env(tier=1, protocol="http/json", endpoint="e", token=None), record)
    assert not {k for k in low["env"] if k.startswith("OTEL_LOG_")}
    assert uninstall(low, record) == USER_SETTINGS


def test_a_new_collector_url_replaces_the_old_hooks() -> None:
    record = InstallRecord(settings_path="s", scope="user")
    first = install({}, plan(), {}, record)
    moved = install(
        first, plan(hooks_url="http://10.0.0.5:8317/v1/hooks"), {}, record, ["http://127.0.0.1:8317/v1/hooks"]
    )
    urls = {h.get("url") for groups in moved["hooks"].values() for g in groups for h in g["hooks"]}
    assert urls == {None, "http://10.0.0.5:8317/v1/hooks"}
    assert uninstall(moved, record) == {}


def test_a_value_the_user_changed_after_init_is_left_alone() -> None:
    record = InstallRecord(settings_path="s", scope="user")
    env = otel_env(tier=2, protocol="http/json", endpoint="e", token=None)
    installed = install(USER_SETTINGS, plan(), env, record)
    installed["env"]["OTEL_LOGS_EXPORTER"] = "console"
    assert uninstall(installed, record)["env"]["OTEL_LOGS_EXPORTER"] == "console"


# -- the commands --------------------------------------------------------------------------------


def test_init_then_uninstall_round_trip(user_home: Path) -> None:
    settings_file(user_home).write_text(json.dumps(USER_SETTINGS, indent=4))
    original_bytes = settings_file(user_home).read_bytes()

    dry = cli(user_home, "init", "--dry-run")
    assert dry.returncode == 0 and '"type": "http"' in dry.stdout
    assert settings_file(user_home).read_bytes() == original_bytes
    assert not (user_home / ".claude" / "agent-trace.json").exists()

    first = cli(user_home, "init", "--privacy-tier", "3", "--token", "s3cr3t-token")
    assert first.returncode == 0, first.stderr
    after_first = settings_file(user_home).read_bytes()
    config_path = user_home / ".claude" / "agent-trace.json"
    config = read(config_path)
    assert (
        config["privacy_tier"] == 3 and config["ingest_token"] == "s3cr3t-token" and config["user"] == "dev"
    )
    assert stat.S_IMODE(config_path.stat().st_mode) == 0o600
    backups = list((user_home / ".agent-trace" / "backups").glob("*.json"))
    assert [b.read_bytes() for b in backups] == [original_bytes]

    second = cli(user_home, "init")
    assert second.returncode == 0 and "nothing changed" in second.stdout
    assert settings_file(user_home).read_bytes() == after_first
    assert len(list((user_home / ".agent-trace" / "backups").glob("*.json"))) == 1

    status = cli(user_home, "status", "--json")
    report = json.loads(status.stdout)
    assert report["configured"] and report["config"]["ingest_token"] == "***"
    user_entry = report["hooks"][0]
    assert set(user_entry["events"]) == set(installed_events(False)) and not user_entry["missing_events"]
    assert not set(user_entry["events"]) & LEAN_SKIPPED_EVENTS
    assert report["collector"]["ok"] is False and report["spool"]["payloads"] == 0
    assert "s3cr3t-token" not in status.stdout

    removed = cli(user_home, "uninstall")
    assert removed.returncode == 0, removed.stderr
    assert read(settings_file(user_home)) == USER_SETTINGS
    assert not config_path.exists()


def test_init_token_is_never_written_into_settings_json(user_home: Path) -> None:
    """Issue 9, problem 7: the token went 11 times into ~/.claude/settings.json (mode 0644)."""
    assert cli(user_home, "init", "--token", "s3cr3t-token").returncode == 0
    text = settings_file(user_home).read_text()
    assert "s3cr3t-token" not in text
    settings = json.loads(text)
    helper = settings["otelHeadersHelper"]
    assert "OTEL_EXPORTER_OTLP_HEADERS" not in settings["env"]
    # Every hook is a command handler: it reads the token from the 0600 client config.
    handlers = [h for groups in settings["hooks"].values() for g in groups for h in g["hooks"]]
    assert handlers and all(h["type"] == "command" for h in handlers)
    # The helper Claude Code runs prints the header, from the 0600 config.
    env = {"HOME": str(user_home), "PATH": os.environ.get("PATH", "")}
    printed = subprocess.run(helper, shell=True, env=env, capture_output=True, text=True, timeout=30)
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout) == {"Authorization": "Bearer s3cr3t-token"}
    assert cli(user_home, "uninstall").returncode == 0
    assert not settings_file(user_home).exists()


def test_init_creates_a_settings_file_that_uninstall_removes(user_home: Path) -> None:
    assert cli(user_home, "init", "--privacy-tier", "1").returncode == 0
    settings = read(settings_file(user_home))
    assert "OTEL_LOG_USER_PROMPTS" not in settings["env"]
    assert cli(user_home, "uninstall").returncode == 0
    assert not settings_file(user_home).exists()


def test_project_and_local_scopes(user_home: Path, tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    assert cli(user_home, "init", "--scope", "local", cwd=project).returncode == 0
    assert (project / ".claude" / "settings.local.json").is_file()
    refused = cli(user_home, "init", "--scope", "project", "--token", "t", cwd=project)
    assert refused.returncode == 2 and "--scope local" in refused.stderr
    assert cli(user_home, "init", "--scope", "project", cwd=project).returncode == 0
    config = read(user_home / ".claude" / "agent-trace.json")
    assert {i["scope"] for i in config["installs"]} == {"local", "project"}
    assert cli(user_home, "uninstall", "--scope", "local", cwd=project).returncode == 0
    assert not (project / ".claude" / "settings.local.json").exists()
    assert [i["scope"] for i in read(user_home / ".claude" / "agent-trace.json")["installs"]] == ["project"]
    assert cli(user_home, "uninstall", cwd=project).returncode == 0
    assert not (project / ".claude" / "settings.json").exists()


def test_invalid_settings_are_never_overwritten(user_home: Path) -> None:
    settings_file(user_home).write_text("{ not json")
    result = cli(user_home, "init")
    assert result.returncode == 2 and "not valid JSON" in result.stderr
    assert settings_file(user_home).read_text() == "{ not json"


def test_remote_collector_uses_command_hooks(user_home: Path) -> None:
    assert cli(user_home, "init", "--collector-url", "https://collector.example.com").returncode == 0
    hooks = read(settings_file(user_home))["hooks"]
    assert {h["type"] for groups in hooks.values() for g in groups for h in g["hooks"]} == {"command"}
    assert read(user_home / ".claude" / "agent-trace.json")["hook_transport"] == "command"


def test_all_events_on_request(user_home: Path) -> None:
    assert cli(user_home, "init", "--events", "all").returncode == 0
    assert set(read(settings_file(user_home))["hooks"]) == set(hook_events_of_interest())
    assert cli(user_home, "init").returncode == 0  # the choice is remembered
    assert set(read(settings_file(user_home))["hooks"]) == set(hook_events_of_interest())
    assert cli(user_home, "init", "--events", "lean").returncode == 0
    assert set(read(settings_file(user_home))["hooks"]) == set(installed_events(False))


def test_status_when_not_installed(user_home: Path) -> None:
    result = cli(user_home, "status")
    assert result.returncode == 1 and "run `agent-trace init`" in result.stdout
