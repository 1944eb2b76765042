"""Every expected failure is one line on stderr naming the thing and the fix, with the exit code
documented in docs/cli.md, and no traceback - run as the user runs it (a real process)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_trace.cli.errors import EXIT_FAILED, EXIT_PORT_IN_USE, EXIT_USAGE
from tests.cli.test_cli import cli
from tests.fixtures.transcripts import Transcript, text_block, uid, usage


def run(
    home: Path, *args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    return cli(home, *args, check=False, env=env, prefix=prefix)


def one_line(proc: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """The failure's single stderr line (asserting the exit code, no traceback, the words)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.fixture
def at_home(tmp_path: Path) -> Path:
    home = tmp_path / "agent-trace-home"
    home.mkdir()
    return home


@pytest.fixture
def imported(at_home: Path, tmp_path: Path) -> Path:
    t = Transcript(uid(), cwd="/work/alpha")
    t.clock = 14 * 3600
    t.prompt("alpha task", prompt_id="pa")
    t.assistant([text_block("hi")], u=usage(10, 100))
    path = t.write(tmp_path / "projects" / "-work-alpha" / f"{t.session_id}.jsonl")
    assert run(at_home, "import", str(path.parent)).returncode == 0
    return at_home


@pytest.mark.parametrize("damage", ["truncated", "random"])
@pytest.mark.parametrize("command", [("report", "daily"), ("sessions",), ("show", "abc"), ("db", "current")])
def test_a_damaged_database_is_named(imported: Path, damage: str, command: tuple[str, ...]) -> None:
    db = imported / "agent-trace.db"
    for extra in imported.glob("agent-trace.db-*"):
        extra.unlink()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3] if damage == "truncated" else os.urandom(8192))
    line = one_line(run(imported, *command), EXIT_FAILED, str(db), "backup")
    assert "damaged or not a SQLite database" in line


