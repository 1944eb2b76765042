"""The one app factory. Each role (collector, api, dashboard) is its own ASGI app on its own port;
`--role all` runs all three in one process over one store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse

from agent_trace import __version__
from agent_trace.server.api.models_ops import Health
from agent_trace.server.context import AppContext
from agent_trace.server.errors import install_error_handlers

HTTP_ROLES = ("collector", "api", "dashboard")


def _install_collector(app: FastAPI, ctx: AppContext) -> None:
    from agent_trace.server.collector import routes

    routes.install(app, ctx)


def _install_api(app: FastAPI, ctx: AppContext) -> None:
    from agent_trace.server.api import routes

    routes.install(app, ctx)


def _install_dashboard(app: FastAPI, ctx: AppContext) -> None:
    from agent_trace.server.dashboard import routes

    routes.install(app, ctx)


# Each role's `install` adds its routes, middleware and static files; the shared services it uses
# come from server/wiring.py. (Imported when the role is built: a process loads only its roles.)
ROLE_INSTALLERS: dict[str, Callable[[FastAPI, AppContext], None]] = {
    "collector": _install_collector,
    "api": _install_api,
    "dashboard": _install_dashboard,
}


def _health_router(ctx: AppContext, role: str) -> APIRouter:
    router = APIRouter()

    @router.get("/health", tags=["health"], response_model=Health, responses={503: {"model": Health}})
    def health() -> JSONResponse:
        """This role and every database behind it: 200 when all answer, else 503 (so container
        health checks and load balancers take a role whose database is down out of service)."""
        checks = ctx.store.health()
        healthy = not any(value.startswith("error") for value in checks.values())
        body = {"status": "ok" if healthy else "degraded", "role": role, "version": __version__, **checks}
        return JSONResponse(body, status_code=200 if healthy else 503)

    return router


def _lifespan(ctx: AppContext) -> Callable[[FastAPI], Any]:
    """Starts the context's background services (ingest queue, decoders, gRPC, budgets) with the
    first app that starts, stops them with the last that stops (context.Background)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        ctx.services.background.start()
        try:
            yield
        finally:
            ctx.services.background.stop()

    return lifespan


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
        lifespan=_lifespan(ctx),
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    app.include_router(_health_router(ctx, role))
    ROLE_INSTALLERS[role](app, ctx)
    return app
