"""Is there an agent-trace collector at this URL, and does it take our token?

Shared by `init` (a warning: spooling covers a collector that is down) and `status` (a non-zero
exit). Two requests, 1 s timeout each: `GET /health` (who answers: agent-trace's health names its
role and version) and, when that is the collector, an empty `POST /v1/hooks` - answered 401
before the body is read when the token is missing or wrong, else 400 (an empty payload is
refused, nothing is stored).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

TIMEOUT_S = 1.0


@dataclass
class Probe:
    url: str
    ok: bool = False
    problem: str | None = None  # what is wrong, one phrase
    fix: str | None = None  # what to do about it
    status: int | None = None
    latency_ms: float | None = None
    health: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url, "ok": self.ok}
        for key in ("problem", "fix", "status", "latency_ms"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.health:
            out["health"] = self.health
        if self.problem:
            out["error"] = self.problem
        return out


def probe_collector(base_url: str, token: str | None) -> Probe:
    from agent_trace.hook.transport import TransportError, request

    probe = Probe(url=base_url)
    started = time.monotonic()
    try:
        status, body = request("GET", base_url + "/health", None, TIMEOUT_S, token=token)
    except TransportError as exc:
        probe.problem = f"does not answer ({exc})"
        probe.fix = "start the collector (`agent-trace serve`), or check the host and port in --collector-url"
        return probe
    probe.status = status
    probe.latency_ms = round((time.monotonic() - started) * 1000, 1)
    try:
        health = json.loads(body)
    except ValueError:
        health = None
    if not isinstance(health, dict) or "version" not in health or "role" not in health:
        probe.problem = f"answers, but not as an agent-trace collector (HTTP {status} for /health)"
        probe.fix = (
            "check the host and port: the collector listens on 8317 unless COLLECTOR_PORT says otherwise"
        )
        return probe
    probe.health = health
    roles = str(health.get("role", "")).split(",")
    if "collector" not in roles and "all" not in roles:
        probe.problem = f"is the agent-trace {health.get('role')}, not the collector"
        probe.fix = "use the collector's port (8317 unless COLLECTOR_PORT says otherwise)"
        return probe
    if status != 200:
        failing = ", ".join(f"{k} {v}" for k, v in health.items() if str(v).startswith("error"))
        probe.problem = f"answers, but its database is failing ({failing or f'HTTP {status}'})"
        probe.fix = "see the collector's log; `agent-trace db current` on the collector's machine"
        return probe
    try:
        auth_status, _ = request("POST", base_url + "/v1/hooks", b"", TIMEOUT_S, token=token)
    except TransportError as exc:
        probe.problem = f"does not answer a hook ({exc})"
        probe.fix = "see the collector's log"
        return probe
    if auth_status == 401:
        probe.problem = "refuses the ingest token (a wrong token)" if token else "needs an ingest token"
        probe.fix = "run `agent-trace init --token TOKEN` with the collector's AGENT_TRACE_INGEST_TOKEN"
        return probe
    probe.ok = True
    return probe
