"""Budget decisions on the hook path: the shared decision function, the handler's `--decide`
from the cached state (command transport), and what happens when the collector is unreachable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent_trace.hook import worker
from agent_trace.hook.budget import STALE_AFTER_S, decide, project_matches, read_state, write_state
from agent_trace.hook.client_config import load
from tests.hook.conftest import StubCollector, write_client_config
from tests.hook.test_handler import wait_for_workers

HOOK_SCRIPT = Path(worker.__file__).parent / "__main__.py"
BLOCK = {
    "budget_id": "all/day/usd",
    "mode": "block",
    "match": "all",
    "message": "agent-trace budget blocked: all",
}
WARN = {
    "budget_id": "project:api/month/usd",
    "mode": "warn",
    "match": "project",
    "project": "api",
    "message": "warn api",
}
SESSION = {
    "budget_id": "session/session/usd",
    "mode": "block",
    "match": "sessions",
    "session_ids": ["s9"],
    "message": "s9 spent",
}


def doc(*rules: dict[str, Any], allowed: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"version": 1, "computed_ms": 1, "rules": list(rules), "allowed_sessions": list(allowed)}


def test_prompt_refused_tool_denied_warn_shown() -> None:
    assert decide(doc(BLOCK), "UserPromptSubmit", "s1", "/w") == {
        "decision": "block",
        "reason": BLOCK["message"],
    }
    denied = decide(doc(BLOCK), "PreToolUse", "s1", "/w")
    assert denied == {
        "systemMessage": BLOCK["message"],
        "hookSpecificOutput": {"hookEventName": "PreToolUse", "permissionDecision": "deny", "permissionDecisionReason": BLOCK["message"]},
    }  # fmt: skip
    assert decide(doc(WARN), "UserPromptSubmit", "s1", "/home/a/api") == {"systemMessage": "warn api"}
    assert decide(doc(WARN), "PreToolUse", "s1", "/home/a/api") is None
    assert decide(doc(WARN), "UserPromptSubmit", "s1", "/home/a/web") is None
    assert decide(doc(BLOCK), "PostToolUse", "s1", "/w") is None
    assert decide(None, "UserPromptSubmit", "s1", "/w") is None
    assert decide({"rules": "junk"}, "UserPromptSubmit", "s1", "/w") is None


def test_per_session_rules_and_allowed_sessions() -> None:
    assert decide(doc(SESSION), "PreToolUse", "s1", None) is None
    assert decide(doc(SESSION), "PreToolUse", "s9", None) is not None
    allowed = decide(doc(BLOCK, SESSION, allowed=("s9",)), "UserPromptSubmit", "s9", None)
    assert allowed == {"systemMessage": f"{BLOCK['message']} s9 spent"}  # shown, not refused


@pytest.mark.parametrize(
    ("name", "project", "match"),
    [("api", "/home/a/api", True), ("api", "/home/a/api/", True), ("/home/a/api", "/home/a/api", True),
     ("api", "/home/a/api-v2", False), ("a/api", "/home/a/api", False), ("api", None, False)],
)  # fmt: skip
def test_project_names_match_like_the_project_filter(name: str, project: str | None, match: bool) -> None:
    assert project_matches(name, project) is match


def test_state_file_round_trip_and_staleness(tmp_path: Path) -> None:
    assert read_state(tmp_path) == (None, None)
    write_state(tmp_path, doc(BLOCK))
    assert read_state(tmp_path) == (doc(BLOCK), None)
    state, problem = read_state(tmp_path, now=time.time() + STALE_AFTER_S + 5)
    assert state is None and problem is not None and "failing open" in problem
    (tmp_path / "budget-state.json").write_text("{not json")
    assert read_state(tmp_path)[0] is None


def run_decide(home: Path, payload: dict[str, Any]) -> subprocess.CompletedProcess[bytes]:
    """As installed for the command transport: isolated interpreter, `--decide`, payload on stdin."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(HOOK_SCRIPT), "--decide"],
        input=json.dumps(payload).encode(),
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        timeout=30,
    )


PROMPT = {
    "hook_event_name": "UserPromptSubmit",
    "session_id": "s1",
    "cwd": "/w",
    "prompt": "hi",
    "transcript_path": "/t",
}


