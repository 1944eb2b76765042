"""Issue 9, problem 5: read timeouts on every listener, and no unauthenticated non-loopback serve."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import uvicorn

from agent_trace.config import Settings
from agent_trace.server import listeners
from agent_trace.server.app import create_app
from agent_trace.server.context import AppContext
from agent_trace.server.listeners import exposure_problem
from agent_trace.store.factory import open_store


@contextmanager
def _server(settings: Settings) -> Iterator[int]:
    store = open_store(settings.database_url, settings.events_url)
    app = create_app(AppContext(settings=settings, store=store), "api")
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", **listeners.uvicorn_options()
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive()
        time.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


def _closed_within(sock: socket.socket, seconds: float) -> bool:
    """Whether the server closes the connection (EOF or reset) within `seconds`."""
    sock.settimeout(seconds)
    try:
        while True:
            data = sock.recv(4096)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connects and says nothing
        b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",  # half-sent headers
        b"POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{",  # stalled body
    ],
    ids=["silent", "half-headers", "stalled-body"],
)
def test_a_stalled_request_is_dropped(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, sent: bytes
) -> None:
    monkeypatch.setattr(listeners, "HEADER_TIMEOUT_S", 0.5)
    monkeypatch.setattr(listeners, "BODY_IDLE_TIMEOUT_S", 0.5)
    with _server(settings) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(sent)
        assert _closed_within(sock, 10)


def test_a_dribbling_client_does_not_reset_the_header_deadline(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listeners, "HEADER_TIMEOUT_S", 1.0)
    with _server(settings) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        closed = False
        for _ in range(40):  # one header byte every 0.2 s: never idle, never done
            try:
                sock.sendall(b"X")
            except OSError:
                closed = True
                break
            if _closed_within(sock, 0.2):
                closed = True
                break
        assert closed and time.monotonic() - started < 6


def test_a_complete_request_is_answered(settings: Settings) -> None:
    with _server(settings) as port, socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        sock.settimeout(10)
        assert sock.recv(100).startswith(b"HTTP/1.1 200")


def test_exposure_rules(settings: Settings) -> None:
    assert exposure_problem(settings, ["collector", "api", "dashboard"]) is None  # 127.0.0.1
    public = replace(settings, host="0.0.0.0")
    problem = exposure_problem(public, ["collector", "api"])
    assert problem is not None and "AGENT_TRACE_INGEST_TOKEN" in problem and "--insecure-no-auth" in problem
    # Shared tokens are one secret for everybody, not people: auth off on the network is refused
    # all the same (issue 15); auth on is the way to serve a team.
    shared = exposure_problem(replace(public, ingest_token="t", dashboard_token="d"), ["collector", "api"])
    assert shared is not None and "AGENT_TRACE_INGEST_TOKEN" not in shared
    assert exposure_problem(replace(public, auth=True), ["collector", "api"]) is None


def test_serve_on_a_public_address_without_a_token_is_refused(tmp_path: Path) -> None:
    """The command as a user types it: one clear line, exit 2, nothing listening."""
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "AGENT_TRACE_HOME": str(tmp_path / "home"),
        "OTEL_GRPC_ADDRESS": "off",
    }
    env.pop("AGENT_TRACE_INGEST_TOKEN", None)
    env.pop("AGENT_TRACE_DASHBOARD_TOKEN", None)
    env.pop("AGENT_TRACE_INSECURE_NO_AUTH", None)
    result = subprocess.run(
        [sys.executable, "-m", "agent_trace.cli.main", "serve", "--host", "0.0.0.0", "--role", "collector"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "refusing to listen on 0.0.0.0" in result.stderr
    assert "--insecure-no-auth" in result.stderr
    assert "Traceback" not in result.stderr
