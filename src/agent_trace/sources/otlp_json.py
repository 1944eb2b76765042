"""OTLP/JSON bodies → views. Lenient inside (a malformed record is skipped), strict at the top."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from agent_trace.sources.otlp_views import (
    ENUM_NAMES,
    HEX_DIGITS,
    NANOS_PER_MS,
    ROOT_KEYS,
    TEMPORALITY,
    LogRecordView,
    MetricKind,
    MetricPoint,
    OtlpDecodeError,
    OtlpRequest,
    Signal,
    SpanEventView,
    SpanView,
    session_of,
)


def decode_json(sig: Signal, body: bytes) -> OtlpRequest:
    """Views of an OTLP/JSON body (also accepts protobuf's JSON mapping: base64 ids, enum names)."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise OtlpDecodeError(f"OTLP {sig} body is not valid JSON ({len(body)} bytes): {exc}") from exc
    return decode_json_document(sig, doc)


def decode_json_document(sig: Signal, doc: Any) -> OtlpRequest:
    """Views of an already-parsed OTLP/JSON document (a dict, as `MessageToDict` also returns)."""
    if not isinstance(doc, dict):
        raise OtlpDecodeError(f"OTLP {sig} JSON body must be an object, got {type(doc).__name__}")
    root = ROOT_KEYS[sig]
    items = doc.get(root)
    if items is None:
        items = doc.get(_snake(root))
    if items is None:
        for other, key in ROOT_KEYS.items():
            if other != sig and (key in doc or _snake(key) in doc):
                raise OtlpDecodeError(f"OTLP {sig} body holds {key}: it was sent to the wrong endpoint")
        return OtlpRequest(sig)
    if not isinstance(items, list):
        raise OtlpDecodeError(f"OTLP {sig} JSON field {root} must be an array, got {type(items).__name__}")
    if sig == "logs":
        return OtlpRequest(sig, logs=_json_logs(items))
    if sig == "traces":
        return OtlpRequest(sig, spans=_json_spans(items))
    return OtlpRequest(sig, metrics=_json_metrics(items))


def _snake(camel: str) -> str:
    return "".join("_" + ch.lower() if ch.isupper() else ch for ch in camel)


def _json_list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        value = obj.get(_snake(key))
    return value if isinstance(value, list) else []


def _json_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _json_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)  # also "NaN" and "Infinity", as protobuf's JSON mapping writes them
        except ValueError:
            return None
    return None


def _json_value(value: Any) -> Any:
    if type(value) is not dict:
        return None
    for kind, inner in value.items():
        if kind == "stringValue":
            return inner if isinstance(inner, str) else None
        if kind == "intValue":
            return _json_int(inner)
        if kind == "doubleValue":
            return _json_float(inner)
        if kind == "boolValue":
            return inner if isinstance(inner, bool) else None
        if kind == "arrayValue":
            values = inner.get("values") if isinstance(inner, dict) else None
            return [_json_value(item) for item in values] if isinstance(values, list) else []
        if kind == "kvlistValue":
            values = inner.get("values") if isinstance(inner, dict) else None
            return _json_attrs(values)
        if kind == "bytesValue":
            return inner if isinstance(inner, str) else None
    return None


