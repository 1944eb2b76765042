"""`agent-trace db upgrade|downgrade|current`."""

from __future__ import annotations

import argparse
import sys

from agent_trace.config import Settings


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.store.factory import open_store
    from agent_trace.store.sql.migrate import current_revision, downgrade

    action = args.db_command or "current"
    store = open_store(settings, migrate=action == "upgrade")
    try:
        runner = store.runner  # type: ignore[attr-defined]
        if action == "downgrade":
            downgrade(runner, args.revision)
        revision = current_revision(runner)
    finally:
        store.close()
    print(f"schema revision: {revision or '(empty database)'}", file=sys.stdout)
    return 0
