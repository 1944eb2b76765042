"""OTLP/gRPC (logs, metrics, traces) on `OTEL_GRPC_ADDRESS`, beside the HTTP servers.

The servicers hand each Export*ServiceRequest to the same CollectorPipeline as OTLP/HTTP (one
queue, one writer, one correlator), and answer only once the records are committed. Status codes
follow the OTLP exporter's retry rules: UNAVAILABLE (retried, with back-off) under back-pressure
or when the store fails; INVALID_ARGUMENT (not retried) for a request that cannot be used;
UNAUTHENTICATED for a missing or wrong ingest token (metadata `authorization: Bearer <token>`).
gzip is negotiated by gRPC itself; the message size limit is the collector's body limit.
"""

from __future__ import annotations

import logging
from concurrent import futures
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from agent_trace.ingest.queue import IngestRejected, IngestUnavailable, QueueFull
from agent_trace.server.collector.auth import ForeignSession
from agent_trace.server.collector.decoders import DecoderUnavailable
from agent_trace.server.collector.pipeline import CollectorPipeline, now_ms
from agent_trace.server.listeners import GRPC_OPTIONS
from agent_trace.sources.otlp import OtlpDecodeError

log = logging.getLogger("agent_trace.collector")

# Requests are decoded under the GIL: a few threads keep the writer fed; more only add switching.
GRPC_WORKERS = 4
# Beyond this many requests in flight, gRPC itself answers RESOURCE_EXHAUSTED.
GRPC_MAX_CONCURRENT_RPCS = 256
GRACE_S = 5.0
_DISABLED = frozenset({"", "off", "none", "disabled", "0"})


def grpc_disabled(address: str | None) -> bool:
    """OTEL_GRPC_ADDRESS=off (or empty) runs the collector without OTLP/gRPC."""
    return address is None or address.strip().lower() in _DISABLED


class _Export:
    """The body of every Export call: auth, decode, queue, wait for the commit.

    The request arrives as bytes and is parsed here, not by gRPC: a message gRPC cannot
    deserialize would otherwise be answered INTERNAL, where OTLP (and our docs) promise
    INVALID_ARGUMENT, which exporters do not retry.
    """

    def __init__(self, pipeline: CollectorPipeline, signal: str, request_type: Any, response: Any) -> None:
        self.pipeline = pipeline
        self.signal = signal
        self.request_type = request_type
        self.response = response

    def __call__(self, raw: bytes, context: grpc.ServicerContext) -> Any:
        metadata = dict(context.invocation_metadata() or ())
        authorization = metadata.get("authorization")
        offered = authorization if isinstance(authorization, str) else None
        user = self.pipeline.token.user(offered)
        if user is None and not self.pipeline.token.allows(offered):
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or wrong ingest token: send metadata `authorization: Bearer <AGENT_TRACE_INGEST_TOKEN>`",
            )
        try:
            request = self.request_type.FromString(raw)
        except (DecodeError, ValueError, RuntimeError) as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"not an OTLP {self.signal} export: {exc}")
        try:
            future = self.pipeline.otlp_message(self.signal, request, now_ms(), user)
            future.result(timeout=self.pipeline.commit_timeout_s)
        except OtlpDecodeError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except ForeignSession as exc:
            context.abort(grpc.StatusCode.PERMISSION_DENIED, f"session {exc}: it belongs to another user")
        except QueueFull as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, str(exc))
        except (IngestUnavailable, DecoderUnavailable, futures.TimeoutError) as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE, f"records not stored: {exc or 'commit timed out'}")
        except IngestRejected as exc:
            log.error("OTLP/gRPC request rejected by the store: %s", exc)
            context.abort(grpc.StatusCode.INTERNAL, "the store rejected these records (see the server log)")
        return self.response()


_SERVICES = (
    (
        "opentelemetry.proto.collector.logs.v1.LogsService",
        "logs",
        logs_service_pb2.ExportLogsServiceRequest,
        logs_service_pb2.ExportLogsServiceResponse,
    ),
    (
        "opentelemetry.proto.collector.metrics.v1.MetricsService",
        "metrics",
        metrics_service_pb2.ExportMetricsServiceRequest,
        metrics_service_pb2.ExportMetricsServiceResponse,
    ),
    (
        "opentelemetry.proto.collector.trace.v1.TraceService",
        "traces",
        trace_service_pb2.ExportTraceServiceRequest,
        trace_service_pb2.ExportTraceServiceResponse,
    ),
)


def _handlers(pipeline: CollectorPipeline) -> list[grpc.GenericRpcHandler]:
    """One generic handler per OTLP service; requests stay bytes until _Export parses them."""
    out = []
    for service, signal, request_type, response_type in _SERVICES:
        export = _Export(pipeline, signal, request_type, response_type)
        method = grpc.unary_unary_rpc_method_handler(
            export, request_deserializer=None, response_serializer=response_type.SerializeToString
        )
        out.append(grpc.method_handlers_generic_handler(service, {"Export": method}))
    return out


class OtlpGrpcService:
    """A Service (start/stop) running the OTLP/gRPC server; `port` is the bound port once started."""

    def __init__(self, address: str, pipeline: CollectorPipeline, workers: int = GRPC_WORKERS) -> None:
        self.address = address
        self.pipeline = pipeline
        self.workers = workers
        self.port: int | None = None
        self._server: grpc.Server | None = None

    def start(self) -> None:
        if self._server is not None:
            return
        limit = self.pipeline.max_body_bytes
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="agent-trace-grpc"),
            options=[
                ("grpc.max_receive_message_length", limit),
                ("grpc.max_send_message_length", 4 * 1024 * 1024),
                ("grpc.so_reuseport", 0),
                *GRPC_OPTIONS,  # idle connections closed, streams per connection bounded
            ],
            maximum_concurrent_rpcs=GRPC_MAX_CONCURRENT_RPCS,
        )
        server.add_generic_rpc_handlers(_handlers(self.pipeline))
        try:
            port = server.add_insecure_port(self.address)
        except RuntimeError as exc:  # grpcio raises when the address cannot be bound
            raise RuntimeError(
                f"OTLP/gRPC cannot listen on {self.address} ({exc}): free the port, "
                "or set OTEL_GRPC_ADDRESS (=off to run without gRPC)"
            ) from exc
        if port == 0:
            raise RuntimeError(
                f"OTLP/gRPC cannot listen on {self.address}: free the port, "
                "or set OTEL_GRPC_ADDRESS (=off to run without gRPC)"
            )
        server.start()
        self.port = port
        self._server = server
        log.warning("agent-trace OTLP/gRPC listening on %s", self._shown_address())

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            # In-flight exports finish (and commit) within the grace period; new ones are refused.
            server.stop(GRACE_S).wait()

    def _shown_address(self) -> str:
        host = self.address.rsplit(":", 1)[0]
        return f"{host}:{self.port}"
