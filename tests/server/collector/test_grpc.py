"""OTLP/gRPC with a real grpc client: the same records as OTLP/HTTP, the token, back-pressure."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import grpc
import pytest
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

from agent_trace.config import Settings
from agent_trace.server.app import create_app
from agent_trace.server.collector.grpc_service import OtlpGrpcService
from agent_trace.server.context import AppContext
from agent_trace.store.factory import open_store
from tests.ingest.test_queue import GatedStore
from tests.server.collector.support import (
    REAL_CLIENT,
    fingerprint,
    otlp_captures,
    otlp_message,
    otlp_posts,
    running_collector,
    session_of,
)

pytestmark = [
    pytest.mark.corpus,
    pytest.mark.skipif(not REAL_CLIENT.is_dir(), reason="../shared corpus is absent"),
]

STUBS = {
    "/v1/logs": logs_service_pb2_grpc.LogsServiceStub,
    "/v1/metrics": metrics_service_pb2_grpc.MetricsServiceStub,
    "/v1/traces": trace_service_pb2_grpc.TraceServiceStub,
}


def _grpc_settings(settings: Settings) -> Settings:
    return replace(settings, otel_grpc_address="127.0.0.1:0")


def _port(ctx: AppContext) -> int:
    (service,) = [s for s in ctx.services.background if isinstance(s, OtlpGrpcService)]
    assert service.port
    return service.port


@contextmanager
def _channel(ctx: AppContext) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{_port(ctx)}") as channel:
        yield channel


def _export(channel: grpc.Channel, capture: dict[str, Any], **kwargs: Any) -> Any:
    stub = STUBS[capture["path"]](channel)
    return stub.Export(otlp_message(capture), timeout=30, **kwargs)


@pytest.mark.parametrize("scenario", ["basic", "basic-protobuf", "task"])
def test_grpc_gives_the_records_otlp_http_gives(scenario: str, settings: Settings, tmp_path: Any) -> None:
    session_id = session_of(scenario)
    with running_collector(_grpc_settings(settings)) as (_client, ctx), _channel(ctx) as channel:
        for i, capture in enumerate(otlp_captures(scenario)):
            # Compressed or not, as exporters choose.
            compression = grpc.Compression.Gzip if i % 2 else grpc.Compression.NoCompression
            _export(channel, capture, compression=compression)
        via_grpc = fingerprint(ctx.store, session_id)
    home = tmp_path / "http"
    home.mkdir()
    http_settings = replace(
        settings, otel_grpc_address="off", home=home, database_url=f"sqlite:///{home / 'agent-trace.db'}"
    )
    with running_collector(http_settings) as (client, ctx):
        for post in otlp_posts(scenario):
            post.send(client)
        via_http = fingerprint(ctx.store, session_id)
    assert via_grpc == via_http
    assert len(via_grpc["llm_calls"]) >= 3


def test_http_and_grpc_share_one_correlator(settings: Settings) -> None:
    """An interaction span (gRPC) and its user_prompt log (HTTP) join across transports."""
    session_id = session_of("basic")
    with running_collector(_grpc_settings(settings)) as (client, ctx), _channel(ctx) as channel:
        for post, capture in zip(otlp_posts("basic"), otlp_captures("basic"), strict=True):
            if capture["path"] == "/v1/traces":
                _export(channel, capture)
            else:
                post.send(client)
        prompts = fingerprint(ctx.store, session_id)["prompts"]
    assert [p["duration_ms"] for p in prompts.values()] != [None] * len(prompts)


def test_grpc_requires_the_token_when_set(settings: Settings) -> None:
    capture = otlp_captures("basic")[0]
    with (
        running_collector(replace(_grpc_settings(settings), ingest_token="tok")) as (_c, ctx),
        _channel(ctx) as ch,
    ):
        for metadata in ((), (("authorization", "Bearer nope"),)):
            with pytest.raises(grpc.RpcError) as failed:
                _export(ch, capture, metadata=metadata)
            assert failed.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert ctx.store.counts()["raw_events"] == 0
        reply = _export(ch, capture, metadata=(("authorization", "Bearer tok"),))
        assert reply == logs_service_pb2.ExportLogsServiceResponse()
        assert ctx.store.counts()["raw_events"] > 0


def test_grpc_back_pressure_is_unavailable(settings: Settings) -> None:
    grpc_settings = replace(_grpc_settings(settings), ingest_queue_records=5)
    inner = open_store(grpc_settings.database_url, grpc_settings.events_url)
    store = GatedStore(inner)
    ctx = AppContext(settings=grpc_settings, store=inner, ingest_store=store)
    create_app(ctx, "collector")
    ctx.services.background.start()
    try:
        capture = otlp_captures("basic")[0]
        with _channel(ctx) as channel:
            store.gate.clear()
            stub = logs_service_pb2_grpc.LogsServiceStub(channel)
            pending = stub.Export.future(otlp_message(capture), timeout=30)
            assert store.waiting.wait(10)
            with pytest.raises(grpc.RpcError) as refused:
                _export(channel, capture)
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE  # exporters retry this
            store.gate.set()
            assert pending.result() == logs_service_pb2.ExportLogsServiceResponse()
    finally:
        store.gate.set()
        ctx.services.background.stop()
        inner.close()


def test_a_taken_grpc_port_is_a_clear_error(settings: Settings) -> None:
    with running_collector(_grpc_settings(settings)) as (_client, ctx):
        taken = replace(settings, otel_grpc_address=f"127.0.0.1:{_port(ctx)}")
        service = OtlpGrpcService(taken.otel_grpc_address, ctx.services.collector)
        with pytest.raises(RuntimeError, match="OTEL_GRPC_ADDRESS"):
            service.start()