def test_a_read_only_home_still_reads_and_names_the_folder_on_write(imported: Path) -> None:
    unshare = shutil.which("unshare")
    if unshare is None or subprocess.run([unshare, "-U", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare -U (a user namespace) to take away root's write permission")
    os.chmod(imported / "agent-trace.db", 0o444)
    os.chmod(imported, 0o555)
    try:
        # In a user namespace root is an ordinary user for files it owns: the modes count.
        report = run(imported, "report", "daily", "--json", prefix=(unshare, "-U"))
        assert report.returncode == 0, report.stderr
        assert '"input_tokens": 10' in report.stdout
        line = one_line(
            run(imported, "import", str(imported), prefix=(unshare, "-U")), EXIT_FAILED, "read-only"
        )
        assert "AGENT_TRACE_HOME" in line
    finally:
        os.chmod(imported, 0o755)


def _busy_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    try:
        yield int(sock.getsockname()[1])
    finally:
        sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_names_every_busy_port_before_announcing_any(at_home: Path) -> None:
    busy_a, busy_b = _busy_port(), _busy_port()
    port_a, port_b = next(busy_a), next(busy_b)
    try:
        proc = run(
            at_home,
            "serve",
            env={
                "COLLECTOR_PORT": str(_free_port()),
                "API_PORT": str(port_a),
                "DASHBOARD_PORT": str(port_b),
                "OTEL_GRPC_ADDRESS": "off",
            },
        )
    finally:
        for gen in (busy_a, busy_b):
            gen.close()
    line = one_line(proc, EXIT_PORT_IN_USE, f":{port_a} (api: already in use)", f":{port_b} (dashboard")
    assert "API_PORT" in line and "DASHBOARD_PORT" in line
    assert "listening" not in proc.stdout + proc.stderr


def test_bad_settings_are_named_with_their_variable(imported: Path) -> None:
    one_line(run(imported, "sessions", env={"COLLECTOR_PORT": "70000"}), EXIT_USAGE, "COLLECTOR_PORT=70000")
    one_line(
        run(imported, "report", "daily", env={"AGENT_TRACE_TIMEZONE": "Mars/Base"}),
        EXIT_USAGE,
        "AGENT_TRACE_TIMEZONE 'Mars/Base'",
    )
    one_line(
        run(imported, "report", "daily", "--timezone", "Mars/Base"), EXIT_USAGE, "--timezone 'Mars/Base'"
    )
    (imported / "prices.toml").write_text("garbage = [\n")
    one_line(run(imported, "import", str(imported)), EXIT_USAGE, "prices.toml", "not valid TOML")
    (imported / "prices.toml").write_text('[models.x]\ninput = "abc"\n')
    one_line(run(imported, "import", str(imported)), EXIT_USAGE, "prices.toml", "must be a number")


def test_db_downgrade_checks_the_revision_and_asks_before_dropping(imported: Path) -> None:
    one_line(run(imported, "db", "downgrade", "nonsense"), EXIT_USAGE, "'nonsense'", "known: base")
    # Not a terminal: nothing is dropped without --yes.
    one_line(run(imported, "db", "downgrade", "base"), EXIT_USAGE, "--yes", "all data")
    assert '"input_tokens": 10' in run(imported, "report", "daily", "--json").stdout
    done = run(imported, "db", "downgrade", "base", "--yes")
    assert done.returncode == 0 and "(empty database)" in done.stdout


def test_db_current_on_an_unreachable_postgresql(at_home: Path) -> None:
    port = _free_port()
    line = one_line(
        run(
            at_home, "db", "current", env={"AGENT_TRACE_DATABASE_URL": f"postgresql://x@127.0.0.1:{port}/db"}
        ),
        EXIT_FAILED,
        "cannot reach the database",
    )
    assert "empty database" not in line


def test_a_base_install_names_the_postgres_extra(at_home: Path) -> None:
    # psycopg hidden as on `pip install agent-trace` without extras.
    code = (
        "import sys; sys.modules['psycopg'] = None; "
        "from agent_trace.cli.main import main; sys.exit(main(['db', 'current']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(at_home.parent),
            "AGENT_TRACE_HOME": str(at_home),
            "AGENT_TRACE_DATABASE_URL": "postgresql://x@127.0.0.1:5432/db",
        },
        timeout=60,
    )
    one_line(proc, EXIT_FAILED, "agent-trace[postgres]")


def test_debug_shows_the_traceback(imported: Path) -> None:
    (imported / "agent-trace.db").write_bytes(os.urandom(4096))
    for extra in imported.glob("agent-trace.db-*"):
        extra.unlink()
    for proc in (
        run(imported, "sessions", "--debug"),
        run(imported, "--debug", "sessions"),
        run(imported, "sessions", env={"AGENT_TRACE_DEBUG": "1"}),
    ):
        assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_empty_results_say_why(imported: Path) -> None:
    one_line(
        run(imported, "report", "daily", "--since", "2026-03-01", "--until", "2026-02-01"),
        EXIT_USAGE,
        "--since 2026-03-01 is after --until 2026-02-01",
    )
    out = run(imported, "report", "daily", "--project", "nope").stdout
    assert "No usage match --project 'nope'" in out and "import" not in out
    out = run(imported, "sessions", "--search", "zzz").stdout
    assert "No sessions match --search 'zzz'" in out


def test_every_option_has_help() -> None:
    import argparse

    from agent_trace.cli.main import build_parser

    def walk(parser: argparse.ArgumentParser, path: str) -> Iterator[str]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{path} {name}")
            elif not action.help and action.option_strings:
                yield f"{path} {action.option_strings[0]}"

    assert list(walk(build_parser(), "agent-trace")) == []
    serve_help = run(Path("/tmp/x"), "serve", "--help").stdout
    assert "COLLECTOR_PORT" in serve_help and "DASHBOARD_PORT" in serve_help


def test_unexpected_errors_are_one_line_too() -> None:
    from agent_trace.cli.errors import EXIT_BUG, explain

    message, code = explain(RuntimeError("boom\nsecond line"))
    assert code == EXIT_BUG and "\n" not in message and "--debug" in message and "boom" in message
    message, code = explain(PermissionError(13, "Permission denied", "/x/prices.toml"))
    assert code == EXIT_FAILED and message == "/x/prices.toml: Permission denied"
