"""OTLP spans and metric points → canonical records (see `otlp.py` for the rules).

Spans: `claude_code.llm_request` → LlmCall (tokens, ttft, stop reason); `claude_code.tool` and
`claude_code.tool.execution` → ToolCall (status, timing, output) and FileTouch;
`claude_code.tool.blocked_on_user` → a denial; `claude_code.interaction` → the prompt's duration.
Metric points are aggregates: they only name sessions here.
"""

from __future__ import annotations

from typing import Any

from agent_trace.domain.records import FileTouch, LlmCall, Prompt, Subagent, ToolCall, ToolStatus, llm_call_id
from agent_trace.domain.tools import SUBAGENT_TOOLS, file_touches
from agent_trace.sources.otlp_build import (
    DENIED_DECISIONS,
    Builder,
    as_bool,
    as_int,
    as_str,
    as_text,
    make_usage,
    speed_of,
    stretch,
)
from agent_trace.sources.otlp_join import OtlpCorrelator
from agent_trace.sources.otlp_views import STATUS_CODE_ERROR, MetricPoint, SpanView


def _span_session(span: SpanView) -> str | None:
    attrs = span.attributes
    sid = as_str(attrs.get("session.id")) or as_str(span.resource.get("session.id"))
    if sid is None:
        # Subagent spans name the agent in gen_ai.conversation.id: only a main-thread id will do.
        conversation = as_str(attrs.get("gen_ai.conversation.id"))
        if conversation is not None and conversation != as_str(attrs.get("agent_id")):
            sid = conversation
    return sid


def _span_payload(span: SpanView) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "name": span.name,
        "kind": span.kind,
        "trace_id": span.trace_id,
        "span_id": span.span_id,
        "parent_span_id": span.parent_span_id,
        "start_ms": span.start_ms,
        "end_ms": span.end_ms,
        "status": span.status_code,
        "attributes": span.attributes,
    }
    if span.status_message is not None:
        payload["status_message"] = span.status_message
    if span.events:
        payload["events"] = [
            {"name": event.name, "ts_ms": event.time_ms, "attributes": event.attributes}
            for event in span.events
        ]
    return payload


def normalize_spans(b: Builder, spans: list[SpanView], correlator: OtlpCorrelator | None) -> None:
    family = _Family(spans)
    for span in spans:
        sid = _span_session(span)
        b.raw_event(f"{span.trace_id}|{span.span_id}", _span_payload(span), sid, span.start_ms, span.name)
        if sid is None:
            continue
        session = b.session(sid, span.resource, span.attributes, span.scope)
        stretch(session, span.start_ms)
        stretch(session, span.end_ms)
        name = span.name
        if name == "claude_code.llm_request":
            _on_llm_request(b, span, sid)
        elif name == "claude_code.tool":
            _on_tool_span(b, span, sid)
        elif name == "claude_code.tool.execution":
            _on_tool_execution(b, span, sid, correlator)
        elif name == "claude_code.tool.blocked_on_user":
            decision = (as_str(span.attributes.get("decision")) or "").lower()
            parent = family.tool_by_span.get(span.parent_span_id or "")
            if decision in DENIED_DECISIONS and parent is not None:
                b.tool(ToolCall(parent, sid, status="denied"))
        elif name == "claude_code.interaction":
            _on_interaction(b, span, correlator)
        agent_id = as_str(span.attributes.get("agent_id"))
        if agent_id is not None:
            parent_call = family.agent_call_above(span)
            if parent_call is not None:
                b.link_subagent(sid, agent_id, parent_call)


