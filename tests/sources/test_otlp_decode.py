"""OTLP source on synthetic bodies: decoding errors, both encodings, parsing rules and joins."""

from __future__ import annotations

import base64
import json
from typing import Any

import orjson
import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agent_trace.domain.records import RecordBatch
from agent_trace.sources.otlp import (
    OtlpCorrelator,
    OtlpDecodeError,
    OtlpResult,
    decode_message,
    decode_request,
    parse_message,
    parse_request,
)
from agent_trace.sources.otlp_build import as_int, usd_to_nusd

SID = "4cfb44b3-b7b3-4f2b-a630-8f07ab4e910a"
TRACE = "9e65ad7ae590658a85f07b0a673202f8"
JSON = "application/json"
PROTOBUF = "application/x-protobuf"
MESSAGES: dict[str, type] = {
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "traces": ExportTraceServiceRequest,
}
RESOURCE = {
    "attributes": [
        {"key": "service.name", "value": {"stringValue": "claude-code"}},
        {"key": "service.version", "value": {"stringValue": "2.1.331"}},
    ]
}


def kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": value}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    if isinstance(value, list):
        return {"key": key, "value": {"arrayValue": {"values": [kv("", v)["value"] for v in value]}}}
    return {"key": key, "value": {"stringValue": value}}


def log(
    event: str,
    ts_ms: int = 1_795_557_376_413,
    trace: str | None = None,
    span: str | None = None,
    **attrs: Any,
):
    attributes = {
        "session.id": SID,
        "user.id": "u1",
        "event.name": event,
        "event.sequence": ts_ms % 1000,
        **attrs,
    }
    rec: dict[str, Any] = {
        "timeUnixNano": str(ts_ms * 1_000_000),
        "body": {"stringValue": "claude_code." + event},
        "attributes": [kv(k, v) for k, v in attributes.items() if v is not None],
    }
    if trace:
        rec["traceId"], rec["spanId"] = trace, span
    return rec


def logs_body(*records: dict[str, Any]) -> dict[str, Any]:
    scope = {"name": "com.anthropic.claude_code.events"}
    return {
        "resourceLogs": [{"resource": RESOURCE, "scopeLogs": [{"scope": scope, "logRecords": list(records)}]}]
    }


def span(
    name: str,
    span_id: str,
    parent: str | None = None,
    start_ms: int = 1_795_557_375_000,
    end_ms: int = 1_795_557_375_100,
    status: int = 0,
    events: list[dict[str, Any]] | None = None,
    **attrs: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "traceId": TRACE,
        "spanId": span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(start_ms * 1_000_000),
        "endTimeUnixNano": str(end_ms * 1_000_000),
        "attributes": [kv(k, v) for k, v in {"session.id": SID, **attrs}.items()],
        "status": {"code": status},
        "events": events or [],
    }
    if parent:
        out["parentSpanId"] = parent
    return out


def traces_body(*spans: dict[str, Any]) -> dict[str, Any]:
    scope = {"name": "com.anthropic.claude_code.tracing"}
    return {"resourceSpans": [{"resource": RESOURCE, "scopeSpans": [{"scope": scope, "spans": list(spans)}]}]}


