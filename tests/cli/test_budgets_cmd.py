"""`agent-trace budgets …` as users type it, and budgets in `agent-trace status`."""

from __future__ import annotations

import json
import time
from pathlib import Path

from agent_trace.domain.records import LlmCall, RecordBatch, Session, Usage
from tests.cli.test_install import cli
from tests.cli.test_install import user_home as user_home  # the fixture
from tests.fixtures.stores import sqlite_store_at


def test_set_list_rm(user_home: Path) -> None:
    done = cli(
        user_home, "budgets", "set", "--scope", "all", "--period", "month", "--usd", "500", "--mode", "block"
    )
    assert (
        done.returncode == 0
        and done.stdout == "budget all/month/usd: $500.00 per month, block, alerts at 50,80,100%\n"
    )
    assert (
        cli(
            user_home,
            "budgets",
            "set",
            "--scope",
            "user:ana",
            "--period",
            "day",
            "--tokens",
            "2m",
            "--thresholds",
            "80,100",
        ).returncode
        == 0
    )
    assert cli(user_home, "budgets", "set", "--scope", "session", "--usd", "5").returncode == 0
    table = cli(user_home, "budgets", "list")
    assert table.returncode == 0
    for text in (
        "all/month/usd",
        "$500.00",
        "user:ana/day/tokens",
        "2,000,000 tokens",
        "80,100",
        "session/session/usd",
    ):
        assert text in table.stdout
    listed = json.loads(cli(user_home, "budgets", "list", "--json").stdout)
    assert [(b["id"], b["mode"], b["spent_raw"]) for b in listed["budgets"]] == [
        ("all/month/usd", "block", 0), ("session/session/usd", "warn", 0), ("user:ana/day/tokens", "warn", 0),
    ]  # fmt: skip
    assert cli(user_home, "budgets", "rm", "user:ana/day/tokens").returncode == 0
    removed = cli(user_home, "budgets", "rm", "--scope", "all", "--period", "month")
    assert removed.returncode == 0 and removed.stdout == "removed budget all/month/usd\n"
    missing = cli(user_home, "budgets", "rm", "all/month/usd")
    assert missing.returncode == 1 and "no budget all/month/usd" in missing.stderr


def test_bad_input_is_one_line_and_exit_2(user_home: Path) -> None:
    for args, message in [
        (("--scope", "everyone", "--usd", "1"), "scope 'everyone': expected all, session"),
        (("--scope", "all", "--usd", "0"), "--usd '0': must be more than 0"),
        (("--scope", "all", "--period", "year", "--usd", "1"), "period 'year'"),
        (("--scope", "session", "--period", "day", "--usd", "1"), "--period must be session"),
        (("--scope", "all", "--tokens", "lots"), "--tokens 'lots'"),
        (("--scope", "all", "--usd", "1", "--thresholds", "0,50"), "--thresholds"),
    ]:
        result = cli(user_home, "budgets", "set", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert (
            result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr
        )
    both = cli(user_home, "budgets", "set", "--scope", "all", "--usd", "1", "--tokens", "5")
    assert both.returncode == 2 and "not allowed with argument" in both.stderr
    assert cli(user_home, "budgets").returncode == 2
    assert cli(user_home, "budgets", "rm").returncode == 2


def test_allow_takes_a_unique_prefix_and_status_shows_spent_budgets(user_home: Path) -> None:
    store = sqlite_store_at(user_home / ".agent-trace" / "agent-trace.db")
    try:
        now = time.time_ns() // 1_000_000
        store.write(RecordBatch(
            sessions=[Session("abc12345-0000", user_id="dev"), Session("abd99999-0000", user_id="dev")],
            llm_calls=[LlmCall("c1", "abc12345-0000", model="m", ts_ms=now, usage=Usage(1, 1), cost_nusd=3_000_000_000)],
        ))  # fmt: skip
    finally:
        store.close()
    assert cli(user_home, "budgets", "allow", "--session", "ab").returncode == 2  # two sessions match
    assert cli(user_home, "budgets", "allow", "--session", "zz").returncode == 1
    allowed = cli(user_home, "budgets", "allow", "--session", "abc")
    assert allowed.returncode == 0 and "abc12345-0000" in allowed.stdout
    assert json.loads(cli(user_home, "budgets", "list", "--json").stdout)["allowed_sessions"] == [
        "abc12345-0000"
    ]

    assert (
        cli(
            user_home,
            "budgets",
            "set",
            "--scope",
            "user:dev",
            "--period",
            "week",
            "--usd",
            "2",
            "--mode",
            "block",
        ).returncode
        == 0
    )
    assert cli(user_home, "budgets", "set", "--scope", "all", "--period", "day", "--usd", "5").returncode == 0
    status = cli(user_home, "status", "--json")
    lines = json.loads(status.stdout)["budgets"]["lines"]
    assert lines == [
        "budget all/day/usd: 60% — $3.00 of $5.00",
        "budget user:dev/week/usd: SPENT — $3.00 of $2.00, prompts blocked",
    ]
    assert "budgets     budget all/day/usd: 60% — $3.00 of $5.00" in cli(user_home, "status").stdout