def _json_attrs(attributes: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if type(attributes) is not list:
        return out
    for kv in attributes:
        if type(kv) is not dict:
            continue
        key = kv.get("key")
        if type(key) is not str:
            continue
        value = kv.get("value")
        if type(value) is dict:
            text = value.get("stringValue")  # most attributes: skip the general case
            if type(text) is str:
                out[key] = text
                continue
        out[key] = _json_value(value)
    return out


def _json_ms(value: Any) -> int | None:
    nanos = _json_int(value)
    return nanos // NANOS_PER_MS if nanos is not None and nanos > 0 else None


def _json_id(value: Any) -> str | None:
    """Hex per OTLP/JSON; base64 as protobuf's JSON mapping writes it; → lowercase hex."""
    if not isinstance(value, str) or not value:
        return None
    if len(value) in (16, 32) and HEX_DIGITS.issuperset(value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.lower()
    return raw.hex() or None


def _json_enum(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str):
        return ENUM_NAMES.get(value, 0)
    return 0


def _json_resource(item: dict[str, Any]) -> dict[str, Any]:
    resource = item.get("resource")
    return _json_attrs(resource.get("attributes")) if isinstance(resource, dict) else {}


def _json_scope(item: dict[str, Any]) -> str | None:
    scope = item.get("scope")
    name = scope.get("name") if isinstance(scope, dict) else None
    return name if isinstance(name, str) and name else None


def _json_logs(items: list[Any]) -> list[LogRecordView]:
    out: list[LogRecordView] = []
    append = out.append
    for resource_logs in items:
        if type(resource_logs) is not dict:
            continue
        resource = _json_resource(resource_logs)
        for scope_logs in _json_list(resource_logs, "scopeLogs"):
            if type(scope_logs) is not dict:
                continue
            scope = _json_scope(scope_logs)
            for rec in _json_list(scope_logs, "logRecords"):
                if type(rec) is not dict:
                    continue
                get = rec.get
                event_name = get("eventName")
                append(
                    LogRecordView(
                        _json_ms(get("timeUnixNano")),
                        _json_ms(get("observedTimeUnixNano")),
                        _json_value(get("body")),
                        _json_attrs(get("attributes")),
                        resource,
                        scope,
                        _json_id(get("traceId")),
                        _json_id(get("spanId")),
                        event_name if isinstance(event_name, str) and event_name else None,
                    )
                )
    return out


def _json_spans(items: list[Any]) -> list[SpanView]:
    out: list[SpanView] = []
    for resource_spans in items:
        if type(resource_spans) is not dict:
            continue
        resource = _json_resource(resource_spans)
        for scope_spans in _json_list(resource_spans, "scopeSpans"):
            if type(scope_spans) is not dict:
                continue
            scope = _json_scope(scope_spans)
            for span in _json_list(scope_spans, "spans"):
                if type(span) is not dict:
                    continue
                status = span.get("status")
                status = status if isinstance(status, dict) else {}
                message = status.get("message")
                events = [
                    SpanEventView(
                        str(event.get("name") or ""),
                        _json_ms(event.get("timeUnixNano")),
                        _json_attrs(event.get("attributes")),
                    )
                    for event in _json_list(span, "events")
                    if type(event) is dict
                ]
                name = span.get("name")
                out.append(
                    SpanView(
                        _json_id(span.get("traceId")),
                        _json_id(span.get("spanId")),
                        _json_id(span.get("parentSpanId")),
                        name if isinstance(name, str) else "",
                        _json_enum(span.get("kind")),
                        _json_ms(span.get("startTimeUnixNano")),
                        _json_ms(span.get("endTimeUnixNano")),
                        _json_enum(status.get("code")),
                        message if isinstance(message, str) and message else None,
                        _json_attrs(span.get("attributes")),
                        events,
                        resource,
                        scope,
                    )
                )
    return out


_JSON_METRIC_KINDS: tuple[tuple[str, MetricKind], ...] = (
    ("sum", "sum"),
    ("gauge", "gauge"),
    ("histogram", "histogram"),
    ("exponentialHistogram", "exponential_histogram"),
    ("summary", "summary"),
)


def _json_metrics(items: list[Any]) -> list[MetricPoint]:
    out: list[MetricPoint] = []
    for resource_metrics in items:
        if type(resource_metrics) is not dict:
            continue
        resource = _json_resource(resource_metrics)
        resource_session = session_of(resource)
        for scope_metrics in _json_list(resource_metrics, "scopeMetrics"):
            if type(scope_metrics) is not dict:
                continue
            scope = _json_scope(scope_metrics)
            for metric in _json_list(scope_metrics, "metrics"):
                if type(metric) is not dict:
                    continue
                name = metric.get("name")
                unit = metric.get("unit")
                for key, kind in _JSON_METRIC_KINDS:
                    data = metric.get(key)
                    if data is None and kind == "exponential_histogram":
                        data = metric.get(kind)
                    if not isinstance(data, dict):
                        continue
                    temporality = TEMPORALITY.get(_json_enum(data.get("aggregationTemporality")))
                    monotonic = data.get("isMonotonic") if kind == "sum" else None
                    for point in _json_list(data, "dataPoints"):
                        if type(point) is not dict:
                            continue
                        attrs = _json_attrs(point.get("attributes"))
                        value: float | int | None
                        count: int | None = None
                        if kind in ("sum", "gauge"):
                            if "asInt" in point:
                                value = _json_int(point["asInt"])
                            else:
                                value = _json_float(point.get("asDouble"))
                        else:
                            value = _json_float(point.get("sum"))
                            count = _json_int(point.get("count"))
                        out.append(
                            MetricPoint(
                                name if isinstance(name, str) else "",
                                kind,
                                unit if isinstance(unit, str) and unit else None,
                                value,
                                count,
                                _json_ms(point.get("startTimeUnixNano")),
                                _json_ms(point.get("timeUnixNano")),
                                temporality,
                                monotonic if isinstance(monotonic, bool) else None,
                                attrs,
                                resource,
                                scope,
                                session_of(attrs) or resource_session,
                            )
                        )
    return out
