"""`agent-trace db upgrade|downgrade|current`.

With AGENT_TRACE_EVENTS_URL set, `upgrade` and `current` cover ClickHouse too; `downgrade`
reverts the SQL side only (ClickHouse migrations go forward only: see store/clickhouse/migrate.py).
A downgrade drops the tables (and their data) of every revision it reverts, so it asks first on a
terminal and needs `--yes` otherwise.
"""

from __future__ import annotations

import argparse
import sys

from agent_trace.cli.errors import EXIT_USAGE, CliError, confirm
from agent_trace.config import Settings
from agent_trace.store.port import StoreAdmin


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.store.factory import open_store
    from agent_trace.store.sql.migrate import known_revisions

    action = args.db_command or "current"
    if action == "downgrade":
        known = known_revisions()
        if args.revision not in ("base", *known):
            raise CliError(
                f"db downgrade: unknown revision {args.revision!r} (known: base, {', '.join(known)})",
                EXIT_USAGE,
            )
    store: StoreAdmin = open_store(settings.database_url, settings.events_url, migrate=action == "upgrade")
    try:
        if action == "downgrade":
            revision = store.schema_revision()
            if revision is not None and args.revision != revision:
                what = "every table and all data" if args.revision == "base" else "the tables it added"
                confirm(
                    f"Downgrade {_where(settings)} from {revision} to {args.revision}? This drops {what} "
                    f"of the reverted revisions.",
                    args.yes,
                )
            store.downgrade_schema(args.revision)
        revision = store.schema_revision()
        events = store.events_schema()
    finally:
        store.close()
    print(f"schema revision: {revision or '(empty database)'}", file=sys.stdout)
    if events is not None:
        applied, newest = events
        print(f"events schema (ClickHouse): {applied or 0:04d} of {newest:04d}", file=sys.stdout)
    return 0


def _where(settings: Settings) -> str:
    if settings.sqlite_path is not None:
        return str(settings.sqlite_path)
    return settings.database_url.rsplit("@", 1)[-1]
