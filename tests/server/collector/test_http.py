"""The collector's HTTP answers: success shapes, auth, and every 4xx/503 in the one error shape."""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from agent_trace.config import Settings
from agent_trace.server.app import create_app
from agent_trace.server.context import AppContext
from agent_trace.store.factory import open_store
from tests.ingest.test_queue import GatedStore
from tests.server.collector.live import live_server
from tests.server.collector.support import REAL_CLIENT, hook_payloads, otlp_posts, running_collector

corpus_only = pytest.mark.skipif(not REAL_CLIENT.is_dir(), reason="../shared corpus is absent")

SESSION = "11111111-2222-4333-8444-555555555555"


def _payload(event: str = "PreToolUse", **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "session_id": SESSION,
        "transcript_path": f"/home/dev/.claude/projects/-w/{SESSION}.jsonl",
        "cwd": "/home/dev/w",
        "hook_event_name": event,
    }
    if event == "PreToolUse":
        base.update(tool_name="Bash", tool_use_id="toolu_1", tool_input={"command": "ls"})
    base.update(extra)
    return base


@pytest.fixture
def collector_settings(settings: Settings) -> Settings:
    return replace(settings, otel_grpc_address="off")


@pytest.fixture
def client(collector_settings: Settings) -> Iterator[TestClient]:
    with running_collector(collector_settings) as (c, _ctx):
        yield c


def _error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["status"] == status
    return dict(body)


# -- success ----------------------------------------------------------------------------------


def test_one_hook_payload_is_answered_with_an_empty_204(client: TestClient) -> None:
    response = client.post("/v1/hooks", json=_payload())
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["x-agent-trace-accepted"] == "1"


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/x-www-form-urlencoded"])
def test_a_hook_without_a_json_content_type_is_refused(client: TestClient, content_type: str) -> None:
    # What a browser may send cross-site without a CORS preflight (issue 9, problem 2).
    response = client.post(
        "/v1/hooks", content=orjson.dumps(_payload()), headers={"content-type": content_type}
    )
    assert _error(response, 415)["field"] == "Content-Type"


def test_an_array_of_hooks_stores_the_valid_ones_and_names_the_rest(
    collector_settings: Settings,
) -> None:
    with running_collector(collector_settings) as (client, ctx):
        payloads = [_payload(), {"hook_event_name": "PreToolUse"}, _payload("Stop")]
        response = client.post("/v1/hooks", json=payloads)
        assert response.status_code == 200
        assert response.json() == {
            "accepted": 2,
            "rejected": [{"index": 1, "message": "session_id: required, a non-empty string"}],
        }
        assert ctx.store.counts()["tool_calls"] == 1


def test_ndjson_of_hooks_rejects_a_half_written_last_line_only(collector_settings: Settings) -> None:
    with running_collector(collector_settings) as (client, ctx):
        body = orjson.dumps(_payload()) + b"\n" + orjson.dumps(_payload("Stop")) + b'\n{"session_id": "x'
        response = client.post("/v1/hooks", content=body, headers={"content-type": "application/x-ndjson"})
        assert response.status_code == 200
        answer = response.json()
        assert answer["accepted"] == 2
        assert [r["index"] for r in answer["rejected"]] == [2]
        assert "not valid JSON" in answer["rejected"][0]["message"]
        assert ctx.store.counts()["raw_events"] == 2


@corpus_only
@pytest.mark.parametrize("encoding", ["json", "protobuf"])
def test_otlp_success_is_an_empty_export_response_in_the_request_encoding(
    client: TestClient, encoding: str
) -> None:
    post = otlp_posts("basic", protobuf=encoding == "protobuf")[0]
    response = client.post(post.path, content=post.body, headers={"content-type": post.content_type})
    assert response.status_code == 200
    if encoding == "json":
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {}
    else:
        assert response.headers["content-type"] == "application/x-protobuf"
        assert ExportLogsServiceResponse.FromString(response.content) == ExportLogsServiceResponse()


@corpus_only
@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate", "raw-deflate"])
def test_compressed_bodies_are_accepted(collector_settings: Settings, encoding: str) -> None:
    post = otlp_posts("basic")[0]
    if encoding in ("gzip", "x-gzip"):
        body = gzip.compress(post.body)
    elif encoding == "deflate":
        body = zlib.compress(post.body)
    else:
        squeeze = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body = squeeze.compress(post.body) + squeeze.flush()
    header = "deflate" if encoding == "raw-deflate" else encoding
    with running_collector(collector_settings) as (client, ctx):
        response = client.post(
            post.path, content=body, headers={"content-type": post.content_type, "content-encoding": header}
        )
        assert response.status_code == 200, response.text
        assert ctx.store.counts()["llm_calls"] > 0


# -- auth -------------------------------------------------------------------------------------


