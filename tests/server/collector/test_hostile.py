"""Issue 9: hostile input never breaks, poisons or leaks (one test per numbered problem where it
lives on the collector; each failed on the main branch before the fix)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import grpc
import orjson
import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse

from agent_trace.config import Settings
from agent_trace.server.app import create_app
from agent_trace.server.collector.grpc_service import OtlpGrpcService
from agent_trace.server.context import AppContext
from tests.server.collector.support import running_collector

SESSION = "11111111-2222-4333-8444-555555555555"
GOOD_TS = 1_767_225_600_000  # 2026-01-01


def hook(event: str = "PreToolUse", session: str = SESSION, **extra: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "session_id": session,
        "transcript_path": f"/home/dev/.claude/projects/-w/{session}.jsonl",
        "cwd": "/home/dev/w",
        "hook_event_name": event,
        "agent_trace": {"ts_ms": GOOD_TS, "user": "dev"},
    }
    if event in ("PreToolUse", "PostToolUse"):
        payload.update(tool_name="Bash", tool_use_id="toolu_1", tool_input={"command": "ls"})
    payload.update(extra)
    return payload


@pytest.fixture
def collector_settings(settings: Settings) -> Settings:
    return replace(settings, otel_grpc_address="off")


@pytest.fixture
def running(collector_settings: Settings) -> Iterator[tuple[TestClient, AppContext]]:
    with running_collector(collector_settings) as pair:
        yield pair


def read_everything(ctx: AppContext) -> None:
    """Every read endpoint answers 200 over what the collector stored."""
    with TestClient(create_app(ctx, "api"), base_url="http://127.0.0.1") as api:
        listing = api.get("/v1/sessions")
        assert listing.status_code == 200, listing.text
        for row in listing.json()["sessions"]:
            sid = row["session_id"]
            for path in (f"/v1/sessions/{sid}", f"/v1/timeline?session_id={sid}"):
                answer = api.get(path)
                assert answer.status_code == 200, (path, answer.text)
        assert api.get("/v1/analytics/cost/daily").status_code == 200
    with TestClient(create_app(ctx, "dashboard"), base_url="http://127.0.0.1") as dash:
        page = dash.get("/")
        assert page.status_code == 200, page.text


# -- problem 1: an out-of-range timestamp broke every read for good --------------------------------


@pytest.mark.parametrize("ts_ms", [253_402_300_800_000, -62_135_596_800_001, 10**18, -1])
def test_a_hook_stamped_outside_the_sane_window_is_refused_naming_the_field(
    running: tuple[TestClient, AppContext], ts_ms: int
) -> None:
    client, ctx = running
    response = client.post("/v1/hooks", json=hook(agent_trace={"ts_ms": ts_ms}))
    assert response.status_code == 400, response.text
    assert "started_ms" in response.json()["error"]["message"]
    read_everything(ctx)


def test_a_batch_stores_its_good_payloads_and_names_the_bad_one(
    running: tuple[TestClient, AppContext],
) -> None:
    client, ctx = running
    bad = hook("PostToolUse", duration_ms=2**63, tool_use_id="toolu_2")
    response = client.post("/v1/hooks", json=[hook(), bad, hook("Stop")])
    assert response.status_code == 200
    answer = response.json()
    assert answer["accepted"] == 2
    assert answer["rejected"][0]["index"] == 1
    assert "duration_ms" in answer["rejected"][0]["message"]
    assert ctx.store.counts()["tool_calls"] == 1
    read_everything(ctx)


# -- problem 4: a number too large for the database was a 5xx (retried forever) --------------------


@pytest.mark.parametrize(
    "payload",
    [
        hook("PostToolUse", duration_ms=2**63),
        hook("PostToolUse", duration_ms=-5),
        hook(agent_trace={"ts_ms": 10**30}),
    ],
)
def test_numbers_too_large_are_a_4xx_not_a_5xx(running: tuple[TestClient, AppContext], payload: Any) -> None:
    client, _ctx = running
    response = client.post("/v1/hooks", json=payload)
    assert 400 <= response.status_code < 500, response.text


def test_otlp_time_unix_nano_1e30_is_refused_and_the_good_records_kept(
    running: tuple[TestClient, AppContext],
) -> None:
    client, ctx = running

    def record(nanos: str, request_id: str) -> dict[str, Any]:
        attrs = {
            "event.name": "api_request",
            "session.id": SESSION,
            "request_id": request_id,
            "model": "claude-sonnet-4-5",
            "input_tokens": "10",
            "output_tokens": "5",
        }
        return {
            "timeUnixNano": nanos,
            "body": {"stringValue": "claude_code.api_request"},
            "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attrs.items()],
        }

    body = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            record(str(GOOD_TS * 1_000_000), "req_good"),
                            record("1" + "0" * 30, "req_bad"),
                        ]
                    }
                ]
            }
        ]
    }
    response = client.post(
        "/v1/logs", content=orjson.dumps(body), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedLogRecords"]) >= 1
    assert "ts_ms" in partial["errorMessage"]
    assert ctx.store.counts()["llm_calls"] == 1
    read_everything(ctx)


# -- problem 8: ids of any length, ids with '/' ------------------------------------------------------


@pytest.mark.parametrize("session", ["a" * 4_000_000, "abc/def", "a b", "x\x1b[2J", ""])
def test_session_ids_are_bounded_and_url_safe(running: tuple[TestClient, AppContext], session: str) -> None:
    client, ctx = running
    response = client.post("/v1/hooks", json=hook(session=session))
    assert response.status_code in (400, 413), response.text[:200]
    assert ctx.store.counts()["sessions"] == 0


# -- problem 2 (server side; the real-browser test is tests/browser/test_cross_site.py) ------------


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "http://127.0.0.1:9999"},
        {"origin": "null"},
        {"origin": "https://evil.example"},
        {"host": "evil.localhost:8317"},
        {"host": "evil.example"},
    ],
)
def test_cross_site_writes_are_refused_on_every_ingest_route(
    running: tuple[TestClient, AppContext], headers: dict[str, str]
) -> None:
    client, ctx = running
    for path, body in (("/v1/hooks", orjson.dumps(hook())), ("/v1/logs", b"{}"), ("/v1/traces", b"{}")):
        response = client.post(path, content=body, headers={"content-type": "application/json", **headers})
        assert response.status_code in (403, 421), (path, response.status_code)
    assert ctx.store.counts()["raw_events"] == 0


def test_a_same_origin_or_originless_client_is_served(running: tuple[TestClient, AppContext]) -> None:
    client, _ctx = running
    assert client.post("/v1/hooks", json=hook()).status_code == 204
    same = {"origin": "http://127.0.0.1"}
    assert client.post("/v1/hooks", json=hook(), headers=same).status_code == 204


# -- problem 8: gRPC garbage was INTERNAL; the docs promise INVALID_ARGUMENT ------------------------


def _grpc_call(ctx: AppContext, method: str, body: bytes) -> tuple[grpc.StatusCode, bytes | None]:
    (service,) = [s for s in ctx.services.background if isinstance(s, OtlpGrpcService)]
    with grpc.insecure_channel(f"127.0.0.1:{service.port}") as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        try:
            return grpc.StatusCode.OK, call(body, timeout=30)
        except grpc.RpcError as exc:
            return exc.code(), None


@pytest.mark.parametrize("garbage", [b"\xff\xff\xff\xff", b"\x0a\x05abc", bytes(range(256))])
def test_grpc_garbage_is_invalid_argument(settings: Settings, garbage: bytes) -> None:
    with running_collector(replace(settings, otel_grpc_address="127.0.0.1:0")) as (_client, ctx):
        for method in (
            "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        ):
            code, _ = _grpc_call(ctx, method, garbage)
            assert code == grpc.StatusCode.INVALID_ARGUMENT, (method, code)
        code, reply = _grpc_call(ctx, "/opentelemetry.proto.collector.logs.v1.LogsService/Export", b"")
        assert code == grpc.StatusCode.OK
        assert (
            reply is not None and ExportLogsServiceResponse.FromString(reply) == ExportLogsServiceResponse()
        )


# -- problem 3 (collector side): remote URLs with tokens, raw transcript bytes in the cursor ---------


def test_a_git_remote_with_a_token_is_redacted_on_the_server(running: tuple[TestClient, AppContext]) -> None:
    client, ctx = running
    token = "ghs_" + "R4nd0mT0k3nV4lu3F0rT3st1ngAbCdEfGh12"
    remote = f"https://x-access-token:{token}@github.com/acme/app"
    git = {"repo": remote, "commits": [{"sha": "a" * 40, "message": "x", "ts_ms": GOOD_TS}]}
    response = client.post("/v1/hooks", json=hook("Stop", agent_trace={"ts_ms": GOOD_TS, "git": git}))
    assert response.status_code == 204, response.text
    with TestClient(create_app(ctx, "api"), base_url="http://127.0.0.1") as api:
        text = api.get(f"/v1/sessions/{SESSION}").text + api.get("/v1/sessions").text
    assert token not in text
    detail = ctx.store.session_detail(SESSION)
    assert detail is not None and token not in repr(detail)


@pytest.mark.parametrize("tier", [1, 2])
def test_the_transcript_cursor_keeps_no_raw_bytes(collector_settings: Settings, tier: int) -> None:
    """A client that ships an unsanitised delta (not our hook handler) cannot get a secret into
    the cursor state the collector keeps for the next delta."""
    secret = "glpat-" + "Zx9Qw3Er7Ty1Ui5Op2As"
    # An assistant line of a response still streaming (more content blocks to come): the
    # collector carries it in the cursor until the response is complete.
    line = orjson.dumps(
        {
            "type": "assistant",
            "sessionId": SESSION,
            "uuid": "a1",
            "requestId": "req_1",
            "timestamp": "2026-01-01T00:00:01.000Z",
            "message": {
                "id": "msg_1",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "stop_reason": None,
                "content": [
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "Bash",
                        "input": {"command": f"curl -H 'PRIVATE-TOKEN: {secret}' https://gitlab.com/api"},
                    }
                ],
                "usage": {"input_tokens": 5, "output_tokens": 1},
            },
        }
    ).decode()
    path = f"/home/dev/.claude/projects/-w/{SESSION}.jsonl"
    delta = {"path": path, "offset": 0, "text": line + "\n"}
    with running_collector(replace(collector_settings, privacy_tier=tier)) as (client, ctx):
        response = client.post(
            "/v1/hooks", json=hook("Stop", agent_trace={"ts_ms": GOOD_TS, "transcript_delta": delta})
        )
        assert response.status_code == 204, response.text
        cursor = ctx.store.transcript_cursor(SESSION, path)
        assert cursor is not None
        assert secret not in cursor.state
        assert "toolu_1" in cursor.state  # the line is carried…
        if tier == 1:
            assert "curl" not in cursor.state  # …stripped to the tier


# -- problem 6 (dashboard): bidi overrides are neutralised --------------------------------------------


def test_the_dashboard_neutralises_bidi_overrides(running: tuple[TestClient, AppContext]) -> None:
    client, ctx = running
    prompt = "open invoice\u202efdp.exe and \u2066isolate\u2069"
    response = client.post("/v1/hooks", json=hook("UserPromptSubmit", prompt=prompt, prompt_id="p1"))
    assert response.status_code == 204, response.text
    with TestClient(create_app(ctx, "dashboard"), base_url="http://127.0.0.1") as dash:
        for path in ("/", f"/sessions/{SESSION}"):
            page = dash.get(path)
            assert page.status_code == 200, page.text
            for char in ("\u202e", "\u2066", "\u2069"):
                assert char not in page.text, path
        assert "⟨U+202E⟩" in dash.get(f"/sessions/{SESSION}").text
