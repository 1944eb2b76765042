"""Hypothesis fuzzing of every collector route (issue 9): hooks (JSON, arrays, NDJSON), OTLP/HTTP
JSON and protobuf, OTLP/gRPC. Whatever arrives: never a 5xx (gRPC: never INTERNAL/UNKNOWN), the
good records of a mixed batch are stored, and every read endpoint still answers 200 afterwards."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import grpc
import pytest
from fastapi.testclient import TestClient
from google.protobuf.json_format import ParseDict, ParseError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from agent_trace.server.collector.grpc_service import OtlpGrpcService
from agent_trace.server.context import AppContext
from tests.server.collector.support import running_collector
from tests.server.collector.test_hostile import GOOD_TS, hook, read_everything


def _dumps(value: Any) -> bytes:
    # The stdlib, not orjson: integers past 64 bits are part of the attack.
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
_counter = itertools.count()

# Values that broke or poisoned the store before (problems 1, 4, 8), mixed with anything JSON.
nasty_ints = st.sampled_from([2**63, 2**63 - 1, 2**62, -(2**63), -1, 10**30, 253_402_300_800_000, 0])
nasty_strings = st.sampled_from(
    ["a" * 5000, "x/y", "../..", "\x1b[2J", "\u202e", "", " ", "\x00", "🙂" * 100]
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | nasty_ints
    | st.floats(allow_nan=False)
    | st.text(max_size=50)
    | nasty_strings,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
HOOK_FIELDS = (
    "session_id",
    "hook_event_name",
    "tool_name",
    "tool_use_id",
    "tool_input",
    "tool_response",
    "duration_ms",
    "prompt",
    "prompt_id",
    "cwd",
    "agent_id",
    "agent_type",
    "transcript_path",
    "agent_trace",
)
EVENTS = (
    "PreToolUse",
    "PostToolUse",
    "UserPromptSubmit",
    "Stop",
    "SessionStart",
    "SessionEnd",
    "SubagentStop",
)


@st.composite
def fuzzed_hooks(draw: st.DrawFn) -> dict[str, Any]:
    payload = hook(draw(st.sampled_from(EVENTS)))
    for key in draw(st.lists(st.sampled_from(HOOK_FIELDS), max_size=4, unique=True)):
        payload[key] = draw(json_values)
    if draw(st.booleans()):
        payload["agent_trace"] = {
            "ts_ms": draw(nasty_ints | st.integers()),
            "git": {"repo": draw(nasty_strings), "lines_added": draw(nasty_ints)},
        }
    return payload


def good_hook() -> tuple[dict[str, Any], str]:
    tool_use_id = f"toolu_good_{next(_counter)}"
    return hook("PreToolUse", tool_use_id=tool_use_id), tool_use_id


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, AppContext]]:
    from agent_trace.config import load_settings

    tmp = tmp_path_factory.mktemp("fuzz")
    base = load_settings({"AGENT_TRACE_HOME": str(tmp / "home"), "HOME": str(tmp), "USER": "dev"})
    with running_collector(replace(base, otel_grpc_address="127.0.0.1:0")) as pair:
        yield pair
        read_everything(pair[1])  # after everything below


def _tool_call_stored(ctx: AppContext, session: str, tool_use_id: str) -> bool:
    detail = ctx.store.session_detail(session)
    return detail is not None and any(t.get("tool_use_id") == tool_use_id for t in detail.tool_calls)


@FUZZ
@given(fuzzed=fuzzed_hooks(), form=st.sampled_from(["single", "array", "ndjson"]))
def test_hooks(running: tuple[TestClient, AppContext], fuzzed: dict[str, Any], form: str) -> None:
    client, ctx = running
    if form == "single":
        response = client.post(
            "/v1/hooks", content=_dumps(fuzzed), headers={"content-type": "application/json"}
        )
        assert response.status_code < 500, response.text
        return
    (first, first_id), (last, last_id) = good_hook(), good_hook()
    batch = [first, fuzzed, last]
    if form == "array":
        response = client.post(
            "/v1/hooks", content=_dumps(batch), headers={"content-type": "application/json"}
        )
    else:
        body = b"\n".join(_dumps(p) for p in batch)
        response = client.post("/v1/hooks", content=body, headers={"content-type": "application/x-ndjson"})
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] >= 2
    assert _tool_call_stored(ctx, first["session_id"], first_id)
    assert _tool_call_stored(ctx, last["session_id"], last_id)


def _log_record(request_id: str, nanos: Any, extra: dict[str, Any]) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "event.name": "api_request",
        "session.id": "22222222-2222-4333-8444-555555555555",
        "request_id": request_id,
        "model": "claude-sonnet-4-5",
        "input_tokens": "10",
        "output_tokens": "5",
    }
    attrs.update(extra)
    return {
        "timeUnixNano": nanos,
        "body": {"stringValue": "claude_code.api_request"},
        "attributes": [
            {"key": k, "value": {"stringValue": v} if isinstance(v, str) else {"intValue": v}}
            for k, v in attrs.items()
        ],
    }


otlp_values = nasty_strings | st.text(max_size=40) | nasty_ints.map(str) | st.integers(-(2**63), 2**63 - 1)
otlp_extra = st.dictionaries(
    st.sampled_from(
        ["input_tokens", "output_tokens", "duration_ms", "cost_usd", "session.id", "request_id", "model"]
    ),
    otlp_values,
    max_size=3,
)


@FUZZ
@given(
    nanos=st.one_of(nasty_ints, st.integers(), st.text(max_size=30)).map(str),
    extra=otlp_extra,
    encoding=st.sampled_from(["json", "protobuf"]),
)
def test_otlp_logs(
    running: tuple[TestClient, AppContext], nanos: str, extra: dict[str, Any], encoding: str
) -> None:
    client, ctx = running
    good_id = f"req_good_{next(_counter)}"
    doc = {
        "resourceLogs": [
            {
                "scopeLogs": [
                    {
                        "logRecords": [
                            _log_record(good_id, str(GOOD_TS * 1_000_000), {}),
                            _log_record(f"req_fuzz_{next(_counter)}", nanos, extra),
                        ]
                    }
                ]
            }
        ]
    }
    if encoding == "json":
        body, content_type = _dumps(doc), "application/json"
    else:
        try:
            body = ParseDict(doc, ExportLogsServiceRequest()).SerializeToString()
        except (ParseError, ValueError, TypeError):
            return  # not expressible in protobuf (a non-numeric timeUnixNano)
        content_type = "application/x-protobuf"
    response = client.post("/v1/logs", content=body, headers={"content-type": content_type})
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        detail = ctx.store.session_detail("22222222-2222-4333-8444-555555555555")
        assert detail is not None and any(c.get("call_id") == good_id for c in detail.llm_calls)


@FUZZ
@given(body=st.binary(max_size=300), signal=st.sampled_from(["logs", "metrics", "traces"]))
def test_otlp_protobuf_garbage(running: tuple[TestClient, AppContext], body: bytes, signal: str) -> None:
    client, _ctx = running
    response = client.post(f"/v1/{signal}", content=body, headers={"content-type": "application/x-protobuf"})
    assert response.status_code < 500, response.text


@FUZZ
@given(
    body=st.binary(max_size=300),
    service=st.sampled_from(["logs.v1.LogsService", "trace.v1.TraceService", "metrics.v1.MetricsService"]),
)
def test_grpc(running: tuple[TestClient, AppContext], body: bytes, service: str) -> None:
    _client, ctx = running
    (grpc_service,) = [s for s in ctx.services.background if isinstance(s, OtlpGrpcService)]
    with grpc.insecure_channel(f"127.0.0.1:{grpc_service.port}") as channel:
        call = channel.unary_unary(
            f"/opentelemetry.proto.collector.{service}/Export",
            request_serializer=None,
            response_deserializer=None,
        )
        try:
            call(body, timeout=30)
        except grpc.RpcError as exc:
            assert exc.code() not in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), exc.details()