class _Family:
    """Parent links inside one request (children come first, so only a lookup table will do).

    A denial is reported by `tool.blocked_on_user`, whose parent `claude_code.tool` span has the
    tool_use_id. A subagent's spans hang under the Agent call's `tool.execution` span, whose own
    parent `claude_code.tool` span names the tool: only an Agent/Task parent makes it a subagent
    (a tool inside the subagent can make model calls of its own).
    """

    def __init__(self, spans: list[SpanView]) -> None:
        self.tool_by_span: dict[str, str] = {}
        self.execution_by_span: dict[str, str] = {}
        self.agent_calls: set[str] = set()
        for span in spans:
            if span.span_id is None:
                continue
            if span.name == "claude_code.tool":
                tool_use_id = _tool_use_id(span.attributes)
                if tool_use_id is not None:
                    self.tool_by_span[span.span_id] = tool_use_id
                    if _tool_name(span.attributes) in SUBAGENT_TOOLS:
                        self.agent_calls.add(tool_use_id)
            elif span.name == "claude_code.tool.execution":
                tool_use_id = _tool_use_id(span.attributes)
                if tool_use_id is not None:
                    self.execution_by_span[span.span_id] = tool_use_id

    def agent_call_above(self, span: SpanView) -> str | None:
        tool_use_id = self.execution_by_span.get(span.parent_span_id or "")
        return tool_use_id if tool_use_id in self.agent_calls else None


def _tool_use_id(attrs: dict[str, Any]) -> str | None:
    return as_str(attrs.get("tool_use_id")) or as_str(attrs.get("gen_ai.tool.call.id"))


def _tool_name(attrs: dict[str, Any]) -> str | None:
    return as_str(attrs.get("tool_name")) or as_str(attrs.get("gen_ai.tool.name"))


def _query_source(attrs: dict[str, Any]) -> str | None:
    source = as_str(attrs.get("query_source"))
    if source is None:
        # Spans carry a sanitised copy, `agent.builtin.general-purpose` for the logs'
        # `agent:builtin:general-purpose`: spell it like the logs so that both merge.
        safe = as_str(attrs.get("query_source_safe"))
        if safe is not None and safe.startswith("agent."):
            return safe.replace(".", ":", 2)
        return safe
    return source


def _on_llm_request(b: Builder, span: SpanView, sid: str) -> None:
    a = span.attributes
    request_id = as_str(a.get("request_id")) or as_str(a.get("gen_ai.response.id"))
    call_id = llm_call_id(None, request_id)
    if call_id is None:
        return
    input_tokens = as_int(a.get("input_tokens"))
    output_tokens = as_int(a.get("output_tokens"))
    cache_read = as_int(a.get("cache_read_tokens"))
    cache_creation = as_int(a.get("cache_creation_tokens"))
    if input_tokens is None and output_tokens is None:
        # Only the GenAI names: their input_tokens include both cache counts.
        cache_read = as_int(a.get("gen_ai.usage.cache_read.input_tokens"))
        cache_creation = as_int(a.get("gen_ai.usage.cache_write.input_tokens"))
        output_tokens = as_int(a.get("gen_ai.usage.output_tokens"))
        total_input = as_int(a.get("gen_ai.usage.input_tokens"))
        if total_input is not None:
            input_tokens = max(total_input - (cache_read or 0) - (cache_creation or 0), 0)
    usage = make_usage(
        input_tokens,
        output_tokens,
        cache_read,
        cache_creation,
        as_int(a.get("cache_creation_5m_tokens")),
        as_int(a.get("cache_creation_1h_tokens")),
    )
    if usage is None and (span.status_code == STATUS_CODE_ERROR or as_bool(a.get("success")) is False):
        return  # a failed request: nothing billed, and the raw event keeps the error
    stop_reason = as_str(a.get("stop_reason"))
    if stop_reason is None:
        reasons = a.get("gen_ai.response.finish_reasons")
        stop_reason = as_str(reasons[0]) if isinstance(reasons, list) and reasons else None
    agent_id = as_str(a.get("agent_id"))
    b.call(
        LlmCall(
            call_id,
            sid,
            request_id=request_id,
            agent_id=agent_id,
            model=as_str(a.get("gen_ai.response.model"))
            or as_str(a.get("model"))
            or as_str(a.get("gen_ai.request.model")),
            ts_ms=span.end_ms or span.start_ms,  # when the response was complete, like api_request
            usage=usage,
            is_sidechain=agent_id is not None,
            speed=speed_of(a),
            stop_reason=stop_reason,
            query_source=_query_source(a),
            duration_ms=as_int(a.get("duration_ms")),
            ttft_ms=as_int(a.get("ttft_ms")),
        )
    )
    if agent_id is not None:
        b.subagent(Subagent(sid, agent_id))


