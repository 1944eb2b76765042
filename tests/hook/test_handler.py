"""The hook handler as Claude Code runs it: exit 0, silent, detached work; and the worker's output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain.provenance import text_keys
from agent_trace.hook import worker
from agent_trace.hook.spool import Spool
from tests.hook.conftest import StubCollector, write_client_config
from tests.hook.test_gitinfo import git

HOOK_SCRIPT = Path(worker.__file__).parent / "__main__.py"
SECRET = "sk-ant-api03-" + "Qx7" * 31 + "AA"


def run_hook(home: Path, payload: bytes, **env: str) -> subprocess.CompletedProcess[bytes]:
    """Exactly as installed: isolated interpreter, no site-packages, payload on stdin."""
    return subprocess.run(
        [sys.executable, "-I", "-S", str(HOOK_SCRIPT)],
        input=payload,
        env={"HOME": str(home), "PATH": os.environ.get("PATH", ""), **env},
        capture_output=True,
        timeout=30,
    )


def wait_for_workers(home: Path) -> None:
    spool = Spool(home / "at" / "spool")
    deadline = time.monotonic() + 20
    while spool.running_workers(home=str(home)) and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "-c", "init.defaultBranch=main", "init", "-q")
    (path / "a.txt").write_text("a\n")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "init")
    return path


def transcript(tmp_path: Path, *records: dict[str, Any]) -> Path:
    path = tmp_path / "projects" / "-repo" / "s1.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
    return path


def payload(event: str, repo: Path, transcript_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "session_id": "s1",
        "transcript_path": str(transcript_path),
        "cwd": str(repo),
        "hook_event_name": event,
        **extra,
    }


def process(home: Path, data: dict[str, Any], **env: str) -> None:
    worker.run(json.dumps(data).encode(), {"HOME": str(home), **env})


PROMPT_LINE = {
    "type": "user",
    "uuid": "u1",
    "sessionId": "s1",
    "promptId": "p1",
    "timestamp": "2026-01-01T00:00:00.000Z",
    "message": {"role": "user", "content": f"use key {SECRET}"},
}
REPLY_LINE = {
    "type": "assistant",
    "uuid": "a1",
    "sessionId": "s1",
    "requestId": "req_1",
    "timestamp": "2026-01-01T00:00:01.000Z",
    "message": {
        "id": "msg_1",
        "model": "m",
        "role": "assistant",
        "content": [{"type": "text", "text": "ok"}],
    },
}


# -- the process Claude Code runs ------------------------------------------------------------


@pytest.mark.parametrize("stdin", [b"", b"not json", b"[1, 2]", b'{"hook_event_name": 3}'])
def test_bad_input_exits_zero_silently(user_home: Path, collector: StubCollector, stdin: bytes) -> None:
    write_client_config(user_home, collector.url)
    proc = run_hook(user_home, stdin, AGENT_TRACE_HOOK_INLINE="1")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    assert collector.payloads == []


def test_not_initialised_does_nothing(user_home: Path) -> None:
    proc = run_hook(
        user_home, b'{"hook_event_name": "Stop", "session_id": "s1"}', AGENT_TRACE_HOOK_INLINE="1"
    )
    assert (proc.returncode, proc.stdout) == (0, b"")
    assert not (user_home / ".agent-trace").exists()


def test_the_foreground_returns_and_a_detached_worker_delivers(
    user_home: Path, collector: StubCollector, repo: Path, tmp_path: Path
) -> None:
    write_client_config(user_home, collector.url)
    path = transcript(tmp_path, PROMPT_LINE)
    proc = run_hook(user_home, json.dumps(payload("Stop", repo, path)).encode())
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    deadline = time.monotonic() + 20
    while not collector.payloads and time.monotonic() < deadline:
        time.sleep(0.02)
    wait_for_workers(user_home)
    (sent,) = collector.payloads
    assert sent["hook_event_name"] == "Stop" and sent["agent_trace"]["transcript_delta"][0]["offset"] == 0


def test_the_installed_shell_line_returns_before_python_starts(
    user_home: Path, collector: StubCollector, repo: Path, tmp_path: Path
) -> None:
    from agent_trace.cli.install_files import hook_command

    write_client_config(user_home, collector.url)
    path = transcript(tmp_path, PROMPT_LINE)
    proc = subprocess.run(
        ["/bin/sh", "-c", hook_command()],
        input=json.dumps(payload("SessionEnd", repo, path)).encode(),
        env={"HOME": str(user_home), "PATH": os.environ.get("PATH", "")},
        capture_output=True,
        timeout=30,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, b"", b"")
    deadline = time.monotonic() + 20
    while not collector.payloads and time.monotonic() < deadline:
        time.sleep(0.02)
    wait_for_workers(user_home)
    (sent,) = collector.payloads
    assert sent["hook_event_name"] == "SessionEnd" and sent["agent_trace"]["transcript_delta"]


def test_agent_trace_hook_handler_is_the_same_command(user_home: Path, collector: StubCollector) -> None:
    write_client_config(user_home, collector.url)
    proc = subprocess.run(
        [sys.executable, "-m", "agent_trace.cli.main", "hook-handler"],
        input=b'{"hook_event_name": "PreToolUse", "session_id": "s1", "tool_use_id": "t1"}',
        env={**os.environ, "HOME": str(user_home), "AGENT_TRACE_HOOK_INLINE": "1"},
        capture_output=True,
    )
    assert (proc.returncode, proc.stdout) == (0, b"")
    assert collector.payloads[0]["tool_use_id"] == "t1"


# -- what the worker sends ---------------------------------------------------------------------


def test_session_start_records_the_git_baseline(
    user_home: Path, collector: StubCollector, repo: Path, tmp_path: Path
) -> None:
    write_client_config(user_home, collector.url, user="dev")
    path = transcript(tmp_path)
    process(user_home, payload("SessionStart", repo, path, source="startup"), CLAUDE_PROJECT_DIR=str(repo))
    head = git(repo, "rev-parse", "HEAD").strip()
    (sent,) = collector.payloads
    enrichment = sent["agent_trace"]
    assert enrichment["git"] == {
        "repo": str(repo.resolve()),
        "branch": "main",
        "head": head,
        "base_sha": head,
    }
    assert enrichment["user"] == "dev" and enrichment["project_dir"] == str(repo)
    assert isinstance(enrichment["ts_ms"], int)


def test_stop_ships_new_transcript_lines_and_session_git(
    user_home: Path, collector: StubCollector, repo: Path, tmp_path: Path
) -> None:
    write_client_config(user_home, collector.url, tier=2)
    path = transcript(tmp_path, PROMPT_LINE)
    process(user_home, payload("SessionStart", repo, path, source="startup"))
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "b.txt").write_text("b\nc\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add b")
    process(user_home, payload("Stop", repo, path, last_assistant_message="done"))
    transcript(tmp_path, REPLY_LINE)
    process(user_home, payload("SessionEnd", repo, path, reason="other"))
    process(user_home, payload("SessionEnd", repo, path, reason="other"))

    start, stop, end, again = collector.payloads
    assert "transcript_delta" not in start["agent_trace"]
    git_info = stop["agent_trace"]["git"]
    assert git_info["base_sha"] == base and git_info["lines_added"] == 2 and git_info["files_changed"] == 1
    assert [c["message"] for c in git_info["commits"]] == ["Add b"]
    assert git_info["commits"][0]["files"] == {"b.txt": text_keys("b\nc\n")}
    # Later boundaries list the commit again, without its line keys (sent once).
    assert [c.get("files") for c in end["agent_trace"]["git"]["commits"]] == [None]
    assert "last_assistant_message" not in stop  # tier 2: what the model said stays home
    (first,) = stop["agent_trace"]["transcript_delta"]
    (second,) = end["agent_trace"]["transcript_delta"]
    assert first["offset"] == 0 and second["offset"] == len(first["text"].encode())
    assert json.loads(second["text"])["message"]["content"][0]["text"] == ""  # tier 2
    assert "transcript_delta" not in again["agent_trace"]  # nothing new: nothing shipped twice
    everything = json.dumps(collector.payloads)
    assert SECRET not in everything and "[REDACTED:anthropic-key]" in everything


def test_tier_1_sends_no_text(user_home: Path, collector: StubCollector, repo: Path, tmp_path: Path) -> None:
    write_client_config(user_home, collector.url, tier=1)
    path = transcript(tmp_path, PROMPT_LINE, REPLY_LINE)
    git(repo, "commit", "-q", "--allow-empty", "-m", "secret plans")
    process(user_home, payload("SessionStart", repo, path))
    git(repo, "commit", "-q", "--allow-empty", "-m", "more secret plans")
    process(user_home, payload("Stop", repo, path, last_assistant_message="the answer"))
    process(user_home, payload("UserPromptSubmit", repo, path, prompt="my prompt text", prompt_id="p2"))
    everything = json.dumps(collector.payloads)
    for text in ("use key", "the answer", "my prompt text", "secret plans", '"ok"'):
        assert text not in everything
    stop = collector.payloads[1]
    assert stop["agent_trace"]["git"]["commits"][0].keys() >= {"sha", "author", "ts_ms"}


def test_collector_down_spools_then_delivers_in_order(
    user_home: Path, collector: StubCollector, repo: Path, tmp_path: Path
) -> None:
    write_client_config(user_home, "http://127.0.0.1:9")
    path = transcript(tmp_path, PROMPT_LINE)
    process(user_home, payload("SessionStart", repo, path))
    process(user_home, payload("Stop", repo, path))
    spool = Spool(user_home / "at" / "spool")
    assert len(spool.pending()) == 2
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in spool.pending())
    log = (user_home / "at" / "logs" / "hook.log").read_text()
    assert "collector unreachable" in log

    write_client_config(user_home, collector.url)  # the collector is back
    transcript(tmp_path, REPLY_LINE)
    process(user_home, payload("SessionEnd", repo, path))
    assert [p["hook_event_name"] for p in collector.payloads] == ["SessionStart", "Stop", "SessionEnd"]
    offsets = [d["offset"] for p in collector.payloads for d in p["agent_trace"].get("transcript_delta", [])]
    assert offsets == [0, len(json.dumps(PROMPT_LINE)) + 1]
    assert spool.pending() == []


def test_flush_delivers_everything_after_the_workers(
    user_home: Path, collector: StubCollector, repo: Path
) -> None:
    write_client_config(user_home, "http://127.0.0.1:9")
    for i in range(3):
        process(user_home, {"session_id": "s1", "hook_event_name": "PreToolUse", "tool_use_id": f"t{i}"})
    write_client_config(user_home, collector.url)
    proc = subprocess.run(
        [sys.executable, str(HOOK_SCRIPT), "--flush", "--wait", "5"],
        env={**os.environ, "HOME": str(user_home)},
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and "delivered 3" in proc.stderr
    assert [p["tool_use_id"] for p in collector.payloads] == ["t0", "t1", "t2"]


def test_the_deadline_leaves_work_in_the_spool(
    user_home: Path, collector: StubCollector, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_client_config(user_home, collector.url)

    def slow(*args: object, **kwargs: object) -> None:
        time.sleep(5)

    monkeypatch.setattr(Spool, "deliver", slow)
    started = time.monotonic()
    worker.run(
        b'{"hook_event_name": "PreToolUse", "session_id": "s1"}', {"HOME": str(user_home)}, budget_s=0.3
    )
    assert time.monotonic() - started < 2
    assert len(Spool(user_home / "at" / "spool").pending()) == 1
    assert "deadline reached" in (user_home / "at" / "logs" / "hook.log").read_text()


def test_session_end_waits_for_claude_to_exit(
    user_home: Path, collector: StubCollector, repo: Path, tmp_path: Path
) -> None:
    write_client_config(user_home, collector.url)
    path = transcript(tmp_path, PROMPT_LINE)
    claude = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.4)"])
    started = time.monotonic()
    process(user_home, payload("SessionEnd", repo, path), CLAUDE_PID=str(claude.pid))
    claude.wait()
    assert time.monotonic() - started >= 0.3
    assert collector.payloads[0]["agent_trace"]["transcript_delta"]


def test_a_busy_session_still_sends_its_event(
    user_home: Path, collector: StubCollector, repo: Path, tmp_path: Path
) -> None:
    from agent_trace.hook.state import locked_session

    write_client_config(user_home, collector.url)
    path = transcript(tmp_path, PROMPT_LINE)
    with locked_session(user_home / "at" / "hook-state", "s1", time.monotonic() + 5):
        worker.run(json.dumps(payload("Stop", repo, path)).encode(), {"HOME": str(user_home)}, budget_s=1.5)
    (sent,) = collector.payloads
    assert sent["hook_event_name"] == "Stop" and "transcript_delta" not in sent["agent_trace"]
    # The lines were not marked shipped: the next boundary sends them.
    process(user_home, payload("SessionEnd", repo, path))
    assert collector.payloads[1]["agent_trace"]["transcript_delta"][0]["offset"] == 0


def test_refused_payloads_are_kept_shown_and_sent_again_by_hand(
    user_home: Path, collector: StubCollector
) -> None:
    """Issue 9, problem 4, as typed: `hook-handler --flush --retry-rejected`."""
    write_client_config(user_home, "http://127.0.0.1:9")
    for i in range(3):
        process(user_home, {"session_id": "s1", "hook_event_name": "PreToolUse", "tool_use_id": f"t{i}"})
    write_client_config(user_home, collector.url)
    collector.reject = {1}
    env = {**os.environ, "HOME": str(user_home)}
    flush = [sys.executable, str(HOOK_SCRIPT), "--flush", "--wait", "5"]
    proc = subprocess.run(flush, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and "delivered 2, rejected 1" in proc.stderr
    assert "--retry-rejected" in proc.stderr
    assert [p["tool_use_id"] for p in collector.payloads] == ["t0", "t2"]
    rejected = Spool(user_home / "at" / "spool").rejected()
    assert len(rejected) == 1 and b'"t1"' in rejected[0].read_bytes()
    collector.reject = set()
    proc = subprocess.run([*flush, "--retry-rejected"], env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and "1 refused payload(s) queued again" in proc.stderr
    assert [p["tool_use_id"] for p in collector.payloads] == ["t0", "t2", "t1"]
    assert Spool(user_home / "at" / "spool").rejected() == []
