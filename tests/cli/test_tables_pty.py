"""Terminal tables in a real pseudo-terminal at 80 and 120 columns: every row keeps the full
short session id, the date and the cost; piped output has every column."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest

from agent_trace.cli.layout import Column, fit, table_width
from tests.fixtures.transcripts import Transcript, text_block, uid, usage

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _env(home: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home.parent),
        "AGENT_TRACE_HOME": str(home),
        "USER": "a.developer.with.a.long.name@example.com",
        "TZ": "UTC",
        "TERM": "xterm-256color",
    }


def in_pty(home: Path, columns: int, *args: str) -> str:
    """The command's output as a terminal of `columns` x 50 shows it (escape codes removed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = _env(home)
    env.pop("COLUMNS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_trace.cli.main", *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=env,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(60) == 0
    return ANSI.sub("", b"".join(chunks).decode("utf-8", "replace")).replace("\r\n", "\n")


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, list[str]]:
    home = tmp_path / "home"
    home.mkdir()
    ids = []
    for i in range(4):
        t = Transcript(uid(), cwd=f"/work/a-rather-long-project-folder-name-{i}")
        t.clock = (14 + i) * 3600
        t.prompt("please refactor the whole payment module and explain every change in detail " * 2)
        t.assistant(
            [text_block("ok")],
            u=usage(1234 * (i + 1), 56789, write_1h=98765),
            model="claude-sonnet-4-5-20250929",
        )
        t.assistant([text_block("ok")], u=usage(10, 20), model="claude-opus-4-5-20251101")
        t.write(tmp_path / "projects" / f"p{i}" / f"{t.session_id}.jsonl")
        ids.append(t.session_id)
    done = subprocess.run(
        [sys.executable, "-m", "agent_trace.cli.main", "import", str(tmp_path / "projects")],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return home, ids


def _rows(screen: str) -> list[str]:
    return [line for line in screen.splitlines() if line.startswith("│")]


@pytest.mark.parametrize("columns", [80, 120])
def test_sessions_fit_with_id_date_and_cost_in_every_row(
    history: tuple[Path, list[str]], columns: int
) -> None:
    home, ids = history
    screen = in_pty(home, columns, "sessions")
    assert all(len(line) <= columns for line in screen.splitlines()), screen
    rows = _rows(screen)  # data rows (the header is drawn with heavy lines)
    assert len(rows) == len(ids)
    costs = {s["session_id"][:8]: s["cost_usd"] for s in _sessions_json(home)}
    for row in rows:
        short = next(i[:8] for i in ids if i[:8] in row)
        assert re.search(r"2026-\d\d-\d\d \d\d:\d\d", row), row
        assert f"${costs[short]:,.2f}" in row, row
    assert "First prompt" in screen  # the column that says what a session was about stays
    if columns == 80:
        assert "Not shown at this width" in screen


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("kind", ["daily", "session"])
def test_reports_fit_with_date_and_cost_in_every_row(
    history: tuple[Path, list[str]], columns: int, kind: str
) -> None:
    home, _ = history
    screen = in_pty(home, columns, "report", kind)
    assert all(len(line) <= columns for line in screen.splitlines()), screen
    data = json.loads(
        subprocess.run(
            [sys.executable, "-m", "agent_trace.cli.main", "report", kind, "--json"],
            env=_env(home),
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout
    )
    rows = _rows(screen)
    key = "daily" if kind == "daily" else "sessions"
    for item in data[key]:
        label = item["date"] if kind == "daily" else item["session_id"][:8]
        (row,) = [r for r in rows if label in r]
        assert f"${item['cost_usd']:,.2f}" in row, row
        if kind == "session":
            assert re.search(r"2026-\d\d-\d\d \d\d:\d\d", row), row
    assert f"${data['totals']['cost_usd']:,.2f}" in screen


def test_piped_output_has_every_column_at_full_width(history: tuple[Path, list[str]]) -> None:
    home, _ = history
    out = subprocess.run(
        [sys.executable, "-m", "agent_trace.cli.main", "sessions"],
        env={**_env(home), "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    for name in (
        "Session",
        "Started",
        "Duration",
        "User",
        "Project",
        "Branch",
        "Tokens",
        "Cost",
        "First prompt",
    ):
        assert name in out
    assert "a.developer.with.a.long.name@example.com" in out and "Not shown" not in out
    assert "a-rather-long-project-folder-name-0" in out


def _sessions_json(home: Path) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "agent_trace.cli.main", "sessions", "--json"],
        env=_env(home),
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return json.loads(out)["sessions"]  # type: ignore[no-any-return]


def test_the_layout_keeps_essential_columns_and_drops_the_least_useful_first() -> None:
    columns = [
        Column("Id", 0, essential=True),
        Column("Note", 1, flex_min=6),
        Column("Useful", 2),
        Column("Spare", 9),
        Column("Cost", 0, essential=True, right=True),
    ]
    rows = [["abcdef12", "a long free text note", "useful!", "spare", "$1,234.56"]]
    assert [f.column.name for f in fit(columns, rows, None)] == ["Id", "Note", "Useful", "Spare", "Cost"]
    narrow = fit(columns, rows, 50)
    assert [f.column.name for f in narrow] == ["Id", "Note", "Useful", "Cost"]
    assert table_width([f.width for f in narrow]) <= 50
    tiny = fit(columns, rows, 10)  # never below the essential columns, whatever the width
    assert [f.column.name for f in tiny] == ["Id", "Cost"] and [f.width for f in tiny] == [8, 9]
