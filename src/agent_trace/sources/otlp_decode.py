"""OTLP requests (HTTP JSON, HTTP protobuf, gRPC messages) → plain Python views of logs, spans, metrics.

This layer only decodes: it knows OTLP, not Claude Code; `otlp.py` turns the views into canonical
records. Protobuf is walked directly rather than through `MessageToDict`, which is several times
slower (see `bench/otlp_decode.py`): the collector has to keep up with 20,000 log records a second.
Gzip is the server's business: bodies arrive here decompressed.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from typing import Any

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agent_trace.sources.otlp_json import decode_json
from agent_trace.sources.otlp_views import (
    JSON_CONTENT_TYPE,
    NANOS_PER_MS,
    PROTOBUF_CONTENT_TYPES,
    ROOT_KEYS,
    SIGNALS,
    STATUS_CODE_ERROR,
    TEMPORALITY,
    LogRecordView,
    MetricPoint,
    OtlpDecodeError,
    OtlpRequest,
    Signal,
    SpanEventView,
    SpanView,
    session_of,
)

__all__ = [
    "SIGNALS",
    "STATUS_CODE_ERROR",
    "LogRecordView",
    "MetricPoint",
    "OtlpDecodeError",
    "OtlpRequest",
    "Signal",
    "SpanEventView",
    "SpanView",
    "decode_message",
    "decode_request",
    "signal_of",
]

_MESSAGE_TYPES: dict[Signal, type] = {
    "logs": ExportLogsServiceRequest,
    "metrics": ExportMetricsServiceRequest,
    "traces": ExportTraceServiceRequest,
}


def signal_of(value: str) -> Signal:
    """`logs`, `/v1/logs` or `v1/logs` → `logs`; anything else is an OtlpDecodeError."""
    name = value.strip().rstrip("/").rsplit("/", 1)[-1].lower()
    for signal in SIGNALS:
        if name == signal:
            return signal
    raise OtlpDecodeError(f"unknown OTLP signal {value!r}: expected one of logs, metrics, traces")


def decode_request(signal: str, content_type: str, body: bytes) -> OtlpRequest:
    """Decode the (already decompressed) body of an OTLP/HTTP POST to /v1/<signal>.

    `content_type` may carry parameters (`application/json; charset=utf-8`). Raises
    OtlpDecodeError for an unknown signal, an unsupported content type or an undecodable body.
    """
    sig = signal_of(signal)
    media = content_type.split(";", 1)[0].strip().lower() if content_type else ""
    if media == JSON_CONTENT_TYPE:
        return decode_json(sig, body)
    if media in PROTOBUF_CONTENT_TYPES:
        return _decode_protobuf(sig, body)
    shown = content_type or "(none)"
    raise OtlpDecodeError(
        f"unsupported content type {shown!r} for OTLP {sig}: send application/json or application/x-protobuf"
    )


def decode_message(signal: str, message: Any) -> OtlpRequest:
    """Views of an already-parsed Export{Logs,Metrics,Trace}ServiceRequest (what gRPC hands over)."""
    sig = signal_of(signal)
    expected = _MESSAGE_TYPES[sig]
    if not isinstance(message, expected):
        raise OtlpDecodeError(f"OTLP {sig} expects a {expected.__name__}, got {type(message).__name__}")
    if sig == "logs":
        return OtlpRequest(sig, logs=_pb_logs(message))
    if sig == "traces":
        return OtlpRequest(sig, spans=_pb_spans(message))
    return OtlpRequest(sig, metrics=_pb_metrics(message))


# --------------------------------------------------------------------------------------------
# protobuf


def _decode_protobuf(sig: Signal, body: bytes) -> OtlpRequest:
    message = _MESSAGE_TYPES[sig]()
    try:
        message.ParseFromString(bytes(body))
    except (DecodeError, RuntimeError, ValueError) as exc:
        raise OtlpDecodeError(
            f"OTLP {sig} body is not a valid protobuf {type(message).__name__} ({len(body)} bytes): {exc}"
        ) from exc
    if body and not message.ListFields():
        # Bytes that happen to parse as nothing but unknown fields are not an export request.
        raise OtlpDecodeError(
            f"OTLP {sig} protobuf body ({len(body)} bytes) holds no {ROOT_KEYS[sig]}: "
            f"not a {type(message).__name__}"
        )
    return decode_message(sig, message)


def _pb_value(value: Any) -> Any:
    which = value.WhichOneof("value")
    if which == "string_value":
        return value.string_value
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bool_value":
        return value.bool_value
    if which == "array_value":
        return [_pb_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _pb_value(kv.value) for kv in value.kvlist_value.values}
    if which == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return None


def _pb_attrs(attributes: Iterable[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kv in attributes:
        value = kv.value
        if value.WhichOneof("value") == "string_value":  # most attributes: skip the general case
            out[kv.key] = value.string_value
        else:
            out[kv.key] = _pb_value(value)
    return out


def _pb_ms(nanos: int) -> int | None:
    return nanos // NANOS_PER_MS if nanos > 0 else None


def _pb_logs(message: Any) -> list[LogRecordView]:
    out: list[LogRecordView] = []
    append = out.append
    for resource_logs in message.resource_logs:
        resource = _pb_attrs(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope = scope_logs.scope.name or None
            for rec in scope_logs.log_records:
                nanos = rec.time_unix_nano
                observed = rec.observed_time_unix_nano
                append(
                    LogRecordView(
                        nanos // NANOS_PER_MS if nanos > 0 else None,
                        observed // NANOS_PER_MS if observed > 0 else None,
                        _pb_value(rec.body) if rec.HasField("body") else None,
                        _pb_attrs(rec.attributes),
                        resource,
                        scope,
                        rec.trace_id.hex() or None,
                        rec.span_id.hex() or None,
                        rec.event_name or None,
                    )
                )
    return out


def _pb_spans(message: Any) -> list[SpanView]:
    out: list[SpanView] = []
    for resource_spans in message.resource_spans:
        resource = _pb_attrs(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            scope = scope_spans.scope.name or None
            for span in scope_spans.spans:
                events = [
                    SpanEventView(event.name, _pb_ms(event.time_unix_nano), _pb_attrs(event.attributes))
                    for event in span.events
                ]
                out.append(
                    SpanView(
                        span.trace_id.hex() or None,
                        span.span_id.hex() or None,
                        span.parent_span_id.hex() or None,
                        span.name,
                        span.kind,
                        _pb_ms(span.start_time_unix_nano),
                        _pb_ms(span.end_time_unix_nano),
                        span.status.code,
                        span.status.message or None,
                        _pb_attrs(span.attributes),
                        events,
                        resource,
                        scope,
                    )
                )
    return out


def _pb_metrics(message: Any) -> list[MetricPoint]:
    out: list[MetricPoint] = []
    for resource_metrics in message.resource_metrics:
        resource = _pb_attrs(resource_metrics.resource.attributes)
        resource_session = session_of(resource)
        for scope_metrics in resource_metrics.scope_metrics:
            scope = scope_metrics.scope.name or None
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind is None:
                    continue
                data = getattr(metric, kind)
                temporality = TEMPORALITY.get(getattr(data, "aggregation_temporality", 0))
                monotonic = data.is_monotonic if kind == "sum" else None
                for point in data.data_points:
                    attrs = _pb_attrs(point.attributes)
                    value: float | int | None
                    count: int | None = None
                    if kind in ("sum", "gauge"):
                        which = point.WhichOneof("value")
                        value = point.as_int if which == "as_int" else point.as_double if which else None
                    else:
                        value = point.sum if kind == "summary" or point.HasField("sum") else None
                        count = point.count
                    out.append(
                        MetricPoint(
                            metric.name,
                            kind,
                            metric.unit or None,
                            value,
                            count,
                            _pb_ms(point.start_time_unix_nano),
                            _pb_ms(point.time_unix_nano),
                            temporality,
                            monotonic,
                            attrs,
                            resource,
                            scope,
                            session_of(attrs) or resource_session,
                        )
                    )
    return out