def to_protobuf(signal: str, doc: dict[str, Any]) -> bytes:
    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: base64.b64encode(bytes.fromhex(v)).decode()
                if k in ("traceId", "spanId", "parentSpanId")
                else fix(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return bytes(ParseDict(fix(doc), MESSAGES[signal]()).SerializeToString())


def post(signal: str, doc: dict[str, Any], correlator: OtlpCorrelator | None = None) -> RecordBatch:
    """Normalise `doc` as JSON and as protobuf; both must agree."""
    as_json = parse_request(signal, JSON, orjson.dumps(doc), received_ms=5, correlator=correlator)
    as_pb = parse_request(signal, PROTOBUF, to_protobuf(signal, doc), received_ms=5)
    if correlator is None:
        assert as_json.batch == as_pb.batch
    return as_json.batch


# --------------------------------------------------------------------------------------------
# decoding errors


@pytest.mark.parametrize("content_type", ["text/plain", "", "application/grpc", "application/jsonl"])
def test_wrong_content_type_raises(content_type: str) -> None:
    with pytest.raises(OtlpDecodeError, match="content type") as info:
        decode_request("logs", content_type, b"{}")
    assert "application/json" in str(info.value) and "application/x-protobuf" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_content_type_parameters_and_case_are_accepted() -> None:
    assert (
        len(decode_request("/v1/logs", "application/json; charset=utf-8", orjson.dumps(logs_body(log("x")))))
        == 1
    )
    assert len(decode_request("traces", "Application/X-Protobuf", b"")) == 0
    assert len(decode_request("metrics", "application/protobuf", b"")) == 0


@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (JSON, b"\x1f\x8b\x08\x00garbage", "not valid JSON"),
        (JSON, b"", "not valid JSON"),
        (JSON, b"[1, 2]", "must be an object"),
        (JSON, b'{"resourceLogs": {"a": 1}}', "resourceLogs must be an array"),
        (JSON, b'{"resourceSpans": []}', "wrong endpoint"),
        (PROTOBUF, b"\xff\xfe\xfd garbage that is not protobuf", "not a valid protobuf"),
        (PROTOBUF, b'{"resourceLogs": []}', "not a valid protobuf"),
        (PROTOBUF, b"\x10\x01", "holds no resourceLogs"),  # parses, but only as an unknown field
    ],
)
def test_undecodable_bodies_raise(content_type: str, body: bytes, message: str) -> None:
    with pytest.raises(OtlpDecodeError, match=message):
        decode_request("logs", content_type, body)


def test_unknown_signal_and_wrong_message_type_raise() -> None:
    with pytest.raises(OtlpDecodeError, match="unknown OTLP signal"):
        decode_request("/v1/profiles", JSON, b"{}")
    with pytest.raises(OtlpDecodeError, match="ExportTraceServiceRequest"):
        decode_message("traces", ExportLogsServiceRequest())


def test_empty_requests_are_fine() -> None:
    for signal in ("logs", "metrics", "traces"):
        assert len(decode_request(signal, PROTOBUF, b"")) == 0
        assert len(decode_request(signal, JSON, b"{}")) == 0
        empty = parse_request(signal, JSON, b"{}", received_ms=0)
        assert len(empty.batch) == 0 and empty.metric_points == []


# --------------------------------------------------------------------------------------------
# both encodings


def test_protobuf_json_mapping_is_accepted_too() -> None:
    """What `MessageToDict` writes: base64 ids, intValue strings, enums by name."""
    doc = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "hBgDv1yA4k02dlVMw2lEIA==",
                                "spanId": "DNqop2uzBpA=",
                                "name": "claude_code.tool.execution",
                                "kind": "SPAN_KIND_INTERNAL",
                                "startTimeUnixNano": "1795557380159000000",
                                "attributes": [
                                    {"key": "session.id", "value": {"stringValue": SID}},
                                    {"key": "tool_use_id", "value": {"stringValue": "toolu_1"}},
                                    {"key": "duration_ms", "value": {"intValue": "116"}},
                                ],
                                "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    [view] = decode_request("traces", JSON, orjson.dumps(doc)).spans
    assert view.trace_id == "841803bf5c80e24d3676554cc3694420"
    assert view.span_id == "0cdaa8a76bb30690"
    assert (view.kind, view.status_code, view.status_message) == (1, 2, "boom")
    assert view.attributes["duration_ms"] == 116
    [tool] = parse_request("traces", JSON, orjson.dumps(doc), received_ms=0).batch.tool_calls
    assert (tool.status, tool.error, tool.duration_ms) == ("error", "boom", 116)

    metrics = {
        "resourceMetrics": [
            {
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": "claude_code.cost.usage",
                                "unit": "USD",
                                "sum": {
                                    "aggregationTemporality": "AGGREGATION_TEMPORALITY_DELTA",
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {
                                            "attributes": [kv("session.id", SID)],
                                            "asDouble": 0.5,
                                            "timeUnixNano": "5",
                                        }
                                    ],
                                },
                            }
                        ]
                    }
                ]
            }
        ]
    }
    [point] = decode_request("metrics", JSON, orjson.dumps(metrics)).metrics
    assert (point.temporality, point.monotonic, point.value, point.unit) == ("delta", True, 0.5, "USD")


