"""The one app factory. Each role (collector, api, dashboard) is its own ASGI app on its own port;
`--role all` runs all three in one process over one store."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from agent_trace import __version__
from agent_trace.server.context import AppContext
from agent_trace.server.errors import install_error_handlers

HTTP_ROLES = ("collector", "api", "dashboard")
# Each role module exposes `build_router(ctx: AppContext) -> APIRouter`, and may expose
# `configure(app: FastAPI, ctx: AppContext) -> None` for middleware, static files, lifespan work.
ROLE_MODULES = {
    "collector": "agent_trace.server.collector.routes",
    "api": "agent_trace.server.api.routes",
    "dashboard": "agent_trace.server.dashboard.routes",
}


def _health_router(ctx: AppContext, role: str) -> APIRouter:
    router = APIRouter()

    @router.get("/health", tags=["health"])
    def health() -> JSONResponse:
        """This role and every database behind it: 200 when all answer, else 503 (so container
        health checks and load balancers take a role whose database is down out of service)."""
        checks = ctx.store.health()
        healthy = not any(value.startswith("error") for value in checks.values())
        body = {"status": "ok" if healthy else "degraded", "role": role, "version": __version__, **checks}
        return JSONResponse(body, status_code=200 if healthy else 503)

    return router


def create_app(ctx: AppContext, role: str) -> FastAPI:
    if role not in HTTP_ROLES:
        raise ValueError(f"role {role!r}: must be one of {', '.join(HTTP_ROLES)}")
    app = FastAPI(
        title=f"agent-trace {role}",
        version=__version__,
        # No interactive /docs: FastAPI's page loads its script from a CDN, and agent-trace sends
        # nothing to third parties. The description is at /openapi.json.
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    app.include_router(_health_router(ctx, role))
    module = importlib.import_module(ROLE_MODULES[role])
    build: Callable[[AppContext], APIRouter] = module.build_router
    app.include_router(build(ctx))
    configure = getattr(module, "configure", None)
    if configure is not None:
        configure(app, ctx)
    return app
