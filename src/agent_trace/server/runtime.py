"""Run the HTTP roles (and their side services) in one process, with one shutdown path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

from agent_trace.config import Settings
from agent_trace.server.app import HTTP_ROLES, create_app
from agent_trace.server.context import AppContext

log = logging.getLogger("agent_trace.server")


def roles_for(role: str) -> list[str]:
    return list(HTTP_ROLES) if role == "all" else [role]


def port_for(settings: Settings, role: str) -> int:
    return {
        "collector": settings.collector_port,
        "api": settings.api_port,
        "dashboard": settings.dashboard_port,
    }[role]


def build_context(settings: Settings) -> AppContext:
    from agent_trace.store.factory import open_store

    store = open_store(settings, migrate=settings.run_migrations)
    return AppContext(settings=settings, store=store)


async def _serve_all(ctx: AppContext, roles: list[str]) -> None:
    import uvicorn

    class _Server(uvicorn.Server):
        # Several servers share one loop: signals are handled once, below, for all of them.
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    servers = []
    for role in roles:
        app = create_app(ctx, role)
        config = uvicorn.Config(
            app,
            host=ctx.settings.host,
            port=port_for(ctx.settings, role),
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
        servers.append(_Server(config))
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop)
    for role in roles:
        log.warning(
            "agent-trace %s listening on http://%s:%d", role, ctx.settings.host, port_for(ctx.settings, role)
        )
    await asyncio.gather(*(server.serve() for server in servers))


def serve(settings: Settings, role: str) -> int:
    roles = roles_for(role)
    ctx = build_context(settings)
    try:
        # Route modules register their services (the ingest writer, the gRPC server) while the
        # apps are built, so build first, then start what they registered.
        asyncio.run(_run(ctx, roles))
    finally:
        ctx.store.close()
    return 0


async def _run(ctx: AppContext, roles: list[str]) -> None:
    task = asyncio.create_task(_serve_all(ctx, roles))
    # create_app ran synchronously inside _serve_all before its first await, so services exist now.
    await asyncio.sleep(0)
    for service in ctx.services:
        service.start()
    try:
        await task
    finally:
        for service in reversed(ctx.services):
            service.stop()
