"""Collector routes: `POST /v1/hooks`, OTLP/HTTP `POST /v1/logs|metrics|traces`, `POST /v1/noop`.

The endpoints themselves live in asgi.py (plain ASGI, for speed); `install` puts them in front
of the app, and the FastAPI routes below describe them in the OpenAPI document (and delegate to
the same code should a request reach them). The pipeline, the budget guard and their background
services come from server/wiring.py.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request, Response

from agent_trace.server import wiring
from agent_trace.server.budgets.guard import BudgetGuard
from agent_trace.server.collector.asgi import CollectorEndpoints, CollectorFastPath, Receive, Scope, Send
from agent_trace.server.context import AppContext
from agent_trace.store.identity import IdentityStore, identity_of


def install(app: FastAPI, ctx: AppContext) -> None:
    pipeline = wiring.collector(ctx)  # first: its services start before the budget service
    guard = wiring.budget_guard(ctx)
    endpoints = CollectorEndpoints(pipeline, guard)
    app.include_router(build_router(endpoints, guard, identity_of(ctx.store)))
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


def build_router(endpoints: CollectorEndpoints, guard: BudgetGuard, identity: IdentityStore) -> APIRouter:
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

    add_routes(router, endpoints, identity)
    return router


def _otlp_doc(endpoints: CollectorEndpoints) -> Any:
    async def export(request: Request) -> Response:
        return _Delegate(endpoints)

    return export
