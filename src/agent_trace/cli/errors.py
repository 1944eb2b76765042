"""Dispatch to a command and turn expected failures into one clear line and an exit code."""

from __future__ import annotations

import argparse
import sys


def run_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from agent_trace.config import ConfigError, load_settings
    from agent_trace.reports.periods import PeriodError

    try:
        settings = load_settings()
        if args.command == "import":
            from agent_trace.cli.import_cmd import cmd_import

            return cmd_import(args, settings)
        if args.command == "report":
            from agent_trace.cli.report_cmd import cmd_report

            return cmd_report(args, settings)
        if args.command == "git":
            from agent_trace.cli.git_cmd import cmd_git

            return cmd_git(args, settings)
        if args.command == "sessions":
            from agent_trace.cli.report_cmd import cmd_sessions

            return cmd_sessions(args, settings)
        if args.command == "show":
            from agent_trace.cli.show_cmd import cmd_show

            return cmd_show(args, settings)
        if args.command == "serve":
            from agent_trace.cli.serve_cmd import cmd_serve

            return cmd_serve(args, settings)
        if args.command == "db":
            from agent_trace.cli.db_cmd import cmd_db

            return cmd_db(args, settings)
        if args.command == "init":
            from agent_trace.cli.init_cmd import cmd_init

            return cmd_init(args, settings)
        if args.command == "status":
            from agent_trace.cli.status_cmd import cmd_status

            return cmd_status(args, settings)
        if args.command == "uninstall":
            from agent_trace.cli.uninstall_cmd import cmd_uninstall

            return cmd_uninstall(args, settings)
    except (ConfigError, PeriodError) as exc:
        print(f"agent-trace: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("agent-trace: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        from agent_trace.store.factory import StoreUnavailable

        if isinstance(exc, StoreUnavailable):
            print(f"agent-trace: {exc}", file=sys.stderr)
            return 1
        raise
    parser.error(f"unknown command {args.command!r}")
    return 2