def test_the_ingest_token_is_required_when_set(collector_settings: Settings) -> None:
    with running_collector(replace(collector_settings, ingest_token="s3cret-token")) as (client, ctx):
        for headers in ({}, {"authorization": "Bearer wrong"}, {"authorization": "s3cret-token"}):
            response = client.post("/v1/hooks", json=_payload(), headers=headers)
            error = _error(response, 401)
            assert error["code"] == "unauthorized" and "AGENT_TRACE_INGEST_TOKEN" in error["message"]
            assert response.headers["www-authenticate"].startswith("Bearer")
            _error(
                client.post(
                    "/v1/logs", content=b"{}", headers={"content-type": "application/json", **headers}
                ),
                401,
            )
        assert ctx.store.counts()["raw_events"] == 0
        ok = client.post("/v1/hooks", json=_payload(), headers={"authorization": "bearer s3cret-token"})
        assert ok.status_code == 204
        assert client.get("/health").status_code == 200  # health stays open


# -- 4xx --------------------------------------------------------------------------------------


def test_a_wrong_content_type_is_415(client: TestClient) -> None:
    error = _error(client.post("/v1/hooks", content=b"x", headers={"content-type": "text/plain"}), 415)
    assert error["field"] == "Content-Type" and "application/json" in error["message"]
    error = _error(client.post("/v1/traces", content=b"x", headers={"content-type": "text/xml"}), 415)
    assert "application/x-protobuf" in error["message"]
    _error(client.post("/v1/metrics", content=b"x"), 415)  # OTLP needs a type


def test_an_unsupported_content_encoding_is_415(client: TestClient) -> None:
    response = client.post(
        "/v1/logs", content=b"{}", headers={"content-type": "application/json", "content-encoding": "br"}
    )
    error = _error(response, 415)
    assert error["field"] == "Content-Encoding"


