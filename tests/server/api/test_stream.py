"""GET /v1/sessions/stream against a real uvicorn server: pushes on change, filters, resumes
with Last-Event-ID, sends heartbeats as comments."""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from agent_trace.config import Settings, load_settings
from agent_trace.domain.pricing import PriceBook
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from agent_trace.server.api import models
from agent_trace.server.api.stream import StreamConfig
from agent_trace.server.app import create_app
from agent_trace.server.context import AppContext
from agent_trace.store.factory import open_store
from tests.fixtures.showcase import simple_session

WAIT_S = 10.0  # generous: a deadline for a hung test, not a timing assertion


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, settings: Settings, tmp: Path) -> None:
        self.store = open_store(settings.database_url, settings.events_url)
        self.tmp = tmp
        self.user = "dev"
        ctx = AppContext(settings=settings, store=self.store)
        ctx.stream_config = StreamConfig(poll_interval_s=0.05, heartbeat_s=0.5)
        self.port = free_port()
        config = uvicorn.Config(create_app(ctx, "api"), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + WAIT_S
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT_S)
        self.store.close()

    def ingest(self, text: str, user: str = "dev") -> str:
        root = self.tmp / f"projects-{time.monotonic_ns()}"
        sid = simple_session(root, text)
        Importer(Writer(self.store, PriceBook(), 3, user)).run([root])
        return sid


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    settings = load_settings(
        {"AGENT_TRACE_HOME": str(tmp_path / "home"), "HOME": str(tmp_path), "USER": "dev"}
    )
    srv = Server(replace(settings, host="127.0.0.1"), tmp_path)
    srv.start()
    yield srv
    srv.stop()


class Stream:
    """Reads an SSE response on a thread; messages (dicts of fields, comments under ':') queue up."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.client = httpx.Client(timeout=httpx.Timeout(WAIT_S, read=None))
        self.response = self.client.send(self.client.build_request("GET", url, headers=headers), stream=True)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        fields: dict[str, Any] = {}
        try:
            for line in self.response.iter_lines():
                if not line:
                    if fields:
                        self.messages.put(fields)
                    fields = {}
                    continue
                name, _, value = line.partition(":")
                fields.setdefault(name, []).append(value.lstrip(" "))
        except (httpx.HTTPError, RuntimeError):
            return

    def next(self, predicate: Any = lambda m: True) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, "no matching event arrived"
            try:
                message = self.messages.get(timeout=remaining)
            except queue.Empty:
                continue
            if predicate(message):
                return message

    def session_event(self, session_id: str) -> tuple[int, dict[str, Any]]:
        message = self.next(
            lambda m: "data" in m and orjson.loads(m["data"][0]).get("session_id") == session_id
        )
        assert message["event"] == ["session"]
        return int(message["id"][0]), orjson.loads(message["data"][0])

    def close(self) -> None:
        self.response.close()
        self.client.close()


def connected(stream: Stream) -> None:
    stream.next(lambda m: any(c.startswith("connected") for c in m.get("", [])))


def test_pushes_the_changed_session_row(server: Server) -> None:
    stream = Stream(server.url + "/v1/sessions/stream")
    try:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        connected(stream)
        sid = server.ingest("hello live world")
        seq, row = stream.session_event(sid)
        models.SessionRow.model_validate(row)
        assert row["prompts"] == 1 and row["tool_calls"] == 1 and row["first_prompt"] == "hello live world"
        assert seq > 0
    finally:
        stream.close()


def test_resumes_after_last_event_id(server: Server) -> None:
    before = server.store.last_change_seq()
    first = server.ingest("written while nobody listened")
    second = server.ingest("this one too")
    stream = Stream(server.url + "/v1/sessions/stream", headers={"Last-Event-ID": str(before)})
    try:
        seq1, _ = stream.session_event(first)
        seq2, _ = stream.session_event(second)
        assert before < seq1 < seq2
    finally:
        stream.close()
    # Resuming after the first event's id replays only what came later.
    stream = Stream(server.url + f"/v1/sessions/stream?last_event_id={seq1}")
    try:
        got = stream.next(lambda m: "data" in m)
        assert orjson.loads(got["data"][0])["session_id"] == second
    finally:
        stream.close()


def test_filters_apply_to_the_stream(server: Server) -> None:
    stream = Stream(server.url + "/v1/sessions/stream?user=alice")
    try:
        connected(stream)
        server.ingest("bob's work", user="bob")
        alice = server.ingest("alice's work", user="alice")
        first = stream.next(lambda m: "data" in m)
        assert orjson.loads(first["data"][0])["session_id"] == alice
    finally:
        stream.close()


def test_heartbeats_are_comments(server: Server) -> None:
    stream = Stream(server.url + "/v1/sessions/stream")
    try:
        stream.next(lambda m: m.get("") == ["keepalive"])
    finally:
        stream.close()


def test_bad_last_event_id_is_400(server: Server) -> None:
    response = httpx.get(server.url + "/v1/sessions/stream", headers={"Last-Event-ID": "yesterday"})
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "Last-Event-ID"
