"""Run the HTTP roles (and their side services) in one process, with one shutdown path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator
from typing import Any, cast

from agent_trace.config import Settings
from agent_trace.server.app import HTTP_ROLES, create_app
from agent_trace.server.context import AppContext
from agent_trace.server.listeners import uvicorn_options
from agent_trace.store.port import Store

log = logging.getLogger("agent_trace.server")


def roles_for(role: str) -> list[str]:
    """`all`, one role, or a comma-separated list (config.normalize_role), in serving order."""
    if role == "all":
        return list(HTTP_ROLES)
    wanted = {r.strip() for r in role.split(",")}
    return [r for r in HTTP_ROLES if r in wanted]


def port_for(settings: Settings, role: str) -> int:
    return {
        "collector": settings.collector_port,
        "api": settings.api_port,
        "dashboard": settings.dashboard_port,
    }[role]


def build_context(settings: Settings, roles: list[str] | None = None) -> AppContext:
    """The shared context of `roles` (default: all). Migrations run here unless
    RUNTIME_RUN_MIGRATIONS=false; then the schema must already be current, or start-up stops with
    a message saying how to migrate. A dashboard that reads the API (DASHBOARD_API_BASE_URL) and
    serves nothing else opens no database at all."""
    from agent_trace.store.factory import check_schema, open_store

    roles = list(HTTP_ROLES) if roles is None else roles
    # With auth on, a dashboard reading the API still needs the database: people, sign-in
    # sessions and session owners are checked before any data is asked of the API (which it
    # then reads with AGENT_TRACE_DASHBOARD_TOKEN, an admin's personal token).
    if roles == ["dashboard"] and settings.dashboard_api_base_url and not settings.auth:
        return AppContext(settings=settings, store=cast(Store, ApiReader(settings.dashboard_api_base_url)))
    store = open_store(settings.database_url, settings.events_url, migrate=settings.run_migrations)
    if not settings.run_migrations:
        try:
            check_schema(store)
        except Exception:
            store.close()
            raise
    return AppContext(settings=settings, store=store)


class ApiReader:
    """Stands in for the store of a dashboard that reads everything through the API: it has no
    database, and its health is the API's."""

    def __init__(self, api_base_url: str) -> None:
        self.api_base_url = api_base_url.rstrip("/")

    def health(self) -> dict[str, str]:
        import httpx

        try:
            response = httpx.get(f"{self.api_base_url}/health", timeout=2.0)
            api = "ok" if response.status_code == 200 else f"error: HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            api = f"error: {type(exc).__name__}"
        return {"database": "not used (reads the API)", "api": api}

    def close(self) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"this dashboard reads the API at {self.api_base_url} and has no store ({name})")


async def _serve_all(ctx: AppContext, roles: list[str], sockets: dict[str, Any]) -> None:
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
            **uvicorn_options(),
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
    await asyncio.gather(
        *(server.serve(sockets=[sockets[role]]) for server, role in zip(servers, roles, strict=True))
    )


def serve(settings: Settings, role: str) -> int:
    """Run `role`; PortsUnavailable (naming every port) before anything starts when a port is taken."""
    from agent_trace.server.collector.grpc_service import grpc_disabled
    from agent_trace.server.ports import bind_all, listen_addresses

    roles = roles_for(role)
    with_grpc = "collector" in roles and not grpc_disabled(settings.otel_grpc_address)
    sockets = bind_all(listen_addresses(settings, roles, with_grpc))
    try:
        ctx = build_context(settings, roles)
        try:
            # The apps' lifespan starts the background services (server/app.py).
            asyncio.run(_serve_all(ctx, roles, sockets))
        finally:
            ctx.store.close()
    finally:
        for sock in sockets.values():
            sock.close()
    return 0
