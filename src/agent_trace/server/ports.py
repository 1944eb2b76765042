"""Bind every port `serve` needs before any server starts or anything is announced.

The HTTP roles' sockets are bound here and handed to uvicorn (so there is no window in which
another process can take a port between the check and the start); the OTLP/gRPC port is
test-bound and released (grpcio binds its own). Every port that cannot be bound is named in one
error, with the setting that moves it.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

from agent_trace.config import Settings

PORT_SETTINGS = {
    "collector": "COLLECTOR_PORT",
    "api": "API_PORT",
    "dashboard": "DASHBOARD_PORT",
    "grpc": "OTEL_GRPC_ADDRESS",
}


class PortsUnavailable(OSError):
    """Ports that cannot be bound; the message names each, why, and the setting that moves it."""


@dataclass(frozen=True)
class Listen:
    name: str  # a role, or "grpc"
    host: str
    port: int


def listen_addresses(settings: Settings, roles: list[str], with_grpc: bool) -> list[Listen]:
    ports = {
        "collector": settings.collector_port,
        "api": settings.api_port,
        "dashboard": settings.dashboard_port,
    }
    out = [Listen(role, settings.host, ports[role]) for role in roles]
    if with_grpc:
        host, _, port = settings.otel_grpc_address.rpartition(":")
        if port.isdigit():
            out.append(Listen("grpc", host.strip("[]") or "0.0.0.0", int(port)))
    return out


def bind_all(addresses: list[Listen]) -> dict[str, socket.socket]:
    """A listening socket per HTTP role (the gRPC port only checked); PortsUnavailable naming
    every address that failed, after trying them all."""
    bound: dict[str, socket.socket] = {}
    failed: list[tuple[Listen, str]] = []
    for address in addresses:
        try:
            sock = _bind(address.host, address.port)
        except OSError as exc:
            failed.append((address, _why(exc)))
            continue
        if address.name == "grpc":
            sock.close()
        else:
            bound[address.name] = sock
    if failed:
        for sock in bound.values():
            sock.close()
        what = ", ".join(f"{a.host}:{a.port} ({a.name}: {why})" for a, why in failed)
        settings = ", ".join(sorted({PORT_SETTINGS[a.name] for a, _ in failed}))
        raise PortsUnavailable(
            f"cannot listen on {what}: stop what uses {'it' if len(failed) == 1 else 'them'}, "
            f"or choose other ports with {settings}"
        )
    return bound


def _bind(host: str, port: int) -> socket.socket:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _why(exc: OSError) -> str:
    import errno

    if exc.errno == errno.EADDRINUSE:
        return "already in use"
    if exc.errno == errno.EACCES:
        return "permission denied: ports below 1024 need privileges"
    if isinstance(exc, socket.gaierror) or exc.errno == errno.EADDRNOTAVAIL:
        return f"no such address on this machine ({exc.strerror or exc})"
    return exc.strerror or str(exc)
