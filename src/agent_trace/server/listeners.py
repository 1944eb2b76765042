"""What every listener enforces before a request reaches an app: read timeouts, connection limits,
and no unauthenticated service on a non-loopback address.

Timeouts (uvicorn has a keep-alive timeout, but none while a request is being read: half-sent
headers or a stalled body held a connection, and its memory, for as long as the client liked):
- a new connection must complete its request headers within HEADER_TIMEOUT_S of connecting;
- a request's headers must be complete within HEADER_TIMEOUT_S of their first byte (a client
  dribbling one byte at a time does not reset it);
- while a body is being read, BODY_IDLE_TIMEOUT_S without a byte closes the connection (a big
  upload on a slow link keeps going as long as it moves).
Responses, SSE streams included, are not affected: the timers run only while reading a request.

Limits: at most MAX_CONNECTIONS concurrent connections per HTTP listener (uvicorn answers 503
beyond), the listen backlog, and on OTLP/gRPC the options in GRPC_OPTIONS.
"""

from __future__ import annotations

import asyncio
from typing import Any

from agent_trace.config import Settings
from agent_trace.server.security import is_loopback

HEADER_TIMEOUT_S = 10.0
BODY_IDLE_TIMEOUT_S = 30.0
KEEP_ALIVE_S = 5
MAX_CONNECTIONS = 1000
BACKLOG = 2048
GRPC_OPTIONS = [
    ("grpc.max_connection_idle_ms", 5 * 60 * 1000),  # an idle client connection is closed
    ("grpc.max_concurrent_streams", 100),  # per connection
    ("grpc.http2.max_pings_without_data", 2),
    ("grpc.keepalive_permit_without_calls", 0),
    ("grpc.http2.min_ping_interval_without_data_ms", 60_000),
]
INSECURE_FLAG = "--insecure-no-auth"


def exposure_problem(settings: Settings, roles: list[str]) -> str | None:
    """Why serving `roles` with these settings would expose every prompt to the network, or None.

    Bound to loopback, only this machine can connect (and the Host check stops DNS rebinding).
    Bound to another address with auth off, anyone who can reach it reads every session and can
    post as anyone — the shared AGENT_TRACE_INGEST_TOKEN / AGENT_TRACE_DASHBOARD_TOKEN are one
    secret for everybody, not people — so it is refused unless `--insecure-no-auth` (or
    AGENT_TRACE_INSECURE_NO_AUTH=true, e.g. behind a proxy that authenticates) says so."""
    if settings.auth:
        return None
    hosts = [settings.host]
    if "collector" in roles:  # OTLP/gRPC listens beside the collector
        hosts.append(settings.otel_grpc_address.rpartition(":")[0] or settings.host)
    exposed = [h for h in hosts if h and not is_loopback(h)]
    if not exposed:
        return None
    tokens = [
        name
        for name, value, needed in (
            ("AGENT_TRACE_INGEST_TOKEN", settings.ingest_token, "collector" in roles),
            ("AGENT_TRACE_DASHBOARD_TOKEN", settings.dashboard_token, "api" in roles or "dashboard" in roles),
        )
        if needed and not value
    ]
    unprotected = f" (and no {' or '.join(tokens)})" if tokens else ""
    return (
        f"refusing to listen on {exposed[0]} with auth off{unprotected}: anyone who can reach it could "
        "read every session and send data as anyone. Turn auth on (AGENT_TRACE_AUTH=on, then "
        f"`agent-trace users add`), bind 127.0.0.1, or pass {INSECURE_FLAG} if something in front "
        "authenticates."
    )


def http_protocol() -> Any:
    """The uvicorn HTTP protocol class with read timeouts (httptools; "auto" if it is absent)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:  # pragma: no cover - httptools is a dependency
        return "auto"

    class TimedHttpToolsProtocol(HttpToolsProtocol):  # type: ignore[misc]
        _read_timer: asyncio.TimerHandle | None = None

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._read_timer = self.loop.call_later(seconds, self._read_timed_out)

        def _disarm(self) -> None:
            if self._read_timer is not None:
                self._read_timer.cancel()
                self._read_timer = None

        def _read_timed_out(self) -> None:
            self._read_timer = None
            if not self.transport.is_closing():
                self.transport.close()

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm(HEADER_TIMEOUT_S)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm(HEADER_TIMEOUT_S)

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self._arm(BODY_IDLE_TIMEOUT_S)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            # While a body is being read, every byte that arrives pushes the idle deadline back.
            if self._read_timer is not None and self.cycle is not None and self.cycle.more_body:
                self._arm(BODY_IDLE_TIMEOUT_S)

        def on_message_complete(self) -> None:
            super().on_message_complete()
            self._disarm()

    return TimedHttpToolsProtocol


def uvicorn_options() -> dict[str, Any]:
    """Keyword arguments for every uvicorn.Config agent-trace builds."""
    return {
        "http": http_protocol(),
        "timeout_keep_alive": KEEP_ALIVE_S,
        "limit_concurrency": MAX_CONNECTIONS,
        "backlog": BACKLOG,
    }
