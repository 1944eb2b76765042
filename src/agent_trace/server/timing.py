"""`Server-Timing: app;dur=…, cpu;dur=…` on every answer of the API and the dashboard.

`app` is the wall time from the request's arrival to its first byte (for a stream, SSE, to its
first byte only); `cpu` is the CPU time the process used meanwhile — the request's own cost when
it is the only one in flight, whatever else the machine is doing. Browsers show both in their
developer tools; bench/dashboard.py reports both.
"""

from __future__ import annotations

import time
from typing import Any

from agent_trace.server.security import ASGIApp, Receive, Scope, Send


class ServerTimingMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        cpu_started = time.process_time()

        async def send_with_timing(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                took = (time.perf_counter() - started) * 1000
                cpu = (time.process_time() - cpu_started) * 1000
                timing = f"app;dur={took:.1f}, cpu;dur={cpu:.1f}"
                message["headers"] = [*message.get("headers", []), (b"server-timing", timing.encode())]
            await send(message)

        await self.app(scope, receive, send_with_timing)