def test_grpc_message_gives_the_same_records_as_the_http_body() -> None:
    doc = logs_body(
        log("api_request", request_id="req_1", input_tokens=3, output_tokens="4", trace=TRACE, span="ab" * 8)
    )
    message = ExportLogsServiceRequest.FromString(to_protobuf("logs", doc))
    from_grpc = parse_message("logs", message, received_ms=5)
    from_http = parse_request("logs", JSON, orjson.dumps(doc), received_ms=5)
    assert isinstance(from_grpc, OtlpResult)
    assert from_grpc.batch == from_http.batch
    assert json.loads(from_grpc.batch.raw_events[0].payload or "")["span_id"] == "ab" * 8


def test_attribute_value_types() -> None:
    doc = logs_body(log("x", b=True, d=1.5, arr=["a", "b"], i="7"))
    doc["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"] += [
        {"key": "kv", "value": {"kvlistValue": {"values": [kv("inner", 1)]}}},
        {"key": "bytes", "value": {"bytesValue": "AQI="}},
        {"key": "empty", "value": {}},
    ]
    for content_type, body in ((JSON, orjson.dumps(doc)), (PROTOBUF, to_protobuf("logs", doc))):
        attrs = decode_request("logs", content_type, body).logs[0].attributes
        assert attrs["b"] is True and attrs["d"] == 1.5 and attrs["arr"] == ["a", "b"] and attrs["i"] == "7"
        assert attrs["kv"] == {"inner": 1} and attrs["bytes"] == "AQI=" and attrs["empty"] is None


def test_histograms_and_gauges() -> None:
    doc = {
        "resourceMetrics": [
            {
                "resource": {"attributes": [kv("session.id", SID)]},
                "scopeMetrics": [
                    {
                        "metrics": [
                            {"name": "g", "gauge": {"dataPoints": [{"asInt": "3"}]}},
                            {
                                "name": "h",
                                "histogram": {
                                    "aggregationTemporality": 2,
                                    "dataPoints": [{"count": "4", "sum": 10.0, "bucketCounts": ["4"]}],
                                },
                            },
                        ]
                    }
                ],
            }
        ]
    }
    for content_type, body in ((JSON, orjson.dumps(doc)), (PROTOBUF, to_protobuf("metrics", doc))):
        gauge, hist = decode_request("metrics", content_type, body).metrics
        assert (gauge.kind, gauge.value, gauge.session_id) == ("gauge", 3, SID)
        assert (hist.kind, hist.value, hist.count, hist.temporality) == ("histogram", 10.0, 4, "cumulative")


# --------------------------------------------------------------------------------------------
# normalising logs


def test_api_request_with_string_numbers_and_cache_split() -> None:
    batch = post(
        "logs",
        logs_body(
            log(
                "api_request",
                **{"prompt.id": "p1"},
                request_id="req_1",
                model="claude-opus-4-6",
                input_tokens="75",
                output_tokens="12",
                cache_read_tokens="1000",
                cache_creation_tokens="1000",
                cache_creation_1h_tokens="300",
                cache_creation_5m_tokens="0",
                cost_usd="0.0123456789",
                duration_ms="107",
                ttft_ms="6",
                speed="fast",
                query_source="agent:builtin:general-purpose",
                agent_id="a1",
                **{"agent.name": "general-purpose"},
            )
        ),
    )
    [call] = batch.llm_calls
    assert (call.call_id, call.request_id, call.prompt_id, call.agent_id) == ("req_1", "req_1", "p1", "a1")
    assert call.usage is not None
    u = call.usage
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens) == (75, 12, 1000)
    # 5m + 1h ≠ creation: the rest counts as 5-minute writes
    assert (u.cache_creation_tokens, u.cache_5m_tokens, u.cache_1h_tokens) == (1000, 700, 300)
    assert call.reported_cost_nusd == 12_345_679  # $0.0123456789, rounded to nano-dollars
    assert (call.duration_ms, call.ttft_ms, call.speed, call.is_sidechain) == (107, 6, "fast", True)
    assert call.message_id is None and call.response_text is None and call.cost_nusd is None
    [sub] = batch.subagents
    assert (sub.agent_id, sub.agent_type, sub.session_id) == ("a1", "general-purpose", SID)
    [session] = batch.sessions
    assert (session.session_id, session.agent, session.version, session.user_id) == (
        SID,
        "claude-code",
        "2.1.331",
        "otel:u1",  # the anonymous account hash, marked so a real identity can replace it
    )


