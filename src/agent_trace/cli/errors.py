"""The CLI's one error rendering: every failure a command lets through becomes one line on
stderr (what went wrong, with what, and how to fix it) and a documented exit code. Commands
are dispatched by cli/main.py.

Exit codes (docs/cli.md keeps the same table):

    0   done
    1   something the command needs is missing or unusable: the database (damaged, read-only,
        unreachable), a session, a file; for `status`: capture would not work
    2   a bad option, setting or settings file (config.toml, prices.toml, an env variable)
    3   a port `serve` needs is already in use
    70  a bug: an unexpected error (one line; `--debug` shows the traceback)
    130 interrupted (Ctrl-C)

`--debug` (or AGENT_TRACE_DEBUG=1) re-raises instead, so the full traceback is printed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PORT_IN_USE = 3
EXIT_BUG = 70
EXIT_INTERRUPTED = 130

DEBUG_ENV = "AGENT_TRACE_DEBUG"


class CliError(Exception):
    """An expected failure: `message` is the whole line the user sees (after `agent-trace: `)."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code


def debug_wanted(flag: bool, env: dict[str, str] | None = None) -> bool:
    value = (os.environ if env is None else env).get(DEBUG_ENV, "")
    return flag or value.strip().lower() in ("1", "true", "yes", "on")


def render_error(exc: BaseException, sqlite_path: Path | None = None) -> int:
    """Show what a command let through as the CLI shows every failure, and its exit code: one
    line on stderr; nothing for a reader that went away (`| head`), which is not an error."""
    if isinstance(exc, BrokenPipeError):
        _silence_stdout()  # the flush at exit too
        return EXIT_OK
    if isinstance(exc, KeyboardInterrupt):
        print("agent-trace: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    message, code = explain(exc, sqlite_path)
    print(f"agent-trace: {message}", file=sys.stderr)
    return code


def explain(exc: BaseException, sqlite_path: Path | None = None) -> tuple[str, int]:
    """One line and an exit code for any exception a command let through."""
    from agent_trace.config import ConfigError
    from agent_trace.domain.pricing import PriceFileError
    from agent_trace.reports.periods import PeriodError
    from agent_trace.store.factory import StoreUnavailable, describe_database_error, first_line

    if isinstance(exc, CliError):
        return str(exc), exc.code
    if isinstance(exc, (ConfigError, PeriodError)):
        return str(exc), EXIT_USAGE
    if isinstance(exc, PriceFileError):
        return f"{exc} (fix the file, or remove it to use the built-in prices)", EXIT_USAGE
    if isinstance(exc, StoreUnavailable):
        return first_line(str(exc)), EXIT_FAILED
    described = describe_database_error(exc, sqlite_path)
    if described is not None:
        return described, EXIT_FAILED
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror or exc}", EXIT_FAILED
    return (
        f"unexpected error: {type(exc).__name__}: {first_line(str(exc))} "
        f"(this is a bug; run again with --debug or {DEBUG_ENV}=1 for the traceback)",
        EXIT_BUG,
    )


def confirm(question: str, yes: bool) -> None:
    """Destructive commands: ask on a terminal, require `--yes` otherwise; CliError when not confirmed."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{question} Not asked (no terminal): add --yes to confirm.", EXIT_USAGE)
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        raise CliError("cancelled; nothing changed.", EXIT_FAILED)


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
