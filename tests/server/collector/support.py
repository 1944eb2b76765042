"""Helpers for collector tests: a running collector app, and the real-client captures as requests.

`real-client/<scenario>/` holds what Claude Code 2.1.331 really sent: `hooks.jsonl` (one hook
payload per line), `otlp.jsonl` (one OTLP/HTTP POST per line) and `transcripts/` (a copy of
~/.claude/projects). They are turned here into the requests the collector gets in production:
hook POSTs stamped the way agent-trace's hook handler stamps them, OTLP POSTs in their original
encoding, and the transcripts as `transcript_delta`s carried by Stop/SessionEnd hooks.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agent_trace.config import Settings
from agent_trace.server.app import create_app
from agent_trace.server.context import AppContext
from agent_trace.server.runtime import build_context
from tests.conftest import CORPUS

REAL_CLIENT = CORPUS / "real-client"  # tests/conftest.py: AGENT_TRACE_SHARED or ../shared
SCENARIOS = (
    "apierror-fatal",
    "basic",
    "basic-protobuf",
    "compact",
    "cwd",
    "denied",
    "fail",
    "task",
    "taskbg",
)
# Where the capture machine kept its transcripts; deltas name files the way the hook handler does.
CLIENT_PROJECTS = "/home/dev/.claude/projects"

MESSAGES: dict[str, type] = {
    "/v1/logs": ExportLogsServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
    "/v1/traces": ExportTraceServiceRequest,
}


@dataclass(frozen=True)
class Post:
    """One HTTP request for the collector."""

    path: str
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()  # e.g. a webhook's signature

    def send(self, client: TestClient, **headers: str) -> Any:
        response = client.post(
            self.path,
            content=self.body,
            headers={"content-type": self.content_type, **dict(self.headers), **headers},
        )
        assert response.status_code in (200, 204), (self.path, response.status_code, response.text)
        return response


@contextmanager
def running_collector(settings: Settings) -> Iterator[tuple[TestClient, AppContext]]:
    """The collector app over a fresh context, its services (queue, gRPC) started."""
    ctx = build_context(settings)
    app = create_app(ctx, "collector")
    ctx.services.background.start()
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            yield client, ctx
    finally:
        ctx.services.background.stop()
        ctx.store.close()


# -- the captures as requests -----------------------------------------------------------------


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def transcript_files(scenario: str) -> list[Path]:
    return sorted((REAL_CLIENT / scenario / "transcripts").rglob("*.jsonl"))


def _first_transcript_ms(scenario: str) -> int:
    from agent_trace.domain.timeutil import parse_iso_ms

    stamps = []
    for path in transcript_files(scenario):
        for line in _lines(path):
            ms = parse_iso_ms(line.get("timestamp"))
            if ms is not None:
                stamps.append(ms)
    return min(stamps)


def hook_payloads(scenario: str) -> list[dict[str, Any]]:
    """The captured payloads, stamped (agent_trace.ts_ms) as the hook handler would: 50 ms apart
    from the session's first transcript line, so that every order of delivery sees the same times."""
    base = _first_transcript_ms(scenario)
    payloads = _lines(REAL_CLIENT / scenario / "hooks.jsonl")
    return [{**p, "agent_trace": {"ts_ms": base + 50 * i}} for i, p in enumerate(payloads)]


def hook_posts(scenario: str) -> list[Post]:
    return [Post("/v1/hooks", orjson.dumps(p)) for p in hook_payloads(scenario)]


def _hex_ids_to_base64(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: base64.b64encode(bytes.fromhex(v)).decode()
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
            else _hex_ids_to_base64(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_hex_ids_to_base64(v) for v in value]
    return value


def otlp_message(capture: dict[str, Any]) -> Any:
    """The Export*ServiceRequest a capture line holds (JSON captures have hex ids, protobuf base64)."""
    doc = capture["body"]
    if capture["content_type"] == "application/json":
        doc = _hex_ids_to_base64(doc)
    return ParseDict(doc, MESSAGES[capture["path"]]())


def otlp_captures(scenario: str) -> list[dict[str, Any]]:
    return _lines(REAL_CLIENT / scenario / "otlp.jsonl")


def otlp_posts(scenario: str, *, protobuf: bool | None = None) -> list[Post]:
    """The OTLP POSTs as sent (protobuf captures store MessageToDict output: re-encoded here).
    `protobuf=True/False` forces one encoding for every request."""
    posts = []
    for capture in otlp_captures(scenario):
        as_protobuf = capture["content_type"] == "application/x-protobuf" if protobuf is None else protobuf
        if as_protobuf:
            body = otlp_message(capture).SerializeToString()
            posts.append(Post(capture["path"], body, "application/x-protobuf"))
        elif capture["content_type"] == "application/json":
            posts.append(Post(capture["path"], orjson.dumps(capture["body"])))
        else:
            from google.protobuf.json_format import MessageToJson

            posts.append(Post(capture["path"], MessageToJson(otlp_message(capture)).encode()))
    return posts


def client_path(scenario: str, path: Path) -> str:
    return f"{CLIENT_PROJECTS}/{path.relative_to(REAL_CLIENT / scenario / 'transcripts').as_posix()}"


def session_of(scenario: str) -> str:
    return str(hook_payloads(scenario)[0]["session_id"])


def delta_posts(scenario: str, pieces: int = 3, event: str = "Stop") -> list[Post]:
    """Each transcript file cut into `pieces` deltas at line boundaries, each carried by its own
    hook payload, in file order."""
    session_id = session_of(scenario)
    posts = []
    for path in transcript_files(scenario):
        data = path.read_bytes()
        lines = data.splitlines(keepends=True)
        step = max(1, -(-len(lines) // pieces))
        offset = 0
        for start in range(0, len(lines), step):
            text = b"".join(lines[start : start + step])
            payload = {
                "session_id": session_id,
                "transcript_path": client_path(scenario, path),
                "cwd": "/home/dev/work",
                "hook_event_name": event,
                "agent_trace": {
                    "ts_ms": _first_transcript_ms(scenario),
                    "transcript_delta": {
                        "path": client_path(scenario, path),
                        "offset": offset,
                        "text": text.decode(),
                    },
                },
            }
            posts.append(Post("/v1/hooks", orjson.dumps(payload)))
            offset += len(text)
    return posts


# -- what the store holds ---------------------------------------------------------------------

# Columns that say when something was stored, not what it is.
VOLATILE = frozenset({"updated_ms", "received_ms", "last_activity_ms"})


def fingerprint(ctx_store: Any, session_id: str) -> dict[str, Any]:
    """Everything stored about a session, keyed by natural key (volatile columns dropped)."""
    ctx_store.refresh_derived()
    detail = ctx_store.session_detail(session_id)
    assert detail is not None, session_id

    def rows(items: list[dict[str, Any]], *key: str) -> dict[Any, dict[str, Any]]:
        return {tuple(r[k] for k in key): {k: v for k, v in r.items() if k not in VOLATILE} for r in items}

    return {
        "session": {k: v for k, v in detail.session.items() if k not in VOLATILE},
        "prompts": rows(detail.prompts, "prompt_id"),
        "llm_calls": rows(detail.llm_calls, "call_id"),
        "tool_calls": rows(detail.tool_calls, "tool_use_id"),
        "file_touches": rows(detail.file_touches, "tool_use_id", "path", "op"),
        "subagents": rows(detail.subagents, "agent_id"),
        "commits": rows(detail.commits, "sha"),
    }