@pytest.mark.parametrize(
    ("split", "expected"),
    [
        ({}, (500, 500, 0)),  # no split at all
        ({"cache_creation_5m_tokens": 0, "cache_creation_1h_tokens": 500}, (500, 0, 500)),
        (
            {"cache_creation_5m_tokens": 400, "cache_creation_1h_tokens": 300},
            (700, 400, 300),
        ),  # split > total
    ],
)
def test_cache_creation_split(split: dict[str, int], expected: tuple[int, int, int]) -> None:
    batch = post("logs", logs_body(log("api_request", request_id="r", cache_creation_tokens=500, **split)))
    u = batch.llm_calls[0].usage
    assert u is not None and (u.cache_creation_tokens, u.cache_5m_tokens, u.cache_1h_tokens) == expected


def test_request_and_response_of_one_call_merge() -> None:
    batch = post(
        "logs",
        logs_body(
            log("api_request", request_id="req_1", input_tokens=1, output_tokens=2, cost_usd=0.25),
            log("assistant_response", request_id="req_1", response="Done.", **{"message.uuid": "m1"}),
        ),
    )
    [call] = batch.llm_calls
    assert call.usage is not None and call.usage.output_tokens == 2
    assert call.response_text == "Done." and call.reported_cost_nusd == 250_000_000


def test_user_prompt_kinds_and_redaction() -> None:
    batch = post(
        "logs",
        logs_body(
            log("user_prompt", **{"prompt.id": "p1", "message.uuid": "u1"}, prompt="fix the bug"),
            log("user_prompt", **{"prompt.id": "p2"}, prompt="/compact", command_name="compact"),
            log("user_prompt", **{"prompt.id": "p3"}, prompt="<task-notification>\n<task-id>x</task-id>"),
            log("user_prompt", **{"prompt.id": "p4"}, prompt="<REDACTED>", prompt_length="75"),
            log(
                "user_prompt", **{"prompt.id": "p5"}, prompt="<local-command-stdout>ok</local-command-stdout>"
            ),
            log("assistant_response", request_id="req_1", response="<REDACTED>"),
        ),
    )
    prompts = {p.prompt_id: (p.kind, p.text, p.line_uuid) for p in batch.prompts}
    assert prompts == {
        "p1": ("prompt", "fix the bug", "u1"),
        "p2": ("command", "/compact", None),
        "p3": ("task_notification", "<task-notification>\n<task-id>x</task-id>", None),
        "p4": (None, None, None),  # redacted: neither text nor a guessed kind
        # p5 is Claude Code's own bookkeeping: not a turn
    }
    assert batch.llm_calls[0].response_text is None


def test_tool_decision_and_result() -> None:
    batch = post(
        "logs",
        logs_body(
            log(
                "tool_decision",
                tool_use_id="t1",
                tool_name="Read",
                decision="accept",
                request_id="req_1",
                permission_mode="default",
                **{"prompt.id": "p1"},
            ),
            log(
                "tool_result",
                ts_ms=2_000,
                tool_use_id="t1",
                tool_name="Read",
                success="true",
                duration_ms="13",
                tool_input='{"file_path":"/w/a.py"}',
                request_id="req_1",
            ),
            log("tool_decision", tool_use_id="t2", tool_name="Bash", decision="reject"),
            log("tool_result", tool_use_id="t3", tool_name="Bash", success="false", error_type="ShellError"),
            log(
                "tool_result",
                tool_use_id="t4",
                tool_name="Edit",
                success="false",
                error="Old string not found",
            ),
            log("tool_result", tool_use_id="t5", tool_name="Bash", success="true", git_commit_id="abc123"),
        ),
    )
    tools = {t.tool_use_id: t for t in batch.tool_calls}
    t1 = tools["t1"]
    assert (t1.status, t1.duration_ms, t1.ended_ms, t1.started_ms) == ("success", 13, 2_000, 1_987)
    assert (t1.call_id, t1.prompt_id, t1.input_json) == ("req_1", "p1", '{"file_path":"/w/a.py"}')
    assert tools["t2"].status == "denied"
    assert (tools["t3"].status, tools["t3"].error) == ("error", "ShellError")
    assert (tools["t4"].status, tools["t4"].error) == ("error", "Old string not found")
    assert [(f.tool_use_id, f.path, f.op) for f in batch.file_touches] == [("t1", "/w/a.py", "read")]
    assert batch.sessions[0].permission_mode == "default"
    assert [(c.sha, c.session_id) for c in batch.commits] == [("abc123", SID)]


