"""`agent-trace serve [--role all|collector|api|dashboard|collector,api]`."""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace

from agent_trace.cli.errors import EXIT_PORT_IN_USE, EXIT_USAGE, CliError
from agent_trace.config import Settings, normalize_role


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.server.runtime import serve

    try:
        role = normalize_role(args.role) if args.role else settings.role
    except ValueError as exc:
        raise CliError(f"serve: --role {args.role!r}: {exc}", EXIT_USAGE) from None
    if args.host:
        settings = replace(settings, host=args.host)
        # OTLP/gRPC follows --host like the HTTP roles, unless OTEL_GRPC_ADDRESS names another host.
        grpc_host, _, grpc_port = settings.otel_grpc_address.rpartition(":")
        if grpc_host == "127.0.0.1" and grpc_port:
            host = f"[{args.host}]" if ":" in args.host else args.host  # an IPv6 address
            settings = replace(settings, otel_grpc_address=f"{host}:{grpc_port}")
    problem = insecure_bind_problem(settings, role)
    if problem and not (args.insecure_no_auth or settings.insecure_no_auth):
        raise CliError(f"serve: {problem}", EXIT_USAGE)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    from agent_trace.server.ports import PortsUnavailable

    try:
        return serve(settings, role)
    except PortsUnavailable as exc:
        raise CliError(str(exc), EXIT_PORT_IN_USE) from None


def insecure_bind_problem(settings: Settings, role: str) -> str | None:
    """Why serving these settings would expose every prompt to the network, or None.

    Bound to loopback, only this machine can connect (and the Host check stops DNS rebinding).
    Bound to another address with auth off, anyone who can reach it reads every session and can
    post as anyone: refused unless `--insecure-no-auth` (or AGENT_TRACE_INSECURE_NO_AUTH=true,
    e.g. behind a proxy that authenticates) says so explicitly."""
    from agent_trace.server.security import is_loopback

    hosts = [settings.host]
    if role in ("all", "collector") or "collector" in role.split(","):
        hosts.append(settings.otel_grpc_address.rpartition(":")[0] or settings.host)
    exposed = [h for h in hosts if h and not is_loopback(h)]
    if settings.auth or not exposed:
        return None
    return (
        f"refusing to listen on {exposed[0]} with auth off: anyone who can reach it could read every "
        "session and send data as anyone. Turn auth on (AGENT_TRACE_AUTH=on, then `agent-trace users "
        "add`), bind 127.0.0.1, or pass --insecure-no-auth if something in front authenticates."
    )