def test_decide_prints_the_decision_and_still_delivers(user_home: Path, collector: StubCollector) -> None:
    write_client_config(user_home, collector.url, hook_transport="command")
    write_state(user_home / "at", doc(BLOCK))
    proc = run_decide(user_home, PROMPT)
    assert proc.returncode == 0 and proc.stderr == b""
    assert json.loads(proc.stdout) == {"decision": "block", "reason": BLOCK["message"]}
    deadline = time.monotonic() + 20
    while not collector.payloads and time.monotonic() < deadline:
        time.sleep(0.02)
    wait_for_workers(user_home)
    assert [p["hook_event_name"] for p in collector.payloads] == ["UserPromptSubmit"]
    # The worker refreshed the cache from the collector, which has nothing spent up: no file.
    assert any(path.startswith("/v1/budgets/state") for path, _h, _b in collector.requests)
    assert not (user_home / "at" / "budget-state.json").exists()


def test_the_installed_line_decides_only_while_a_state_file_exists(
    user_home: Path, collector: StubCollector
) -> None:
    from agent_trace.cli.install_files import decide_command

    write_client_config(user_home, collector.url, hook_transport="command")
    line = decide_command(user_home / "at")
    env = {"HOME": str(user_home), "PATH": os.environ.get("PATH", "")}

    def run(payload: dict[str, Any]) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            line, shell=True, input=json.dumps(payload).encode(), env=env, capture_output=True, timeout=30
        )

    quiet = run(PROMPT)  # no state file: the background line, nothing on stdout
    assert (quiet.returncode, quiet.stdout) == (0, b"")
    wait_for_workers(user_home)
    collector.budget_state = doc(BLOCK)  # the collector now has a spent-up budget
    assert run({**PROMPT, "hook_event_name": "PostToolUse"}).stdout == b""
    wait_for_workers(user_home)  # that worker cached the state
    assert read_state(user_home / "at")[0] == doc(BLOCK)
    refused = run(PROMPT)
    assert json.loads(refused.stdout) == {"decision": "block", "reason": BLOCK["message"]}
    wait_for_workers(user_home)
    assert [p["hook_event_name"] for p in collector.payloads] == [
        "UserPromptSubmit",
        "PostToolUse",
        "UserPromptSubmit",
    ]


def test_decide_is_silent_without_a_usable_state(user_home: Path, collector: StubCollector) -> None:
    write_client_config(user_home, collector.url, hook_transport="command")
    assert run_decide(user_home, PROMPT).stdout == b""  # no state yet
    write_state(user_home / "at", doc(BLOCK))
    old = time.time() - STALE_AFTER_S - 60
    os.utime(user_home / "at" / "budget-state.json", (old, old))
    assert run_decide(user_home, PROMPT).stdout == b""  # stale: fail open
    write_state(user_home / "at", doc(BLOCK))
    stop = {**PROMPT, "hook_event_name": "Stop"}
    assert run_decide(user_home, stop).stdout == b""  # not an event a budget decides
    wait_for_workers(user_home)


def test_unreachable_collector_keeps_then_drops_the_state_and_logs_it(
    user_home: Path, tmp_path: Path
) -> None:
    write_client_config(user_home, "http://127.0.0.1:9", hook_transport="command", user="dev")
    cfg = load({"HOME": str(user_home)})
    assert cfg is not None
    lines: list[str] = []
    worker.refresh_budget_state(cfg, lines.append, time.monotonic() + 5)  # type: ignore[arg-type]
    assert "no cached state, budgets fail open" in lines[-1]
    write_state(cfg.agent_trace_home, doc(BLOCK))
    worker.refresh_budget_state(cfg, lines.append, time.monotonic() + 5)  # type: ignore[arg-type]
    assert "keeping the cached state" in lines[-1]
    assert read_state(cfg.agent_trace_home)[0] == doc(BLOCK)
    old = time.time() - STALE_AFTER_S - 60
    os.utime(cfg.agent_trace_home / "budget-state.json", (old, old))
    worker.refresh_budget_state(cfg, lines.append, time.monotonic() + 5)  # type: ignore[arg-type]
    assert "budgets fail open" in lines[-1]


def test_the_worker_asks_for_this_developers_state(user_home: Path, collector: StubCollector) -> None:
    write_client_config(
        user_home, collector.url, hook_transport="command", user="ana lee", ingest_token="t0k"
    )
    collector.budget_state = doc(WARN)
    cfg = load({"HOME": str(user_home)})
    assert cfg is not None
    worker.refresh_budget_state(cfg, lambda _m: None, time.monotonic() + 5)  # type: ignore[arg-type]
    path, headers, _ = collector.requests[-1]
    assert path == "/v1/budgets/state?user=ana%20lee" and headers["Authorization"] == "Bearer t0k"
    assert read_state(cfg.agent_trace_home)[0] == doc(WARN)
