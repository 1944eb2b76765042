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
    from agent_trace.server.listeners import exposure_problem
    from agent_trace.server.runtime import roles_for

    problem = exposure_problem(settings, roles_for(role))
    if problem is not None:
        if not (args.insecure_no_auth or settings.insecure_no_auth):
            raise CliError(f"serve: {problem}", EXIT_USAGE)
        logging.getLogger("agent_trace.server").warning(
            "WARNING: serving on %s WITHOUT authentication (--insecure-no-auth): anyone who can reach "
            "this address can read and write your data",
            settings.host,
        )
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    from agent_trace.server.ports import PortsUnavailable

    try:
        return serve(settings, role)
    except PortsUnavailable as exc:
        raise CliError(str(exc), EXIT_PORT_IN_USE) from None
