"""`agent-trace serve [--role all|collector|api|dashboard]`."""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace

from agent_trace.config import VALID_ROLES, Settings


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.server.runtime import serve

    role = args.role or settings.role
    if role not in VALID_ROLES:
        print(f"agent-trace serve: --role {role!r}: must be one of {', '.join(VALID_ROLES)}", file=sys.stderr)
        return 2
    if args.host:
        settings = replace(settings, host=args.host)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(name)s %(message)s"
    )
    return serve(settings, role)
