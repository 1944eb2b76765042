"""What every server role shares, built once and injected (no globals).

`AppContext` holds the settings, the store and `services`: a typed record of every long-lived
object the roles share. Only server/wiring.py fills it (each object on first use, whichever role
asks first), and the apps' lifespan starts and stops its background services (server/app.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from agent_trace.config import Settings
from agent_trace.store.port import Store

if TYPE_CHECKING:
    from agent_trace.server.access import Auditor
    from agent_trace.server.api.cache import ChangeValidatedCache
    from agent_trace.server.api.stream import ChangeHub, StreamConfig
    from agent_trace.server.budgets.guard import BudgetGuard
    from agent_trace.server.collector.pipeline import CollectorPipeline
    from agent_trace.server.dashboard.client import DataClient
    from agent_trace.server.identity_cache import IdentityCache


class Service(Protocol):
    """Something that runs beside the HTTP servers (the ingest writer thread, the gRPC server)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Background:
    """The services beside the HTTP servers, in start order (they stop in reverse).

    `--role all` serves three apps over one context: the first lifespan to begin starts them, the
    last to end stops them. Tests that run no server call start/stop themselves."""

    def __init__(self) -> None:
        self._services: list[Service] = []
        self._users = 0

    def add(self, service: Service) -> None:
        self._services.append(service)

    def __iter__(self) -> Iterator[Service]:
        return iter(list(self._services))

    def start(self) -> None:
        self._users += 1
        if self._users == 1:
            for service in self._services:
                service.start()

    def stop(self) -> None:
        self._users -= 1
        if self._users == 0:
            for service in reversed(self._services):
                service.stop()


@dataclass
class Services:
    """Every shared object, typed; None until server/wiring.py has built it."""

    background: Background = field(default_factory=Background)
    collector: CollectorPipeline | None = None
    budget_guard: BudgetGuard | None = None
    answers: ChangeValidatedCache | None = None  # the API's answer cache, shared by the dashboard
    hub: ChangeHub | None = None  # one store poll for every live stream
    data_client: DataClient | None = None  # the dashboard's
    identity_cache: IdentityCache | None = None  # auth on: token → user, shared by api/dashboard
    auditor: Auditor | None = None


@dataclass
class AppContext:
    settings: Settings
    store: Store
    # The writer thread's store; when None the collector opens its own (tests inject one to make
    # writes fail or wait).
    ingest_store: Store | None = None
    # The live streams' poll and heartbeat (tests shorten them); None: StreamConfig's defaults.
    stream_config: StreamConfig | None = None
    services: Services = field(default_factory=Services)
