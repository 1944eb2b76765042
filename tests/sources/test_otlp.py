"""Golden tests of the OTLP source on the real Claude Code 2.1.331 captures (../shared/corpus)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from google.protobuf.json_format import ParseDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agent_trace.domain.records import LlmCall, RecordBatch
from agent_trace.sources.otlp import (
    SOURCE_LOGS,
    SOURCE_METRICS,
    SOURCE_TRACES,
    MetricPoint,
    OtlpCorrelator,
    parse_message,
    parse_request,
)

REAL_CLIENT = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "claude-code" / "real-client"

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not REAL_CLIENT.is_dir(), reason="../shared corpus is absent"),
]

_MESSAGES: dict[str, type] = {
    "/v1/logs": ExportLogsServiceRequest,
    "/v1/metrics": ExportMetricsServiceRequest,
    "/v1/traces": ExportTraceServiceRequest,
}


@dataclass
class Replay:
    """Every POST of one scenario, normalised in order with one shared correlator."""

    batches: list[tuple[str, RecordBatch]] = field(default_factory=list)
    metric_points: list[MetricPoint] = field(default_factory=list)

    def all(self, kind: str, source: str | None = None) -> list[Any]:
        out: list[Any] = []
        for src, batch in self.batches:
            if source is None or src == source:
                out.extend(getattr(batch, kind))
        return out

    def calls_from_logs(self) -> dict[str, LlmCall]:
        return {call.call_id: call for call in self.all("llm_calls", "/v1/logs")}


def _posts(scenario: str) -> list[dict[str, Any]]:
    lines = (REAL_CLIENT / scenario / "otlp.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _wire_body(post: dict[str, Any]) -> bytes:
    """Rebuild the bytes that were POSTed. The protobuf capture stores MessageToDict output."""
    if post["content_type"] == "application/x-protobuf":
        return bytes(ParseDict(post["body"], _MESSAGES[post["path"]]()).SerializeToString())
    return orjson.dumps(post["body"])


def replay(scenario: str, *, grpc: bool = False) -> Replay:
    out = Replay()
    correlator = OtlpCorrelator()
    for post in _posts(scenario):
        if grpc:
            message_type = _MESSAGES[post["path"]]
            if post["content_type"] == "application/json":
                message = message_type.FromString(_json_to_protobuf(post["body"], message_type))
            else:
                message = ParseDict(post["body"], message_type())
            result = parse_message(post["path"], message, received_ms=1, correlator=correlator)
        else:
            result = parse_request(
                post["path"], post["content_type"], _wire_body(post), received_ms=1, correlator=correlator
            )
        out.batches.append((post["path"], result.batch))
        out.metric_points.extend(result.metric_points)
    return out


def _json_to_protobuf(doc: dict[str, Any], message_type: type) -> bytes:
    """OTLP/JSON (hex ids) → protobuf bytes: ParseDict reads bytes fields as base64."""

    def fix(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                k: base64.b64encode(bytes.fromhex(v)).decode()
                if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str)
                else fix(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return bytes(ParseDict(fix(doc), message_type()).SerializeToString())


def _transcript_usage(scenario: str) -> dict[str, tuple[int, int, int, int]]:
    """requestId → (input, output, cache_read, cache_creation), the largest copy of each request."""
    best: dict[str, tuple[int, int, int, int]] = {}
    for path in (REAL_CLIENT / scenario / "transcripts").rglob("*.jsonl"):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("type") != "assistant" or not rec.get("requestId"):
                continue
            if rec["message"].get("model") == "<synthetic>":
                continue
            usage = rec["message"]["usage"]
            row = (
                usage.get("input_tokens", 0),
                usage.get("output_tokens", 0),
                usage.get("cache_read_input_tokens", 0),
                usage.get("cache_creation_input_tokens", 0),
            )
            if sum(row) >= sum(best.get(rec["requestId"], (0, 0, 0, 0))):
                best[rec["requestId"]] = row
    return best


def _usage_row(call: LlmCall) -> tuple[int, int, int, int]:
    assert call.usage is not None
    u = call.usage
    return (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_creation_tokens)


# --------------------------------------------------------------------------------------------


def test_basic_api_requests_match_the_transcript_tokens_and_request_ids() -> None:
    calls = replay("basic").calls_from_logs()
    expected = _transcript_usage("basic")
    assert len(expected) == 4
    assert set(calls) == set(expected)
    for request_id, row in expected.items():
        call = calls[request_id]
        assert call.request_id == request_id
        assert _usage_row(call) == row
        assert call.message_id is None  # OTLP does not know it: left for the transcript
        assert call.model == "claude-opus-5-5"
        assert call.reported_cost_nusd is not None and call.reported_cost_nusd > 0
        assert call.prompt_id == "0a307393-62cf-485b-ad78-353dfa17352d"
        # OTLP says "normal"; the parser speaks the transcript's word (issue 12: not the writer).
        assert call.speed == "standard" and call.query_source == "sdk"
        assert call.duration_ms is not None and call.ttft_ms is not None
        assert call.response_text  # assistant_response merged in


def test_basic_spans_agree_with_the_logs_on_tokens() -> None:
    run = replay("basic")
    from_logs = run.calls_from_logs()
    from_spans = {call.call_id: call for call in run.all("llm_calls", "/v1/traces")}
    assert set(from_spans) == set(from_logs)
    for call_id, call in from_spans.items():
        assert _usage_row(call) == _usage_row(from_logs[call_id])  # not gen_ai.usage.input_tokens
        assert call.stop_reason in ("tool_use", "end_turn")
        assert call.ttft_ms is not None


def test_basic_reported_cost_is_cost_usd_in_nano_dollars() -> None:
    calls = replay("basic").calls_from_logs()
    # cost_usd doubleValue 0.0077800000000000005 → $0.00778 exactly
    assert calls["req_a9a9aa7c784d46b489c567e4"].reported_cost_nusd == 7_780_000
    assert sorted(call.reported_cost_nusd or 0 for call in calls.values()) == [
        6_495_200,  # 0.0064952
        7_138_200,  # 0.0071382
        7_780_000,
        66_137_000,  # 0.06613699999999999
    ]
    # cost_usd_micros says the same, rounded to micro-dollars
    for post in _posts("basic"):
        if post["path"] != "/v1/logs":
            continue
        for rl in post["body"]["resourceLogs"]:
            for rec in rl["scopeLogs"][0]["logRecords"]:
                attrs = {a["key"]: a["value"] for a in rec["attributes"]}
                if "cost_usd_micros" in attrs:
                    nusd = calls[attrs["request_id"]["stringValue"]].reported_cost_nusd or 0
                    assert abs(nusd - attrs["cost_usd_micros"]["intValue"] * 1000) <= 500


def test_basic_json_and_protobuf_captures_yield_the_same_records() -> None:
    json_run, pb_run = replay("basic"), replay("basic-protobuf")

    def shape(run: Replay) -> dict[str, int]:
        keys = {
            "sessions": "session_id",
            "prompts": "prompt_id",
            "llm_calls": "call_id",
            "tool_calls": "tool_use_id",
            "file_touches": "path",
            "subagents": "agent_id",
        }
        return {kind: len({getattr(r, key) for r in run.all(kind)}) for kind, key in keys.items()}

    assert (
        shape(json_run)
        == shape(pb_run)
        == {
            "sessions": 1,
            "prompts": 1,
            "llm_calls": 4,
            "tool_calls": 3,
            "file_touches": 1,
            "subagents": 0,
        }
    )

    def raw_kinds(run: Replay, source: str) -> Counter[str]:
        return Counter(e.kind for e in run.all("raw_events") if e.source == source)

    for source in (SOURCE_LOGS, SOURCE_TRACES):
        assert raw_kinds(json_run, source) == raw_kinds(pb_run, source)
    # Metric exports are cut at different moments in the two runs; the names are the same.
    assert set(raw_kinds(json_run, SOURCE_METRICS)) == set(raw_kinds(pb_run, SOURCE_METRICS))

    def tokens(run: Replay) -> list[tuple[tuple[int, int, int, int], int | None]]:
        return sorted((_usage_row(c), c.reported_cost_nusd) for c in run.calls_from_logs().values())

    assert tokens(json_run) == tokens(pb_run)
    for run in (json_run, pb_run):
        [prompt] = [p for p in run.all("prompts") if p.text]
        assert prompt.kind == "prompt" and prompt.line_uuid
        durations = [p.duration_ms for p in run.all("prompts") if p.duration_ms is not None]
        assert len(durations) == 1  # the interaction span, joined through the correlator


def test_protobuf_ids_are_lowercase_hex() -> None:
    run = replay("basic-protobuf")
    spans = [json.loads(e.payload) for e in run.all("raw_events") if e.source == SOURCE_TRACES]
    assert spans
    for span in spans:
        assert len(span["trace_id"]) == 32 and span["trace_id"] == span["trace_id"].lower()
        int(span["trace_id"], 16)
        assert len(span["span_id"]) == 16
        if span["name"] == "claude_code.llm_request":
            assert isinstance(span["attributes"]["input_tokens"], int)  # intValue "8" → 8


def test_grpc_messages_give_the_same_records_as_http_bodies() -> None:
    http, grpc = replay("basic"), replay("basic", grpc=True)
    for kind in ("sessions", "prompts", "llm_calls", "tool_calls", "file_touches", "raw_events"):
        assert http.all(kind) == grpc.all(kind), kind


def test_every_record_carries_its_session() -> None:
    for scenario in ("basic", "task", "taskbg", "fail", "denied", "compact", "apierror-fatal", "cwd"):
        run = replay(scenario)
        for kind in ("prompts", "llm_calls", "tool_calls", "file_touches", "subagents"):
            for record in run.all(kind):
                assert record.session_id, (scenario, kind, record)
        sessions = {s.session_id for s in run.all("sessions")}
        assert len(sessions) == 1, scenario
        for session in run.all("sessions"):
            assert session.agent == "claude-code" and session.version == "2.1.331"


def test_one_raw_event_per_log_record_span_and_metric_point() -> None:
    run = replay("basic")
    counts: Counter[str] = Counter()
    for post in _posts("basic"):
        body = post["body"]
        if post["path"] == "/v1/logs":
            counts[SOURCE_LOGS] += sum(
                len(s["logRecords"]) for r in body["resourceLogs"] for s in r["scopeLogs"]
            )
        elif post["path"] == "/v1/traces":
            counts[SOURCE_TRACES] += sum(
                len(s["spans"]) for r in body["resourceSpans"] for s in r["scopeSpans"]
            )
        else:
            counts[SOURCE_METRICS] += sum(
                len(m["sum"]["dataPoints"])
                for r in body["resourceMetrics"]
                for s in r["scopeMetrics"]
                for m in s["metrics"]
            )
    events = run.all("raw_events")
    assert Counter(e.source for e in events) == counts
    assert len({e.event_id for e in events}) == len(events)
    again = replay("basic").all("raw_events")
    assert [e.event_id for e in again] == [e.event_id for e in events]  # a re-sent export dedups
    for event in events:
        assert len(event.event_id) == 64 and event.received_ms == 1
        assert isinstance(json.loads(event.payload or ""), dict)
    api = [json.loads(e.payload or "") for e in events if e.kind == "api_request"]
    assert api and all(p["event.name"] == "api_request" and "trace_id" in p for p in api)


def test_metrics_stay_aggregates_and_name_the_session() -> None:
    run = replay("basic")
    metric_batches = [batch for path, batch in run.batches if path == "/v1/metrics"]
    assert all(not batch.llm_calls and not batch.prompts for batch in metric_batches)
    assert all(len(batch.sessions) == 1 for batch in metric_batches)
    tokens = [p for p in run.metric_points if p.name == "claude_code.token.usage"]
    assert tokens and all(p.temporality == "delta" and p.kind == "sum" for p in tokens)
    assert {p.attributes["type"] for p in tokens} == {"input", "output", "cacheRead", "cacheCreation"}
    assert all(p.session_id == "4cfb44b3-b7b3-4f2b-a630-8f07ab4e910a" for p in run.metric_points)
    # The deltas add up to what the api_request events say, which is why they are not LLM calls.
    output = sum(p.value or 0 for p in tokens if p.attributes["type"] == "output")
    assert output == sum(_usage_row(c)[1] for c in run.calls_from_logs().values())


def test_apierror_fatal_counts_the_failed_attempts_and_bills_nothing() -> None:
    run = replay("apierror-fatal")
    errors = [p.api_errors for p in run.all("prompts") if p.api_errors is not None]
    assert errors == [2]  # attempt 2 of 2 failed (529 twice)
    [prompt] = [p for p in run.all("prompts") if p.api_errors]
    assert prompt.prompt_id == "115506e2-2ec2-4c25-bc38-0d2f6c6dc5b6"
    assert run.all("llm_calls") == []  # the failed llm_request span has no tokens
    kinds = {e.kind for e in run.all("raw_events")}
    assert {"api_error", "api_retries_exhausted", "claude_code.llm_request"} <= kinds


def test_fail_tool_results_are_errors() -> None:
    run = replay("fail")
    by_source: dict[str, dict[str, Any]] = {}
    for path, batch in run.batches:
        for tool in batch.tool_calls:
            if tool.status is not None:
                by_source.setdefault(path, {})[tool.tool_use_id] = tool
    logs = by_source["/v1/logs"]
    assert {t.tool_name: t.status for t in logs.values()} == {"Bash": "error", "Read": "error"}
    # "Shell command failed" is telemetry's stand-in for the real error: it is not kept, so the
    # hook's and the transcript's actual text ("Exit code 3 …") is what the merge stores.
    assert logs["toolu_b77df43f9f754fefb3abf457"].error is None
    assert logs["toolu_2532b9d0bdbe46c380dd2437"].error.startswith("File does not exist")
    bash = logs["toolu_b77df43f9f754fefb3abf457"]
    assert bash.duration_ms == 57 and bash.input_json and json.loads(bash.input_json)["command"]
    spans = by_source["/v1/traces"]
    assert spans["toolu_b77df43f9f754fefb3abf457"].status == "error"  # tool.execution status code 2


def test_denied_tools() -> None:
    run = replay("denied")
    denied = {t.tool_use_id for t in run.all("tool_calls") if t.status == "denied"}
    assert denied == {"toolu_25df28bdc30d4c64ab234412", "toolu_741f9aa2175147c59dfdee71"}
    from_spans = {t.tool_use_id for t in run.all("tool_calls", "/v1/traces") if t.status == "denied"}
    assert from_spans == denied  # blocked_on_user(decision=reject) under the tool span
    assert not [t for t in run.all("tool_calls") if t.status in ("success", "error")]


def test_task_subagent_calls_carry_agent_id() -> None:
    run = replay("task")
    agent = "a55548a31f14b3a49"
    calls = run.calls_from_logs()
    sub_calls = {c.request_id for c in calls.values() if c.agent_id == agent}
    assert sub_calls == {"req_2536088c108740299564367a", "req_9847c556c6aa43289844c46a"}
    assert all(
        calls[r].is_sidechain and calls[r].query_source == "agent:builtin:general-purpose" for r in sub_calls
    )
    main = [c for c in calls.values() if c.agent_id is None]
    assert len(main) == 2 and not any(c.is_sidechain for c in main)
    # The transcript says the same: subagent lines carry agentId and the same request ids.
    assert set(_transcript_usage("task")) == set(calls)
    for call in calls.values():
        assert _usage_row(call) == _transcript_usage("task")[call.call_id]
    subagents = run.all("subagents")
    assert {s.agent_id for s in subagents} == {agent}
    assert "general-purpose" in {s.agent_type for s in subagents}
    parents = {s.parent_tool_use_id for s in subagents} - {None}
    assert parents == {"toolu_1e68dd1c3d664e42ac5f08d1"}
    # Traces alone place it: the subagent's spans hang under the Agent call's tool.execution span.
    assert parents == {s.parent_tool_use_id for s in run.all("subagents", "/v1/traces")} - {None}
    agent_tool = [t for t in run.all("tool_calls") if t.subagent_id]
    assert {t.tool_use_id for t in agent_tool} == {"toolu_1e68dd1c3d664e42ac5f08d1"}
    bash = [t for t in run.all("tool_calls") if t.tool_use_id == "toolu_ae4291f8a9e84910afda398c"]
    assert bash and all(t.agent_id in (agent, None) for t in bash) and any(t.agent_id == agent for t in bash)


def test_taskbg_task_notification_prompt() -> None:
    run = replay("taskbg")
    kinds = {p.prompt_id: p.kind for p in run.all("prompts") if p.kind}
    assert kinds == {
        "b30af720-4803-4892-97fa-9c5ebd7f1d76": "prompt",
        "032b204c-b842-4694-87ac-26dbaa5f67ce": "task_notification",
    }
    # Its interaction span came before the user_prompt log: the correlator still joins them.
    durations = {p.prompt_id for p in run.all("prompts") if p.duration_ms is not None}
    assert durations == set(kinds)
    [sub] = {s.parent_tool_use_id for s in run.all("subagents")} - {None}
    assert sub == "toolu_cb07ef7b5e454dccb08e1b9d"


def test_compact_command_and_compaction() -> None:
    run = replay("compact")
    [prompt] = [p for p in run.all("prompts") if p.text]
    assert (prompt.text, prompt.kind, prompt.line_uuid) == ("/compact", "command", None)
    [call] = run.calls_from_logs().values()
    assert call.query_source == "compact" and call.usage is not None
    assert [s.compactions for s in run.all("sessions") if s.compactions] == [1]
    assert {s.session_id for s in run.all("sessions")} == {"4cfb44b3-b7b3-4f2b-a630-8f07ab4e910a"}
