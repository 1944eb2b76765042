"""Claude Code's OpenTelemetry (logs, traces, metrics) → canonical records. Pure: no I/O, no clock.

    result = parse_request("logs", content_type, body, received_ms=now_ms, correlator=shared)
    result.batch          # RecordBatch: sessions, prompts, llm calls, tool calls, … and raw events
    result.metric_points  # metric data points, kept apart: they are aggregates

Rules (see the Claude Code data reference, §4 OpenTelemetry):
* Only what an event really says is filled in; the rest stays None so that a store merging the
  same fact from hooks and transcripts keeps the union. Records with one key met twice in a request
  (api_request + assistant_response, tool_decision + tool_result, …) are merged here already.
* Tokens come from `api_request` logs and `llm_request` spans, keyed by request id like the
  transcript's. `claude_code.token.usage` / `cost.usage` metrics are sums over those same calls,
  so they are never turned into LLM calls (that would count every token twice).
* `gen_ai.usage.input_tokens` on spans includes both cache counts: the explicit fields are used.
* Spans arrive children first, in any request: nothing depends on seeing a parent. The two joins
  that need another request (interaction → prompt id, subagent → parent tool call) go through an
  optional `OtlpCorrelator` shared by the collector's OTLP endpoints.
* Every log record, span and metric point also becomes a RawEvent. Text stays in the record
  fields (Prompt.text, LlmCall.response_text, ToolCall.input_json/output_text/error) and in the
  raw payloads; the writer applies the privacy tier and secret redaction afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from agent_trace.domain.records import (
    Commit,
    FileTouch,
    LlmCall,
    Prompt,
    RecordBatch,
    Subagent,
    ToolCall,
    ToolStatus,
    llm_call_id,
)
from agent_trace.domain.timeutil import parse_iso_ms
from agent_trace.domain.tools import file_touches
from agent_trace.sources import codex_otel, gemini_otel, opencode_otel, qwen_otel
from agent_trace.sources.otlp_build import (
    DENIED_DECISIONS,
    Builder,
    as_bool,
    as_int,
    as_str,
    as_text,
    make_usage,
    prompt_kind,
    reported_cost,
    speed_of,
    stretch,
)
from agent_trace.sources.otlp_decode import (
    LogRecordView,
    MetricPoint,
    OtlpDecodeError,
    OtlpRequest,
    decode_message,
    decode_request,
)
from agent_trace.sources.otlp_join import OtlpCorrelator
from agent_trace.sources.otlp_spans import normalize_metric_point, normalize_spans

__all__ = [
    "SOURCE_LOGS",
    "SOURCE_METRICS",
    "SOURCE_TRACES",
    "MetricPoint",
    "OtlpCorrelator",
    "OtlpDecodeError",
    "OtlpRequest",
    "OtlpResult",
    "decode_message",
    "decode_request",
    "normalize",
    "parse_message",
    "parse_request",
]

SOURCE_LOGS = "otlp-logs"
SOURCE_TRACES = "otlp-traces"
SOURCE_METRICS = "otlp-metrics"

_EVENT_PREFIX = "claude_code."


@dataclass(slots=True)
class OtlpResult:
    batch: RecordBatch
    # Aggregates (token.usage, cost.usage, lines_of_code.count, …) for the server to keep or drop.
    metric_points: list[MetricPoint] = field(default_factory=list)


def parse_request(
    signal: str,
    content_type: str,
    body: bytes,
    *,
    received_ms: int,
    correlator: OtlpCorrelator | None = None,
) -> OtlpResult:
    """Decode an OTLP/HTTP body and normalise it. Raises OtlpDecodeError for an unusable body."""
    request = decode_request(signal, content_type, body)
    return normalize(request, received_ms=received_ms, correlator=correlator)


def parse_message(
    signal: str, message: Any, *, received_ms: int, correlator: OtlpCorrelator | None = None
) -> OtlpResult:
    """Normalise an already-parsed gRPC Export*ServiceRequest."""
    return normalize(decode_message(signal, message), received_ms=received_ms, correlator=correlator)


def normalize(
    request: OtlpRequest, *, received_ms: int, correlator: OtlpCorrelator | None = None
) -> OtlpResult:
    """Canonical records for one decoded request. `received_ms` stamps the raw events."""
    if request.signal == "logs":
        builder = Builder(SOURCE_LOGS, received_ms)
        for rec in request.logs:
            _log_record(builder, rec, correlator)
        return OtlpResult(builder.finish())
    if request.signal == "traces":
        builder = Builder(SOURCE_TRACES, received_ms)
        normalize_spans(builder, request.spans, correlator)
        return OtlpResult(builder.finish())
    builder = Builder(SOURCE_METRICS, received_ms)
    for point in request.metrics:
        normalize_metric_point(builder, point)
    return OtlpResult(builder.finish(), list(request.metrics))


# --------------------------------------------------------------------------------------------
# logs


def _event_name(rec: LogRecordView) -> str:
    name = rec.attributes.get("event.name")
    if isinstance(name, str) and name:
        return name
    body = rec.body
    if isinstance(body, str) and body.startswith(_EVENT_PREFIX):
        return body[len(_EVENT_PREFIX) :]
    if rec.event_name:
        return rec.event_name.removeprefix(_EVENT_PREFIX)
    return body if isinstance(body, str) else ""


def _log_record(b: Builder, rec: LogRecordView, correlator: OtlpCorrelator | None) -> None:
    attrs = rec.attributes
    name = _event_name(rec)
    sid = as_str(attrs.get("session.id")) or as_str(rec.resource.get("session.id"))
    codex = name.startswith(codex_otel.EVENT_PREFIX)
    if codex and sid is None:
        sid = codex_otel.session_id_of(attrs)
    ts = rec.time_ms or parse_iso_ms(attrs.get("event.timestamp")) or rec.observed_ms
    payload = attrs
    if rec.trace_id is not None:
        payload = {**attrs, "trace_id": rec.trace_id, "span_id": rec.span_id}
    b.raw_event(f"{sid}|{name}|{attrs.get('event.sequence')}|{ts}", payload, sid, ts, name)
    if sid is None:
        return  # every canonical record needs its session
    session = b.session(sid, rec.resource, attrs, rec.scope)
    stretch(session, ts)
    if codex:
        codex_otel.on_log(b, rec, name, sid, ts)
        return
    if name.startswith(gemini_otel.EVENT_PREFIX):
        gemini_otel.on_log(b, rec, name, sid, ts)
        return
    if name.startswith(qwen_otel.EVENT_PREFIX):
        qwen_otel.on_log(b, rec, name, sid, ts)
        return
    if name.startswith(opencode_otel.EVENT_PREFIX):
        opencode_otel.on_log(b, rec, name, sid, ts)
        return
    handler = _LOG_HANDLERS.get(name)
    if handler is not None:
        handler(b, rec, attrs, sid, ts, correlator)
    sha = as_str(attrs.get("git_commit_id"))
    if sha is not None and sha not in b.commits:
        b.commits[sha] = Commit(sha, session_id=sid, ts_ms=ts)


def _on_user_prompt(
    b: Builder, rec: LogRecordView, a: dict[str, Any], sid: str, ts: int | None, c: OtlpCorrelator | None
) -> None:
    pid = as_str(a.get("prompt.id"))
    if pid is None:
        return
    text = as_text(a.get("prompt")) or as_text(a.get("prompt_text"))
    kind = prompt_kind(text, a.get("command_name"))
    if text is not None and kind is None:
        return  # Claude Code's own bookkeeping text, not a turn
    b.prompt(Prompt(pid, sid, ts_ms=ts, kind=kind, text=text, line_uuid=as_str(a.get("message.uuid"))))
    if c is not None and rec.trace_id and rec.span_id:
        duration = c.user_prompt(rec.trace_id, rec.span_id, sid, pid)
        if duration is not None:
            b.prompt(Prompt(pid, sid, duration_ms=duration))


def _on_api_request(
    b: Builder, rec: LogRecordView, a: dict[str, Any], sid: str, ts: int | None, c: OtlpCorrelator | None
) -> None:
    request_id = as_str(a.get("request_id"))
    call_id = llm_call_id(None, request_id)
    if call_id is None:
        return
    agent_id = as_str(a.get("agent_id"))
    usage = make_usage(
        as_int(a.get("input_tokens")),
        as_int(a.get("output_tokens")),
        as_int(a.get("cache_read_tokens")),
        as_int(a.get("cache_creation_tokens")),
        as_int(a.get("cache_creation_5m_tokens")),
        as_int(a.get("cache_creation_1h_tokens")),
    )
    b.call(
        LlmCall(
            call_id,
            sid,
            request_id=request_id,
            agent_id=agent_id,
            prompt_id=as_str(a.get("prompt.id")),
            model=as_str(a.get("model")),
            ts_ms=ts,
            usage=usage,
            is_sidechain=agent_id is not None,
            reported_cost_nusd=reported_cost(a),
            speed=speed_of(a),
            query_source=as_str(a.get("query_source")),
            duration_ms=as_int(a.get("duration_ms")),
            ttft_ms=as_int(a.get("ttft_ms")),
        )
    )
    if agent_id is not None:
        b.subagent(Subagent(sid, agent_id, agent_type=as_str(a.get("agent.name"))))


def _on_assistant_response(
    b: Builder, rec: LogRecordView, a: dict[str, Any], sid: str, ts: int | None, c: OtlpCorrelator | None
) -> None:
    request_id = as_str(a.get("request_id"))
    call_id = llm_call_id(None, request_id)
    if call_id is None:
        return
    agent_id = as_str(a.get("agent_id"))
    b.call(
        LlmCall(
            call_id,
            sid,
            request_id=request_id,
            agent_id=agent_id,
            prompt_id=as_str(a.get("prompt.id")),
            model=as_str(a.get("model")),
            ts_ms=ts,
            is_sidechain=agent_id is not None,
            query_source=as_str(a.get("query_source")),
            response_text=as_text(a.get("response")),
        )
    )


def _on_tool_decision(
    b: Builder, rec: LogRecordView, a: dict[str, Any], sid: str, ts: int | None, c: OtlpCorrelator | None
) -> None:
    tool_use_id = as_str(a.get("tool_use_id"))
    if tool_use_id is None:
        return
    decision = (as_str(a.get("decision")) or "").lower()
    b.tool(
        ToolCall(
            tool_use_id,
            sid,
            tool_name=as_str(a.get("tool_name")),
            agent_id=as_str(a.get("agent_id")),
            prompt_id=as_str(a.get("prompt.id")),
            call_id=llm_call_id(None, as_str(a.get("request_id"))),
            status="denied" if decision in DENIED_DECISIONS else None,
        )
    )
    mode = as_str(a.get("permission_mode"))
    if mode is not None:
        b.sessions[sid].permission_mode = mode


def _on_tool_result(
    b: Builder, rec: LogRecordView, a: dict[str, Any], sid: str, ts: int | None, c: OtlpCorrelator | None
) -> None:
    tool_use_id = as_str(a.get("tool_use_id"))
    if tool_use_id is None:
        return
    tool_name = as_str(a.get("tool_name"))
    success = as_bool(a.get("success"))
    status: ToolStatus | None = None if success is None else "success" if success else "error"
    duration = as_int(a.get("duration_ms"))
    input_json = as_text(a.get("tool_input"))
    b.tool(
        ToolCall(
            tool_use_id,
            sid,
            tool_name=tool_name,
            agent_id=as_str(a.get("agent_id")),
            prompt_id=as_str(a.get("prompt.id")),
            call_id=llm_call_id(None, as_str(a.get("request_id"))),
            started_ms=ts - duration if ts is not None and duration is not None else None,
            ended_ms=ts,
            duration_ms=duration,
            status=status,
            error=_useful_error(a, status),
            input_json=input_json,
        )
    )
    if input_json is not None and tool_name is not None:
        try:
            tool_input = orjson.loads(input_json)
        except orjson.JSONDecodeError:
            return
        for path, op in file_touches(tool_name, tool_input):
            b.touch(FileTouch(tool_use_id, path, op, sid, ts))


def _on_api_error(
    b: Builder, rec: LogRecordView, a: dict[str, Any], sid: str, ts: int | None, c: OtlpCorrelator | None
) -> None:
    pid = as_str(a.get("prompt.id"))
    if pid is None:
        return  # cannot be joined to a turn
    # Failed attempts of the turn: Claude Code logs one api_error for the final failure, whose
    # `attempt` says how many tries failed; several events in one request count at least as many.
    key = (sid, pid)
    counted = b.api_errors.get(key, 0) + 1
    attempts = as_int(a.get("attempt")) or as_int(a.get("total_attempts")) or 0
    b.api_errors[key] = max(counted, attempts)


def _on_retries_exhausted(
    b: Builder, rec: LogRecordView, a: dict[str, Any], sid: str, ts: int | None, c: OtlpCorrelator | None
) -> None:
    pid = as_str(a.get("prompt.id"))
    attempts = as_int(a.get("total_attempts"))
    if pid is not None and attempts is not None and attempts > 0:
        key = (sid, pid)
        b.api_errors[key] = max(b.api_errors.get(key, 0), attempts)


def _on_subagent_completed(
    b: Builder, rec: LogRecordView, a: dict[str, Any], sid: str, ts: int | None, c: OtlpCorrelator | None
) -> None:
    agent_id = as_str(a.get("agent_id"))
    if agent_id is None:
        return
    duration = as_int(a.get("duration_ms"))
    b.subagent(
        Subagent(
            sid,
            agent_id,
            agent_type=as_str(a.get("agent_type")),
            prompt_id=as_str(a.get("prompt.id")),
            model=as_str(a.get("final_model")) or as_str(a.get("model")),
            started_ms=ts - duration if ts is not None and duration is not None else None,
            ended_ms=ts,
        )
    )
    if c is not None and rec.trace_id and rec.span_id:
        tool_use_id = c.subagent_completed(rec.trace_id, rec.span_id, agent_id)
        if tool_use_id is not None:
            b.link_subagent(sid, agent_id, tool_use_id)


def _on_compaction(
    b: Builder, rec: LogRecordView, a: dict[str, Any], sid: str, ts: int | None, c: OtlpCorrelator | None
) -> None:
    if as_bool(a.get("success")) is not False:
        # Session.compactions is max-merged: a count over one request is a safe lower bound.
        b.compactions[sid] = b.compactions.get(sid, 0) + 1


_LOG_HANDLERS = {
    "user_prompt": _on_user_prompt,
    "api_request": _on_api_request,
    "assistant_response": _on_assistant_response,
    "tool_decision": _on_tool_decision,
    "tool_result": _on_tool_result,
    "api_error": _on_api_error,
    "api_retries_exhausted": _on_retries_exhausted,
    "subagent_completed": _on_subagent_completed,
    "compaction": _on_compaction,
}


# Messages Claude Code's telemetry sends in place of the real error; the hook and the transcript
# carry the tool's actual output ("Exit code 3 …"), so these must not outrank it in a merge.
_GENERIC_ERRORS = frozenset({"Shell command failed"})


def _useful_error(attrs: dict[str, Any], status: str | None) -> str | None:
    text = as_text(attrs.get("error"))
    if text and text not in _GENERIC_ERRORS:
        return text
    if status == "error" and not text:
        return as_str(attrs.get("error_type"))
    return None
