"""Fixtures for the hook handler: a client config in a temporary HOME and a stand-in collector."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


class StubCollector:
    """Answers POST /v1/hooks like the collector does (200 + accepted/rejected for NDJSON), and
    keeps every payload it accepted. `status` forces an answer; `reject` names payload indexes."""

    def __init__(self) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        self.status: int | None = None
        self.script: list[int | None] = []  # answers for the next requests, first one first
        self.reject: set[int] = set()
        self.budget_state: dict[str, Any] = {
            "version": 1,
            "computed_ms": 0,
            "rules": [],
            "allowed_sessions": [],
        }
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                stub.requests.append((self.path, dict(self.headers), body))
                status = stub.script.pop(0) if stub.script else stub.status
                if status is not None:
                    self._answer(status, b'{"error":"forced"}')
                    return
                docs = [json.loads(line) for line in body.splitlines() if line.strip()]
                rejected = [{"index": i, "message": "bad"} for i in range(len(docs)) if i in stub.reject]
                stub.payloads += [d for i, d in enumerate(docs) if i not in stub.reject]
                answer = {"accepted": len(docs) - len(rejected), "rejected": rejected}
                self._answer(200, json.dumps(answer).encode())

            def do_GET(self) -> None:
                stub.requests.append((self.path, dict(self.headers), b""))
                if self.path.startswith("/v1/budgets/state"):
                    self._answer(200, json.dumps(stub.budget_state).encode())
                    return
                self._answer(200, b'{"status":"ok","version":"test","database":"ok"}')

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[StubCollector]:
    stub = StubCollector()
    yield stub
    stub.close()


def write_client_config(home: Path, url: str, tier: int = 2, **extra: Any) -> Path:
    path = home / ".claude" / "agent-trace.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": 1, "collector_url": url, "privacy_tier": tier, "agent_trace_home": str(home / "at")}
    data.update(extra)
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def user_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home