def test_api_errors_count_toward_the_prompt() -> None:
    batch = post(
        "logs",
        logs_body(
            log("api_error", **{"prompt.id": "p1"}, attempt=1, status_code=529),
            log("api_error", **{"prompt.id": "p1"}, attempt=1, status_code=529),
            log("api_error", **{"prompt.id": "p2"}, attempt=3),
            log("api_retries_exhausted", **{"prompt.id": "p3"}, total_attempts=4),
            log("api_error", status_code=500),  # no prompt: cannot be joined
        ),
    )
    assert {p.prompt_id: p.api_errors for p in batch.prompts} == {"p1": 2, "p2": 3, "p3": 4}
    assert batch.llm_calls == []


def test_subagent_completed_and_compaction() -> None:
    batch = post(
        "logs",
        logs_body(
            log(
                "subagent_completed",
                ts_ms=10_000,
                agent_id="a1",
                agent_type="Explore",
                duration_ms=600,
                model="m",
            ),
            log("compaction", trigger="auto", success="true"),
            log("compaction", trigger="auto", success="false"),
        ),
    )
    [sub] = batch.subagents
    assert (sub.agent_id, sub.agent_type, sub.model, sub.started_ms, sub.ended_ms) == (
        "a1",
        "Explore",
        "m",
        9_400,
        10_000,
    )
    assert batch.sessions[0].compactions == 1


def test_event_name_from_the_body_and_records_without_session() -> None:
    rec = log("api_request", request_id="req_1", output_tokens=1)
    rec["attributes"] = [a for a in rec["attributes"] if a["key"] != "event.name"]
    orphan = log("api_request", request_id="req_2", output_tokens=1)
    orphan["attributes"] = [a for a in orphan["attributes"] if a["key"] != "session.id"]
    batch = post("logs", logs_body(rec, orphan))
    assert [c.call_id for c in batch.llm_calls] == ["req_1"]
    assert [(e.kind, e.session_id) for e in batch.raw_events] == [("api_request", SID), ("api_request", None)]


def test_raw_events() -> None:
    doc = logs_body(
        log("hook_registered", hook_event="Stop"), log("hook_registered", hook_event="SessionEnd")
    )
    first = post("logs", doc).raw_events
    again = post("logs", doc).raw_events
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert len({e.event_id for e in first}) == 2
    event = first[0]
    assert (event.source, event.session_id, event.received_ms, event.kind) == (
        "otlp-logs",
        SID,
        5,
        "hook_registered",
    )
    assert event.ts_ms == 1_795_557_376_413
    assert json.loads(event.payload or "")["hook_event"] == "Stop"
    assert " " not in (event.payload or "")  # compact JSON


# --------------------------------------------------------------------------------------------
# normalising spans


