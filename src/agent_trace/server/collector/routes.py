"""Collector routes: `POST /v1/hooks`, OTLP/HTTP `POST /v1/logs|metrics|traces`, `POST /v1/noop`.

The endpoints themselves live in asgi.py (plain ASGI, for speed); `configure` puts them in front
of the app, and the FastAPI routes below describe them in the OpenAPI document (and delegate to
the same code should a request reach them).

What is put in `ctx.parts`: "collector" (the CollectorPipeline); "ingest_store" may be put there
beforehand to give the writer thread a particular store (tests do). `ctx.services` gets the
ingest queue, the OTLP/gRPC server and the closing of the writer's own store.
"""

from __future__ import annotations

import gc
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response

from agent_trace.ingest.queue import IngestQueue
from agent_trace.server.budgets.service import budget_guard_for
from agent_trace.server.collector.asgi import CollectorEndpoints, CollectorFastPath, Receive, Scope, Send
from agent_trace.server.collector.pipeline import CollectorPipeline
from agent_trace.server.context import AppContext
from agent_trace.sources.otlp import OtlpCorrelator
from agent_trace.store.port import Store


def collector_for(ctx: AppContext) -> CollectorPipeline:
    """The process's one pipeline (built, and its services registered, on first use)."""
    found = ctx.parts.get("collector")
    if isinstance(found, CollectorPipeline):
        return found
    from agent_trace.domain.pricing import PriceBook
    from agent_trace.ingest.writer import Writer
    from agent_trace.server.collector.decoders import DecoderSetup, OtlpDecoders
    from agent_trace.server.collector.grpc_service import OtlpGrpcService, grpc_disabled
    from agent_trace.store.factory import open_writer_store

    settings = ctx.settings
    # The writer thread gets a store of its own (on SQLite: one warm connection), unless one
    # was put in ctx.parts["ingest_store"] (tests do, to make writes fail or wait).
    store = ctx.parts.get("ingest_store")
    if store is None:
        store = open_writer_store(settings.database_url, settings.events_url)
        ctx.services.append(_Closer(store))  # stopped after the queue: services stop in reverse
    # No default user: the collector cannot know who sent an event; the hook handler says so
    # (agent_trace.user) and OTLP carries user.id / user.email.
    writer = Writer(store, PriceBook.from_home(settings.price_override_file), settings.privacy_tier)
    queue = IngestQueue(
        writer,
        max_pending_records=settings.ingest_queue_records,
        max_batch_records=settings.ingest_batch_records,
    )
    decoders = None
    if settings.ingest_workers > 0:
        setup = DecoderSetup(settings.privacy_tier, str(settings.price_override_file))
        decoders = OtlpDecoders(setup, settings.ingest_workers)
    user_tokens = None
    if settings.auth:
        from agent_trace.server.collector.auth import UserTokenCheck
        from agent_trace.server.identity_cache import IdentityCache, SessionOwners
        from agent_trace.store.identity import identity_of

        # Its own warm connection (SQLite): a token check is one indexed read per request.
        identity_store = open_writer_store(settings.database_url, settings.events_url)
        ctx.services.append(_Closer(identity_store))
        identity = identity_of(identity_store)
        user_tokens = UserTokenCheck(IdentityCache(identity), SessionOwners(identity))
    pipeline = CollectorPipeline(settings, queue, OtlpCorrelator(), decoders, user_tokens)
    ctx.parts["collector"] = pipeline
    ctx.services.append(_GcTuning())
    if decoders is not None:
        ctx.services.append(decoders)  # started before gRPC; stopped once the queue has drained
    ctx.services.append(queue)
    if not grpc_disabled(settings.otel_grpc_address):
        ctx.services.append(OtlpGrpcService(settings.otel_grpc_address, pipeline))
    return pipeline


