"""`agent-trace`: the command-line entry point.

Start-up is kept lean on purpose (a whole-process `report daily --json` must answer in well
under 0.3 s): only argparse is imported here, and each command imports what it needs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent_trace import __version__


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", help="first local day to include (2026-02-11 or 20260211)")
    p.add_argument("--until", help="last local day to include (inclusive)")
    p.add_argument("--timezone", "-z", help="IANA time zone for days (default: config, else the system's)")
    p.add_argument("--project", help="project path, or its last folder name")
    p.add_argument("--model", help="only models whose name contains this")
    p.add_argument("--user", help="only this developer")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-trace",
        description="Self-hosted observability for AI coding agents: exact tokens and cost, replay, live sessions.",
    )
    parser.add_argument("--version", action="version", version=f"agent-trace {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("import", help="import Claude Code transcripts (incremental)")
    p.add_argument("paths", nargs="*", help="files or folders (default: Claude Code's projects folders)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    p = sub.add_parser("report", help="token and cost report")
    p.add_argument("kind", choices=("daily", "weekly", "monthly", "session"))
    _add_filters(p)
    p.add_argument("--breakdown", action="store_true", help="a line per model under each row")
    p.add_argument("--start-of-week", choices=("monday", "sunday"), default="monday")

    p = sub.add_parser("sessions", help="list sessions, latest first")
    _add_filters(p)
    p.add_argument("--limit", "-n", type=int, default=30)
    p.add_argument("--search", help="free text over titles, projects and prompts")

    p = sub.add_parser("show", help="a session prompt by prompt")
    p.add_argument("session_id", help="a session id (a unique prefix is enough)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--timezone", "-z")
    p.add_argument("--full", action="store_true", help="do not shorten prompts, outputs and responses")

    p = sub.add_parser("serve", help="run the collector, API and dashboard")
    p.add_argument(
        "--role",
        choices=("all", "collector", "api", "dashboard"),
        help="default: RUNTIME_SERVICE_ROLE or all",
    )
    p.add_argument("--host", help="address to bind (default 127.0.0.1; RUNTIME_HOST)")
    p.add_argument("--verbose", "-v", action="store_true")

    p = sub.add_parser("db", help="database schema")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dbsub.add_parser("upgrade", help="apply migrations up to the newest")
    down = dbsub.add_parser("downgrade", help="revert migrations down to REVISION")
    down.add_argument("revision")
    dbsub.add_parser("current", help="show the schema revision")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    from agent_trace.cli.errors import run_command

    return run_command(args, parser)


if __name__ == "__main__":
    sys.exit(main())