def test_llm_request_span_tokens() -> None:
    explicit = span(
        "claude_code.llm_request",
        "01" * 8,
        request_id="req_1",
        input_tokens=15,
        output_tokens=140,
        cache_read_tokens=12850,
        cache_creation_tokens=470,
        stop_reason="end_turn",
        ttft_ms=6,
        agent_id="a1",
        query_source_safe="agent.builtin.general-purpose",
        **{"gen_ai.usage.input_tokens": 13335, "gen_ai.conversation.id": "a1", "gen_ai.response.model": "m"},
    )
    gen_ai_only = span(
        "claude_code.llm_request",
        "02" * 8,
        **{
            "gen_ai.response.id": "req_2",
            "gen_ai.usage.input_tokens": 13335,
            "gen_ai.usage.output_tokens": 140,
            "gen_ai.usage.cache_read.input_tokens": 12850,
            "gen_ai.usage.cache_write.input_tokens": 470,
            "gen_ai.response.finish_reasons": ["tool_use"],
        },
    )
    failed = span("claude_code.llm_request", "03" * 8, status=2, request_id="req_3", success=False)
    batch = post("traces", traces_body(explicit, gen_ai_only, failed))
    calls = {c.call_id: c for c in batch.llm_calls}
    assert set(calls) == {"req_1", "req_2"}  # the failed attempt billed nothing
    for call in calls.values():
        assert call.usage is not None
        assert (call.usage.input_tokens, call.usage.output_tokens) == (15, 140)
        assert (call.usage.cache_read_tokens, call.usage.cache_creation_tokens) == (12850, 470)
        assert call.ts_ms == 1_795_557_375_100  # the end of the request, like the api_request event
    first = calls["req_1"]
    assert (first.stop_reason, first.ttft_ms, first.model, first.agent_id) == ("end_turn", 6, "m", "a1")
    assert first.query_source == "agent:builtin:general-purpose" and first.is_sidechain
    assert calls["req_2"].stop_reason == "tool_use"
    assert batch.sessions[0].session_id == SID  # not gen_ai.conversation.id, which is the agent
    assert len(batch.raw_events) == 3


def test_tool_spans_children_first() -> None:
    output_event = {"name": "tool.output", "attributes": [kv("output", "hello")]}
    batch = post(
        "traces",
        traces_body(
            span("claude_code.tool.blocked_on_user", "b1" * 8, parent="70" * 8, decision="reject"),
            span(
                "claude_code.tool.blocked_on_user", "b2" * 8, parent="99" * 8, decision="reject"
            ),  # parent unseen
            span(
                "claude_code.tool.execution",
                "e1" * 8,
                parent="71" * 8,
                status=2,
                tool_use_id="t2",
                success=False,
            ),
            span("claude_code.tool", "70" * 8, tool_use_id="t1", tool_name="Write", file_path="/w/a.py"),
            span(
                "claude_code.tool",
                "71" * 8,
                start_ms=1_000,
                end_ms=1_500,
                events=[output_event],
                tool_name="Bash",
                full_command="ls",
                **{"gen_ai.tool.call.id": "t2"},
            ),
        ),
    )
    tools = {t.tool_use_id: t for t in batch.tool_calls}
    assert set(tools) == {"t1", "t2"}
    assert (tools["t1"].status, tools["t1"].tool_name) == ("denied", "Write")
    t2 = tools["t2"]
    assert (t2.status, t2.tool_name, t2.output_text, t2.duration_ms) == ("error", "Bash", "hello", 100)
    assert (t2.started_ms, t2.ended_ms) == (1_000, 1_795_557_375_100)  # widest of the two spans
    assert t2.input_json is None  # full_command is not the tool input: kept in the raw event only
    assert [(f.tool_use_id, f.path, f.op) for f in batch.file_touches] == [("t1", "/w/a.py", "write")]


def test_subagent_spans_under_an_agent_call() -> None:
    batch = post(
        "traces",
        traces_body(
            span(
                "claude_code.llm_request",
                "c1" * 8,
                parent="e0" * 8,
                request_id="r1",
                output_tokens=1,
                agent_id="a1",
            ),
            span(
                "claude_code.tool",
                "c2" * 8,
                parent="e0" * 8,
                tool_use_id="t9",
                tool_name="Bash",
                agent_id="a1",
            ),
            # a tool inside the subagent making its own model call: not a parent of a1
            span(
                "claude_code.llm_request",
                "c3" * 8,
                parent="e9" * 8,
                request_id="r2",
                output_tokens=1,
                agent_id="a1",
            ),
            span("claude_code.tool.execution", "e9" * 8, parent="c2" * 8, tool_use_id="t9"),
            span("claude_code.tool.execution", "e0" * 8, parent="70" * 8, tool_use_id="t1", success=True),
            span(
                "claude_code.tool",
                "70" * 8,
                tool_use_id="t1",
                tool_name="Agent",
                subagent_type="general-purpose",
            ),
        ),
    )
    [sub] = batch.subagents
    assert (sub.agent_id, sub.parent_tool_use_id) == ("a1", "t1")
    tools = {t.tool_use_id: t for t in batch.tool_calls}
    assert tools["t1"].subagent_id == "a1" and tools["t9"].subagent_id is None
    assert tools["t9"].agent_id == "a1"


