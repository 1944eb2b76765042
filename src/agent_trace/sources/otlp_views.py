"""Plain Python views of decoded OTLP requests, shared by the JSON and protobuf decoders.

Both encodings end in the same views:

* ids are lowercase hex (`9e65ad7ae590658a85f07b0a673202f8`), whatever the wire form: protobuf
  bytes, OTLP/JSON hex, or the base64 that protobuf's own JSON mapping (`MessageToDict`) writes;
* `intValue` is an int (OTLP/JSON may send it as a number or a decimal string);
* enums (span kind, status code, temporality) are ints, also when JSON spells them by name;
* times are epoch milliseconds; `bytesValue` stays base64 text so that payloads remain JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Signal = Literal["logs", "metrics", "traces"]
MetricKind = Literal["sum", "gauge", "histogram", "exponential_histogram", "summary"]
Temporality = Literal["delta", "cumulative"]

SIGNALS: tuple[Signal, ...] = ("logs", "metrics", "traces")
JSON_CONTENT_TYPE = "application/json"
PROTOBUF_CONTENT_TYPES = frozenset({"application/x-protobuf", "application/protobuf"})

STATUS_CODE_ERROR = 2

NANOS_PER_MS = 1_000_000
ROOT_KEYS: dict[Signal, str] = {
    "logs": "resourceLogs",
    "metrics": "resourceMetrics",
    "traces": "resourceSpans",
}
# Protobuf's JSON mapping spells enums by name; OTLP/JSON uses the numbers.
ENUM_NAMES = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
    "STATUS_CODE_UNSET": 0,
    "STATUS_CODE_OK": 1,
    "STATUS_CODE_ERROR": 2,
    "AGGREGATION_TEMPORALITY_UNSPECIFIED": 0,
    "AGGREGATION_TEMPORALITY_DELTA": 1,
    "AGGREGATION_TEMPORALITY_CUMULATIVE": 2,
}
TEMPORALITY: dict[int, Temporality] = {1: "delta", 2: "cumulative"}
HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


class OtlpDecodeError(ValueError):
    """The request cannot be decoded; the message names the signal, the encoding and the problem."""


@dataclass(slots=True)
class LogRecordView:
    time_ms: int | None
    observed_ms: int | None
    body: Any
    attributes: dict[str, Any]
    resource: dict[str, Any]  # shared by every record of one resource: do not mutate
    scope: str | None
    trace_id: str | None
    span_id: str | None
    event_name: str | None  # LogRecord.event_name (newer OTLP); Claude Code uses the attribute


@dataclass(slots=True)
class SpanEventView:
    name: str
    time_ms: int | None
    attributes: dict[str, Any]


@dataclass(slots=True)
class SpanView:
    trace_id: str | None
    span_id: str | None
    parent_span_id: str | None
    name: str
    kind: int
    start_ms: int | None
    end_ms: int | None
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str | None
    attributes: dict[str, Any]
    events: list[SpanEventView]
    resource: dict[str, Any]
    scope: str | None


@dataclass(slots=True)
class MetricPoint:
    """One data point. Claude Code's sums are deltas: add the exports up, never keep the last."""

    name: str
    kind: MetricKind
    unit: str | None
    value: float | int | None  # sum and gauge: the value; histogram and summary: their sum
    count: int | None  # histogram and summary only
    start_ms: int | None
    ts_ms: int | None
    temporality: Temporality | None
    monotonic: bool | None
    attributes: dict[str, Any]
    resource: dict[str, Any]
    scope: str | None
    session_id: str | None  # `session.id` of the point, else of its resource


@dataclass(slots=True)
class OtlpRequest:
    """One decoded export request: only the list of its signal is filled."""

    signal: Signal
    logs: list[LogRecordView] = field(default_factory=list)
    spans: list[SpanView] = field(default_factory=list)
    metrics: list[MetricPoint] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.logs) + len(self.spans) + len(self.metrics)


def session_of(attributes: dict[str, Any]) -> str | None:
    """`session.id`, the one attribute every Claude Code signal carries."""
    value = attributes.get("session.id")
    return value if isinstance(value, str) and value else None
