"""What every server role shares, built once and injected (no globals)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from agent_trace.config import Settings
from agent_trace.store.port import Store


class Service(Protocol):
    """Something that runs beside the HTTP servers (the ingest writer thread, the gRPC server)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class AppContext:
    settings: Settings
    store: Store
    services: list[Service] = field(default_factory=list)
    # Role-specific objects (the collector's ingest queue, the dashboard's API client, ...),
    # keyed by name; each role's module documents what it puts here.
    parts: dict[str, Any] = field(default_factory=dict)