# --------------------------------------------------------------------------------------------
# joins across requests


@pytest.mark.parametrize("span_first", [True, False])
def test_interaction_duration_joins_the_user_prompt_in_either_order(span_first: bool) -> None:
    correlator = OtlpCorrelator()
    logs = logs_body(log("user_prompt", trace=TRACE, span="aa" * 8, prompt="hi", **{"prompt.id": "p1"}))
    traces = traces_body(
        span("claude_code.interaction", "aa" * 8, user_prompt="hi", **{"interaction.duration_ms": 1641})
    )
    order = [("traces", traces), ("logs", logs)] if span_first else [("logs", logs), ("traces", traces)]
    batches = [post(signal, doc, correlator) for signal, doc in order]
    durations = [
        (p.prompt_id, p.session_id, p.duration_ms) for b in batches for p in b.prompts if p.duration_ms
    ]
    assert durations == [("p1", SID, 1641)]
    assert len(correlator) == 0
    # Without a correlator the span cannot be placed: no guessed prompt.
    assert post("traces", traces).prompts == []


@pytest.mark.parametrize("span_first", [True, False])
def test_subagent_completed_joins_the_agent_execution_span(span_first: bool) -> None:
    correlator = OtlpCorrelator()
    logs = logs_body(
        log("subagent_completed", trace=TRACE, span="e0" * 8, agent_id="a1", agent_type="Explore")
    )
    traces = traces_body(span("claude_code.tool.execution", "e0" * 8, tool_use_id="t1", success=True))
    order = [("traces", traces), ("logs", logs)] if span_first else [("logs", logs), ("traces", traces)]
    last = [post(signal, doc, correlator) for signal, doc in order][-1]
    assert [(s.agent_id, s.parent_tool_use_id) for s in last.subagents if s.parent_tool_use_id] == [
        ("a1", "t1")
    ]
    assert [t.subagent_id for t in last.tool_calls if t.tool_use_id == "t1"] == ["a1"]


def test_correlator_is_bounded() -> None:
    correlator = OtlpCorrelator(max_pending=2)
    for n in range(5):
        correlator.tool_execution(TRACE, f"{n:016x}", f"t{n}")
    assert len(correlator) == 2
    assert correlator.subagent_completed(TRACE, f"{0:016x}", "a0") is None  # evicted
    assert correlator.subagent_completed(TRACE, f"{4:016x}", "a4") == "t4"
    with pytest.raises(ValueError, match="max_pending"):
        OtlpCorrelator(max_pending=0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("75", 75),
        ("75.0", 75),
        ("7.6", 8),
        (3.0, 3),
        ("nan", None),
        ("1e400", None),
        ("x", None),
        (True, None),
    ],
)
def test_numbers_are_parsed_defensively(value: Any, expected: int | None) -> None:
    assert as_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.0123456789", 12_345_679),
        (0.0077800000000000005, 7_780_000),
        (1, 10**9),
        ("nan", None),
        ("-1", None),
    ],
)
def test_usd_to_nano_dollars(value: Any, expected: int | None) -> None:
    assert usd_to_nusd(value) == expected


def test_user_identity_from_telemetry() -> None:
    from agent_trace.sources.otlp_build import otel_user

    assert otel_user({"user.email": "dev@example.com", "user.id": "abc"}) == "dev@example.com"
    assert otel_user({"user.id": "abc"}) == "otel:abc"
    assert otel_user({}) is None
