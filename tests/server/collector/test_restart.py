"""Nothing acknowledged is lost when the server restarts: a real `agent-trace serve --role
collector` process, killed with SIGKILL right after its answers, then started again."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson

from agent_trace.config import load_settings
from agent_trace.store.factory import open_store
from tests.fixtures.transcripts import Transcript, text_block, tool_use, uid, usage

SESSION = "22222222-3333-4444-8555-666666666666"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _collector(home: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home.parent),
        "AGENT_TRACE_HOME": str(home),
        "COLLECTOR_PORT": str(port),
        "OTEL_GRPC_ADDRESS": "off",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "agent_trace.cli.main", "serve", "--role", "collector"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                err = process.stderr.read().decode() if process.stderr else ""
                raise RuntimeError(f"collector did not start: {err}")
            time.sleep(0.05)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def _tool_event(i: int) -> bytes:
    return orjson.dumps(
        {
            "session_id": SESSION,
            "transcript_path": f"/home/dev/.claude/projects/-w/{SESSION}.jsonl",
            "cwd": "/home/dev/w",
            "hook_event_name": "PreToolUse",
            "tool_name": "Bash",
            "tool_use_id": f"toolu_restart_{i:04d}",
            "tool_input": {"command": f"echo {i}"},
        }
    )


def _delta(path: str, offset: int, text: bytes) -> bytes:
    return orjson.dumps(
        {
            "session_id": SESSION,
            "transcript_path": path,
            "cwd": "/home/dev/w",
            "hook_event_name": "Stop",
            "agent_trace": {"transcript_delta": {"path": path, "offset": offset, "text": text.decode()}},
        }
    )


def test_acknowledged_events_survive_a_kill_and_deltas_resume(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = _free_port()
    transcript = Transcript(SESSION)
    transcript.prompt("count", prompt_id=uid())
    tool_id = uid("toolu_")
    transcript.assistant(
        [text_block("First."), tool_use("Bash", {"command": "wc"}, tool_id)], u=usage(10, 200)
    )
    transcript.tool_result(tool_id, "3")
    transcript.assistant([text_block("Three.")], u=usage(11, 30))
    data = transcript.text()
    cut = sum(len(line) for line in data.splitlines(keepends=True)[:2])  # inside the first response
    path = f"/home/dev/.claude/projects/-w/{SESSION}.jsonl"
    headers = {"content-type": "application/json"}

    with _collector(home, port) as process, httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        for i in range(300):
            assert http.post("/v1/hooks", content=_tool_event(i), headers=headers).status_code == 204
        assert http.post("/v1/hooks", content=_delta(path, 0, data[:cut]), headers=headers).status_code == 204
        process.send_signal(signal.SIGKILL)  # no shutdown work at all
        process.wait(10)

    reopened = load_settings({"AGENT_TRACE_HOME": str(home), "HOME": str(tmp_path)})
    store = open_store(reopened.database_url, reopened.events_url)
    try:
        assert store.counts()["tool_calls"] == 300
        # The delta's lines were stored too, though its response was still open (carried).
        assert store.counts()["llm_calls"] == 1 and store.counts()["prompts"] == 1
    finally:
        store.close()

    with _collector(home, port) as process, httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
        # The rest of the file: the restarted collector continues from its stored cursor.
        assert (
            http.post("/v1/hooks", content=_delta(path, cut, data[cut:]), headers=headers).status_code == 204
        )
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0

    reopened = load_settings({"AGENT_TRACE_HOME": str(home), "HOME": str(tmp_path)})
    store = open_store(reopened.database_url, reopened.events_url)
    try:
        detail = store.session_detail(SESSION)
        assert detail is not None
        calls = sorted(detail.llm_calls, key=lambda c: int(c["output_tokens"]))
        assert [(c["input_tokens"], c["output_tokens"]) for c in calls] == [(11, 30), (10, 200)]
        # The first response was cut between its blocks; after the restart its carried first
        # line was read again with the rest, so the call knows its tool call.
        assert orjson.loads(str(calls[1]["tool_use_ids"])) == [tool_id]
        assert [t["tool_use_id"] for t in detail.tool_calls if t["call_id"] == calls[1]["call_id"]] == [
            tool_id
        ]
        assert detail.session["n_llm_calls"] == 2 and detail.session["output_tokens"] == 230
        assert len(detail.prompts) == 1
    finally:
        store.close()