def test_undecodable_bodies_are_400_naming_the_problem(client: TestClient) -> None:
    error = _error(
        client.post("/v1/hooks", content=b"{nope", headers={"content-type": "application/json"}), 400
    )
    assert "not valid JSON" in error["message"]
    bad_field = _payload(tool_use_id=7)
    error = _error(client.post("/v1/hooks", json=bad_field), 400)
    assert error["message"] == "tool_use_id: expected a string, got number"
    error = _error(client.post("/v1/hooks", json=[{"session_id": SESSION}]), 400)
    assert error["message"].startswith("payloads[0]: hook_event_name")
    response = client.post(
        "/v1/logs", content=b"\xff\x00garbage", headers={"content-type": "application/x-protobuf"}
    )
    assert "protobuf" in _error(response, 400)["message"]
    response = client.post("/v1/traces", content=b"[1, 2]", headers={"content-type": "application/json"})
    _error(response, 400)
    response = client.post(
        "/v1/logs",
        content=b"not gzip at all",
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert "gzip" in _error(response, 400)["message"]
    truncated = gzip.compress(b'{"resourceLogs": []}')[:-6]
    response = client.post(
        "/v1/logs",
        content=truncated,
        headers={"content-type": "application/json", "content-encoding": "gzip"},
    )
    assert "truncated" in _error(response, 400)["message"]


def test_an_oversize_body_is_413(collector_settings: Settings) -> None:
    small = replace(collector_settings, ingest_max_body_bytes=1000)
    with running_collector(small) as (client, ctx):
        big = orjson.dumps(_payload(prompt="x" * 2000, hook_event_name="UserPromptSubmit", prompt_id="p1"))
        error = _error(
            client.post("/v1/hooks", content=big, headers={"content-type": "application/json"}), 413
        )
        assert "1000 bytes" in error["message"] and "AGENT_TRACE_MAX_BODY_BYTES" in error["message"]
        # Chunked, without Content-Length: cut off while reading.
        response = client.post(
            "/v1/hooks", content=iter([big[:600], big[600:]]), headers={"content-type": "application/json"}
        )
        _error(response, 413)
        # A gzip bomb: 2 KB on the wire, 50 MB inflated; refused once the output passes the limit.
        bomb = gzip.compress(b"\0" * 50_000_000)
        assert len(bomb) < 100_000
        response = client.post(
            "/v1/logs",
            content=bomb,
            headers={"content-type": "application/json", "content-encoding": "gzip"},
        )
        _error(response, 413)
        assert ctx.store.counts()["raw_events"] == 0


# -- back-pressure ----------------------------------------------------------------------------


def test_a_full_queue_answers_503_with_retry_after(collector_settings: Settings) -> None:
    settings = replace(collector_settings, ingest_queue_records=2)
    inner = open_store(settings.database_url, settings.events_url)
    store = GatedStore(inner)
    ctx = AppContext(settings=settings, store=inner, ingest_store=store)
    app = create_app(ctx, "collector")
    ctx.services.background.start()
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            store.gate.clear()
            held: dict[str, int] = {}

            def first() -> None:
                held["status"] = client.post("/v1/hooks", json=_payload()).status_code

            thread = threading.Thread(target=first)
            thread.start()
            assert store.waiting.wait(10)  # the first request's records are being written
            response = client.post("/v1/hooks", json=_payload("Stop"))
            error = _error(response, 503)
            assert int(response.headers["retry-after"]) >= 1
            assert "retry" in error["message"]
            store.gate.set()
            thread.join(10)
            assert held["status"] == 204  # the first one was acknowledged once committed
            assert client.post("/v1/hooks", json=_payload("Stop")).status_code == 204
    finally:
        store.gate.set()
        ctx.services.background.stop()
        inner.close()


def test_a_failing_store_answers_503_and_acknowledges_nothing(collector_settings: Settings) -> None:
    inner = open_store(collector_settings.database_url, collector_settings.events_url)
    store = GatedStore(inner)
    store.fail_all = True
    ctx = AppContext(settings=collector_settings, store=inner, ingest_store=store)
    app = create_app(ctx, "collector")
    ctx.services.background.start()
    try:
        with TestClient(app, base_url="http://127.0.0.1") as client:
            response = client.post("/v1/hooks", json=_payload())
            error = _error(response, 503)
            assert "retry" in error["message"] and response.headers["retry-after"]
    finally:
        ctx.services.background.stop()
        inner.close()


# -- privacy, enforced again on the server -----------------------------------------------------

SECRET = "ghp_" + "Zq8Lr2Xk9Wm4Tn7Vb1Hc5Jd3Fg6Ys0Pa2Qe8"


@pytest.mark.parametrize("tier", [1, 2])
def test_the_server_tier_and_redaction_apply_whatever_the_client_sent(
    collector_settings: Settings, tier: int
) -> None:
    with running_collector(replace(collector_settings, privacy_tier=tier)) as (client, ctx):
        prompt = _payload("UserPromptSubmit", prompt_id="p1", prompt=f"use token {SECRET} please")
        tool = _payload(
            tool_input={"command": f"curl -H 'Authorization: token {SECRET}' https://api.github.com"}
        )
        post = _payload(
            "PostToolUse",
            tool_name="Bash",
            tool_use_id="toolu_1",
            tool_input={"command": "env"},
            tool_response={"stdout": f"GITHUB_TOKEN={SECRET}\n", "stderr": ""},
        )
        for payload in (prompt, tool, post):
            assert client.post("/v1/hooks", json=payload).status_code == 204
        detail = ctx.store.session_detail(SESSION)
        assert detail is not None
        dumped = orjson.dumps([detail.prompts, detail.tool_calls]).decode()
        assert SECRET not in dumped
        raw = inner_raw_payloads(ctx)
        assert raw and all(SECRET not in p for p in raw)
        if tier == 1:
            assert detail.prompts[0]["text"] is None
            assert detail.tool_calls[0]["input_json"] is None and detail.tool_calls[0]["output_text"] is None
            assert all("please" not in p and "curl" not in p for p in raw)
        else:
            assert "[REDACTED" in str(detail.prompts[0]["text"])
            assert "curl" in str(detail.tool_calls[0]["input_json"])


def inner_raw_payloads(ctx: AppContext) -> list[str]:
    runner = ctx.store.runner  # type: ignore[attr-defined]
    return [str(r[0]) for r in runner.query("SELECT payload FROM raw_events")]


# -- a real server: chunked bodies on the wire --------------------------------------------------


@corpus_only
def test_chunked_and_gzipped_bodies_over_a_real_socket(collector_settings: Settings) -> None:
    with running_collector(collector_settings) as (_client, ctx), live_server(ctx) as base_url:

        def chunks(body: bytes) -> Iterator[bytes]:
            for start in range(0, len(body), 1000):
                yield body[start : start + 1000]

        with httpx.Client(base_url=base_url) as http:
            for post in otlp_posts("basic"):
                request = http.build_request(
                    "POST",
                    post.path,
                    content=chunks(gzip.compress(post.body)),
                    headers={"content-type": post.content_type, "content-encoding": "gzip"},
                )
                assert request.headers.get("transfer-encoding") == "chunked"
                assert "content-length" not in request.headers
                response = http.send(request)
                assert response.status_code == 200, response.text
            for payload in hook_payloads("basic"):
                response = http.post(
                    "/v1/hooks", content=orjson.dumps(payload), headers={"content-type": "application/json"}
                )
                assert response.status_code == 204
        assert ctx.store.counts()["llm_calls"] == 4
        assert ctx.store.counts()["tool_calls"] == 3


def test_a_transcript_delta_needs_a_session(client: TestClient) -> None:
    payload = {
        "hook_event_name": "SomeFutureEvent",
        "agent_trace": {"transcript_delta": {"path": "/p/x.jsonl", "offset": 0, "text": "{}\n"}},
    }
    error = _error(client.post("/v1/hooks", json=payload), 400)
    assert "session_id" in error["message"]