class _Closer:
    """Closes the writer thread's store once the services before it have stopped."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.store.close()


class _GcTuning:
    """Keeps Python's cyclic garbage collector out of the ingest path.

    Decoding one OTLP export allocates tens of thousands of short-lived objects (freed by
    reference counting; they form no cycles). With the default thresholds they trigger frequent
    collections, and every full one walks the whole heap of the server: measured, that tripled
    the cost of `orjson.loads` on a 200-record export. Freezing the start-up heap takes it out
    of every later collection, and a higher young-generation threshold makes collections rarer.
    """

    YOUNG_THRESHOLD = 20_000

    def __init__(self) -> None:
        self._previous: tuple[int, int, int] | None = None

    def start(self) -> None:
        self._previous = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(self.YOUNG_THRESHOLD, 20, 20)

    def stop(self) -> None:
        if self._previous is not None:
            gc.set_threshold(*self._previous)
            gc.unfreeze()


def configure(app: FastAPI, ctx: AppContext) -> None:
    pipeline = collector_for(ctx)
    app.state.collector = pipeline
    endpoints = CollectorEndpoints(pipeline, budget_guard_for(ctx))
    app.add_middleware(CollectorFastPath, endpoints=endpoints)


class _Delegate(Response):
    """A FastAPI route's answer that hands the request to CollectorEndpoints (body unread)."""

    def __init__(self, endpoints: CollectorEndpoints) -> None:
        super().__init__()
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # type: ignore[override]
        await self.endpoints(scope, receive, send)


_JSON_BODY: dict[str, Any] = {"schema": {"type": "object"}}
_HOOKS_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array"}]}},
            "application/x-ndjson": {"schema": {"type": "string"}},
        },
    }
}
_OTLP_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": _JSON_BODY, "application/x-protobuf": {"schema": {"type": "string"}}},
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "The body cannot be decoded; the message names the field."},
    401: {"description": "Missing or wrong ingest token (AGENT_TRACE_INGEST_TOKEN)."},
    413: {"description": "The body is over the limit, after decompression (AGENT_TRACE_MAX_BODY_BYTES)."},
    415: {"description": "Wrong Content-Type or Content-Encoding."},
    503: {"description": "Back-pressure or a failing store: retry after Retry-After seconds."},
}


def build_router(ctx: AppContext) -> APIRouter:
    endpoints = CollectorEndpoints(collector_for(ctx), budget_guard_for(ctx))
    router = APIRouter(tags=["collector"])

    @router.post(
        "/v1/hooks",
        summary="Claude Code hook payloads",
        description=(
            "One hook payload (Claude Code's JSON, optionally with the `agent_trace` enrichment) "
            "→ 204 with no body (Claude Code reads a body as a hook decision). A JSON array, or "
            'NDJSON, of payloads → 200 with `{"accepted": n, "rejected": [{"index": i, '
            '"message": "…"}]}`: valid payloads are stored, invalid ones named and dropped.'
        ),
        response_class=Response,
        status_code=204,
        responses={200: {"description": "Several payloads: what was accepted"}, **_ERRORS},
        openapi_extra=_HOOKS_BODY,
    )
    async def hooks(request: Request) -> Response:
        return _Delegate(endpoints)

    for signal in ("logs", "metrics", "traces"):
        router.add_api_route(
            f"/v1/{signal}",
            _otlp_doc(endpoints),
            methods=["POST"],
            name=f"otlp_{signal}",
            summary=f"OTLP/HTTP {signal}",
            description=(
                f"An OTLP Export{signal.capitalize()}ServiceRequest as application/json or "
                "application/x-protobuf, optionally gzip- or deflate-compressed, with or without "
                "Content-Length. Success: 200 with an empty Export…ServiceResponse in the "
                "request's encoding, once the records are committed."
            ),
            response_class=Response,
            responses=_ERRORS,
            openapi_extra=_OTLP_BODY,
        )

    guard = budget_guard_for(ctx)

    @router.get(
        "/v1/budgets/state",
        summary="Spent-up budgets for one developer (what the command hook handler caches)",
        description=(
            "The budget state document of hook/budget.py for `user` (and its sessions): the rules "
            "a hook decision applies. Same ingest token as the other collector endpoints."
        ),
        responses={401: _ERRORS[401]},
    )
    async def budget_state(request: Request, user: str | None = None) -> Response:
        endpoints._authorize({"authorization": request.headers.get("authorization", "")})
        return Response(orjson.dumps(guard.state_doc(user or None)), media_type="application/json")

    @router.post(
        "/v1/noop",
        summary="Diagnostics: answers 204 and does nothing",
        description="The HTTP stack alone, for comparison in benchmarks (bench/collector.py).",
        response_class=Response,
        status_code=204,
    )
    async def noop(request: Request) -> Response:
        return _Delegate(endpoints)

    from agent_trace.server.collector.webhooks import add_routes

    add_routes(router, endpoints)
    return router


def _otlp_doc(endpoints: CollectorEndpoints) -> Any:
    async def export(request: Request) -> Response:
        return _Delegate(endpoints)

    return export