def _on_tool_span(b: Builder, span: SpanView, sid: str) -> None:
    a = span.attributes
    tool_use_id = _tool_use_id(a)
    if tool_use_id is None:
        return
    tool_name = _tool_name(a)
    failed = span.status_code == STATUS_CODE_ERROR
    output = None
    for event in span.events:
        if event.name == "tool.output":
            output = as_text(event.attributes.get("output"))
    # The span covers the permission wait too, so its duration is not the tool's run time.
    b.tool(
        ToolCall(
            tool_use_id,
            sid,
            tool_name=tool_name,
            agent_id=as_str(a.get("agent_id")),
            started_ms=span.start_ms,
            ended_ms=span.end_ms,
            status="error" if failed else None,
            error=span.status_message if failed else None,
            output_text=output,
        )
    )
    path = as_text(a.get("file_path"))
    if path is not None and tool_name is not None:
        for touched, op in file_touches(tool_name, {"file_path": path}):
            b.touch(FileTouch(tool_use_id, touched, op, sid, span.start_ms))


def _on_tool_execution(b: Builder, span: SpanView, sid: str, correlator: OtlpCorrelator | None) -> None:
    a = span.attributes
    tool_use_id = _tool_use_id(a)
    if tool_use_id is None:
        return
    success = as_bool(a.get("success"))
    status: ToolStatus | None = None
    if span.status_code == STATUS_CODE_ERROR or success is False:
        status = "error"
    elif success:
        status = "success"
    duration = as_int(a.get("duration_ms"))
    if duration is None and span.start_ms is not None and span.end_ms is not None:
        duration = span.end_ms - span.start_ms
    error = None
    if status == "error":
        error = as_text(a.get("error")) or span.status_message or as_str(a.get("error.type"))
    b.tool(
        ToolCall(
            tool_use_id,
            sid,
            started_ms=span.start_ms,
            ended_ms=span.end_ms,
            duration_ms=duration,
            status=status,
            error=error,
        )
    )
    if correlator is not None and span.trace_id and span.span_id:
        agent_id = correlator.tool_execution(span.trace_id, span.span_id, tool_use_id)
        if agent_id is not None:
            b.link_subagent(sid, agent_id, tool_use_id)


def _on_interaction(b: Builder, span: SpanView, correlator: OtlpCorrelator | None) -> None:
    # The span has no prompt id: only its duration is new, and only the correlator can place it.
    # Text, kind and time come from the user_prompt log, which has the id.
    if correlator is None or not span.trace_id or not span.span_id:
        return
    duration = as_int(span.attributes.get("interaction.duration_ms"))
    if duration is None and span.start_ms is not None and span.end_ms is not None:
        duration = span.end_ms - span.start_ms
    if duration is None:
        return
    found = correlator.interaction(span.trace_id, span.span_id, duration)
    if found is not None:
        b.prompt(Prompt(found[1], found[0], duration_ms=duration))


def normalize_metric_point(b: Builder, point: MetricPoint) -> None:
    payload: dict[str, Any] = {
        "name": point.name,
        "kind": point.kind,
        "unit": point.unit,
        "value": point.value,
        "start_ms": point.start_ms,
        "ts_ms": point.ts_ms,
        "temporality": point.temporality,
        "attributes": point.attributes,
    }
    if point.count is not None:
        payload["count"] = point.count
    key = f"{point.name}|{point.start_ms}|{point.ts_ms}"
    b.raw_event(key, payload, point.session_id, point.ts_ms, point.name)
    if point.session_id is not None:
        b.session(point.session_id, point.resource, point.attributes, point.scope)
