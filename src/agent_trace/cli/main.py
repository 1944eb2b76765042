"""`agent-trace`: the command-line entry point.

Start-up is kept lean on purpose (a whole-process `report daily --json` must answer in well
under 0.3 s): only argparse is imported here, and each command imports what it needs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from agent_trace import __version__
from agent_trace.cli.remote_args import add_remote_options

TYPE_CHECKING = False  # `typing` is not imported on the lean start-up path
if TYPE_CHECKING:
    from agent_trace.config import Settings

# Agents `init --agent` / `uninstall --agent` configure.
AGENTS = ("claude-code", "codex", "gemini", "qwen", "opencode")


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", help="first local day to include (2026-02-11 or 20260211)")
    p.add_argument("--until", help="last local day to include (inclusive)")
    p.add_argument("--timezone", "-z", help="IANA time zone for days (default: config, else the system's)")
    p.add_argument("--project", help="project path, or its last folder name")
    p.add_argument("--model", help="only models whose name contains this")
    p.add_argument("--user", help="only this developer")
    p.add_argument("--agent", help="only this agent: claude-code, codex, gemini, qwen, opencode")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    add_remote_options(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-trace",
        description="Self-hosted observability for AI coding agents: exact tokens and cost, replay, live sessions.",
    )
    parser.add_argument("--version", action="version", version=f"agent-trace {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the full traceback of an error (also AGENT_TRACE_DEBUG=1); may follow the command too",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "import", help="import agent transcripts (Claude Code, Codex, Gemini CLI, Qwen Code, OpenCode)"
    )
    p.add_argument("paths", nargs="*", help="files or folders (default: every agent's own session store)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")

    p = sub.add_parser("report", help="token and cost report")
    p.add_argument("kind", choices=("daily", "weekly", "monthly", "session", "outcomes"))
    _add_filters(p)
    p.add_argument("--breakdown", action="store_true", help="a line per model under each row")
    p.add_argument(
        "--start-of-week",
        choices=("monday", "sunday"),
        default="monday",
        help="the first day of a weekly row (default monday)",
    )
    p.add_argument(
        "--by",
        choices=("user", "team", "project"),
        help="team analytics: a row per period and developer, team or project (default range: 30 days)",
    )
    p.add_argument("--csv", action="store_true", help="with --by: CSV on stdout")

    p = sub.add_parser("git", help="git outcomes of the sessions (commits, merges, reverts)")
    gitsub = p.add_subparsers(dest="git_command", metavar="ACTION")
    scan = gitsub.add_parser(
        "scan", help="link local git history to sessions: commits, default branch, reverts"
    )
    scan.add_argument(
        "repos", nargs="*", metavar="REPO", help="repositories (default: those the sessions ran in)"
    )
    scan.add_argument(
        "--default-branch", help="the branch that counts as shipped (default: origin/HEAD, main, master)"
    )
    scan.add_argument("--json", action="store_true", help="print the summary as JSON")

    p = sub.add_parser("sessions", help="list sessions, latest first")
    _add_filters(p)
    p.add_argument("--limit", "-n", type=int, default=30, help="at most this many sessions (default 30)")
    p.add_argument("--search", help="free text over titles, projects and prompts")

    p = sub.add_parser("show", help="a session prompt by prompt")
    p.add_argument("session_id", help="a session id (a unique prefix is enough)")
    p.add_argument("--json", action="store_true", help="the same structure as the API's /v1/sessions/{id}")
    p.add_argument("--timezone", "-z", help="IANA time zone for times (default: config, else the system's)")
    p.add_argument("--full", action="store_true", help="do not shorten prompts, outputs and responses")
    add_remote_options(p)

    p = sub.add_parser(
        "serve",
        help="run the collector, API and dashboard",
        description="Run the collector (port 8317, OTLP/gRPC 4717), the API (8318) and the dashboard "
        "(3100). Change the ports with COLLECTOR_PORT, API_PORT, DASHBOARD_PORT and OTEL_GRPC_ADDRESS "
        "(host:port, or off), in the environment or in config.toml (collector_port, api_port, "
        "dashboard_port, otel_grpc_address). Every port is checked before any server starts; a port "
        "in use exits with code 3.",
    )
    p.add_argument(
        "--role",
        metavar="ROLE",
        help="all | collector | api | dashboard, or a comma-separated list such as collector,api "
        "(default: RUNTIME_SERVICE_ROLE or all)",
    )
    p.add_argument("--host", help="address to bind (default 127.0.0.1; RUNTIME_HOST)")
    p.add_argument(
        "--insecure-no-auth",
        action="store_true",
        help="serve a non-loopback address with auth off and no token (anyone who reaches it reads "
        "everything; refused otherwise; AGENT_TRACE_INSECURE_NO_AUTH=1)",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="log every request and start-up step")

    p = sub.add_parser("db", help="database schema")
    dbsub = p.add_subparsers(dest="db_command", metavar="ACTION")
    dbsub.add_parser("upgrade", help="apply migrations up to the newest")
    down = dbsub.add_parser(
        "downgrade", help="revert migrations down to REVISION (drops their tables; asks first)"
    )
    down.add_argument("revision", help="a revision id (see `db current`), or base to drop everything")
    down.add_argument("--yes", "-y", action="store_true", help="do not ask (needed when not on a terminal)")
    dbsub.add_parser("current", help="show the schema revision")

    # Live capture (options spelled out here, not imported: every command pays for main's imports).
    p = sub.add_parser("init", help="send Claude Code's hooks and telemetry to a collector")
    p.add_argument(
        "--agent",
        choices=AGENTS,
        default="claude-code",
        help="which agent to configure (codex: [otel] in ~/.codex/config.toml; gemini / qwen: telemetry in ~/.gemini or ~/.qwen settings.json; opencode: a plugin in ~/.config/opencode/plugin)",
    )
    p.add_argument(
        "--collector-url", help="the collector (default: the recorded one, else http://127.0.0.1:8317)"
    )
    p.add_argument(
        "--privacy-tier",
        type=int,
        choices=(1, 2, 3),
        help="1 metadata, 2 + prompts and tool I/O, 3 + responses",
    )
    p.add_argument(
        "--scope", choices=("user", "project", "local"), default="user", help="which Claude settings file"
    )
    p.add_argument(
        "--project-dir", help="the project for --scope project/local (default: the current folder)"
    )
    p.add_argument("--token", help="ingest token (default: the recorded one, else AGENT_TRACE_INGEST_TOKEN)")
    p.add_argument(
        "--otlp-protocol",
        choices=("http/protobuf", "http/json", "grpc"),
        help="OTLP export (default http/protobuf)",
    )
    p.add_argument(
        "--hook-transport",
        choices=("auto", "http", "command"),
        default="auto",
        help="http: most events post straight to the collector; command: every event runs the local handler "
        "(tier + redaction before sending); auto (default): http for a loopback collector, else command",
    )
    p.add_argument(
        "--events",
        choices=("lean", "all"),
        help="all: also hook PostToolBatch (once per tool batch, a few ms each); "
        "default: the recorded choice, else lean",
    )
    p.add_argument("--dry-run", action="store_true", help="print the changes as a diff; write nothing")

    p = sub.add_parser("status", help="is live capture installed and working?")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--project-dir", help="the project whose .claude/ settings to inspect (default: here)")

    p = sub.add_parser("uninstall", help="remove exactly what init added")
    p.add_argument("--agent", choices=AGENTS, default="claude-code", help="which agent's configuration")
    p.add_argument("--scope", choices=("user", "project", "local"), help="only this settings file")
    p.add_argument(
        "--project-dir", help="the project for --scope project/local (default: the current folder)"
    )
    p.add_argument("--dry-run", action="store_true", help="print the changes as a diff; write nothing")

    # Identity and access (issue 15): the subcommands live with their code.
    from agent_trace.cli import audit_cmd, users_cmd

    users_cmd.add_parsers(sub)
    audit_cmd.add_parsers(sub)
    from agent_trace.cli.budgets_cmd import add_parser as add_budgets_parser

    add_budgets_parser(sub)

    p = sub.add_parser("hook-handler", help="the command Claude Code runs on a hook (payload on stdin)")
    p.add_argument("--flush", action="store_true", help="deliver everything spooled, then exit")
    p.add_argument("--wait", metavar="SECONDS", help="with --flush: first wait for running hook workers")
    p.add_argument(
        "--retry-rejected",
        action="store_true",
        help="with --flush: first queue again the payloads the collector refused (spool/rejected/)",
    )
    p.add_argument("--background", action="store_true", help=argparse.SUPPRESS)
    p.add_argument(
        "--quiet", "-q", action="store_true", help="with --flush: print nothing (the exit code still tells)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    if args_list[:1] == ["hook-handler"]:
        # Claude Code may run this on every hook: skip argparse and the other commands entirely.
        from agent_trace.hook.handler import main as hook_main

        return hook_main(args_list[1:])
    parser = build_parser()
    # `--debug` is accepted anywhere on the line (`agent-trace report daily --debug`).
    debug = "--debug" in args_list
    args = parser.parse_args([a for a in args_list if a != "--debug"])
    args.debug = debug
    if not args.command:
        parser.print_help()
        return 2
    return run_command(args, parser)


# command → (module, function); imported only when run, so start-up stays lean.
COMMANDS = {
    "import": ("agent_trace.cli.import_cmd", "cmd_import"),
    "report": ("agent_trace.cli.report_cmd", "cmd_report"),
    "git": ("agent_trace.cli.git_cmd", "cmd_git"),
    "sessions": ("agent_trace.cli.report_cmd", "cmd_sessions"),
    "show": ("agent_trace.cli.show_cmd", "cmd_show"),
    "serve": ("agent_trace.cli.serve_cmd", "cmd_serve"),
    "db": ("agent_trace.cli.db_cmd", "cmd_db"),
    "init": ("agent_trace.cli.init_cmd", "cmd_init"),
    "status": ("agent_trace.cli.status_cmd", "cmd_status"),
    "uninstall": ("agent_trace.cli.uninstall_cmd", "cmd_uninstall"),
    "users": ("agent_trace.cli.users_cmd", "cmd_users"),
    "teams": ("agent_trace.cli.users_cmd", "cmd_teams"),
    "audit": ("agent_trace.cli.audit_cmd", "cmd_audit"),
    "budgets": ("agent_trace.cli.budgets_cmd", "cmd_budgets"),
}


def run_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run the parsed command with the settings; whatever it lets through is rendered by
    cli/errors.py (`--debug`: raised, for the traceback)."""
    from agent_trace.cli.errors import debug_wanted, render_error
    from agent_trace.config import load_settings

    debug = debug_wanted(bool(getattr(args, "debug", False)))
    settings: Settings | None = None
    try:
        settings = load_settings()
        if args.command not in COMMANDS:
            parser.error(f"unknown command {args.command!r}")
        from importlib import import_module

        module, function = COMMANDS[args.command]
        result: int = getattr(import_module(module), function)(args, settings)
        return result
    except (BrokenPipeError, KeyboardInterrupt) as exc:
        return render_error(exc)
    except Exception as exc:
        if debug:
            raise
        return render_error(exc, settings.sqlite_path if settings else None)


if __name__ == "__main__":
    sys.exit(main())
