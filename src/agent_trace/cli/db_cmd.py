"""`agent-trace db upgrade|downgrade|current`.

With AGENT_TRACE_EVENTS_URL set, `upgrade` and `current` cover ClickHouse too; `downgrade`
reverts the SQL side only (ClickHouse migrations go forward only: see store/clickhouse/migrate.py).
"""

from __future__ import annotations

import argparse
import sys

from agent_trace.config import Settings


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.store.factory import open_store
    from agent_trace.store.sql.migrate import current_revision, downgrade

    action = args.db_command or "current"
    store = open_store(settings, migrate=action == "upgrade")
    events: tuple[int | None, int] | None = None
    try:
        runner = store.runner  # type: ignore[attr-defined]
        if action == "downgrade":
            downgrade(runner, args.revision)
        revision = current_revision(runner)
        events_schema = getattr(store, "events_schema", None)
        if events_schema is not None:
            events = events_schema()
    finally:
        store.close()
    print(f"schema revision: {revision or '(empty database)'}", file=sys.stdout)
    if events is not None:
        applied, newest = events
        print(f"events schema (ClickHouse): {applied or 0:04d} of {newest:04d}", file=sys.stdout)
    return 0
