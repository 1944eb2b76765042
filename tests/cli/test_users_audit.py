"""`agent-trace users|teams|audit` and `report … --by`, typed the way people type them."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from agent_trace.config import load_settings
from agent_trace.store.factory import open_store
from tests.cli.test_cli import cli
from tests.server.access_world import build_world


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".agent-trace"


def _db(home: Path) -> Path:
    return home / "agent-trace.db"


def test_users_and_teams_lifecycle(home: Path) -> None:
    cli(home, "teams", "add", "platform", "--member-access", "content")
    added = json.loads(
        cli(
            home,
            "users",
            "add",
            "alice",
            "--email",
            "a@example.com",
            "--role",
            "admin",
            "--team",
            "platform",
            "--json",
        ).stdout
    )
    assert added["name"] == "alice" and added["role"] == "admin" and added["token"].startswith("at_")
    # Only a digest is stored: the token itself is nowhere in the database file.
    with sqlite3.connect(_db(home)) as db:
        stored = [r[0] for r in db.execute("SELECT token_hash FROM api_tokens")]
    assert added["token"] not in stored and len(stored[0]) == 64
    assert _db(home).read_bytes().find(added["token"].encode()) == -1
    plain = cli(home, "users", "add", "bob").stdout
    assert "shown once" in plain and "at_" in plain
    cli(home, "teams", "add-member", "platform", "bob")
    listed = json.loads(cli(home, "users", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["teams"], u["disabled"]) for u in listed] == [
        ("alice", "admin", ["platform"], False),
        ("bob", "member", ["platform"], False),
    ]
    teams = json.loads(cli(home, "teams", "list", "--json").stdout)
    assert teams == [
        {
            "name": "platform",
            "member_access": "content",
            "members": ["alice", "bob"],
            "created_ms": teams[0]["created_ms"],
        }
    ]
    rotated = json.loads(cli(home, "users", "token", "rotate", "bob", "--json").stdout)
    assert rotated["name"] == "bob" and rotated["token"].startswith("at_")
    cli(home, "users", "disable", "bob")
    assert json.loads(cli(home, "users", "list", "--json").stdout)[1]["disabled"] is True


@pytest.mark.parametrize(
    "args, message",
    [
        (("users", "add", "alice"), "already exists"),
        (("users", "disable", "nobody"), "no user 'nobody'"),
        (("users", "token", "rotate", "nobody"), "no user 'nobody'"),
        (("users", "add", "carol", "--team", "ghosts"), "no team 'ghosts'"),
        (("teams", "add-member", "platform", "nobody"), "no user 'nobody'"),
        (("users",), "say what to do"),
    ],
)
def test_mistakes_get_one_line_and_exit_2(home: Path, args: tuple[str, ...], message: str) -> None:
    cli(home, "teams", "add", "platform")
    cli(home, "users", "add", "alice")
    proc = cli(home, *args, check=False)
    assert proc.returncode == 2, proc
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_users_password_from_stdin(home: Path) -> None:
    cli(home, "users", "add", "alice")
    import subprocess
    import sys

    env = {"HOME": str(home.parent), "AGENT_TRACE_HOME": str(home), "USER": "dev", "PATH": ""}
    short = subprocess.run(
        [sys.executable, "-m", "agent_trace.cli.main", "users", "password", "alice"],
        input="short\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    ok = subprocess.run(
        [sys.executable, "-m", "agent_trace.cli.main", "users", "password", "alice"],
        input="a long enough password\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    listed = json.loads(cli(home, "users", "list", "--json").stdout)
    assert listed[0]["has_password"] is True


def test_audit_lists_every_change_and_verify_catches_edits_and_deletions(home: Path) -> None:
    cli(home, "teams", "add", "platform")
    cli(home, "users", "add", "alice", "--team", "platform")
    cli(home, "users", "token", "rotate", "alice")
    cli(home, "users", "role", "alice", "viewer")
    cli(home, "users", "disable", "alice")
    cli(home, "users", "enable", "alice")
    cli(home, "teams", "set-access", "platform", "content")
    entries = [json.loads(line) for line in cli(home, "audit", "--json").stdout.splitlines()]
    assert [e["action"] for e in entries] == [
        "team_add",
        "user_add",
        "token_rotate",
        "user_role",
        "user_disable",
        "user_enable",
        "settings_change",
    ]
    assert all(e["actor"] == "cli:dev" for e in entries)
    assert entries[-1]["detail"] == {"setting": "team member_access", "from": "metadata", "to": "content"}
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5, 6, 7]
    assert cli(home, "audit", "--since", "2020-01-01").stdout.count("\n") == 7
    assert cli(home, "audit", "--since", "2999-01-01").stdout == ""
    assert "intact: 7 entries" in cli(home, "audit", "verify").stdout

    with sqlite3.connect(_db(home)) as db:
        db.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3")
    proc = cli(home, "audit", "verify", check=False)
    assert proc.returncode == 1 and "entry 3" in proc.stderr and "edited" in proc.stderr
    with sqlite3.connect(_db(home)) as db:
        db.execute("UPDATE audit_log SET actor = 'cli:dev' WHERE seq = 3")
    assert cli(home, "audit", "verify").returncode == 0

    with sqlite3.connect(_db(home)) as db:  # a row removed from the middle
        db.execute("DELETE FROM audit_log WHERE seq = 4")
    report = json.loads(cli(home, "audit", "verify", "--json", check=False).stdout)
    assert report["ok"] is False and any("missing" in p["message"] for p in report["problems"])


def test_audit_verify_catches_the_newest_rows_deleted(home: Path) -> None:
    cli(home, "users", "add", "alice")
    cli(home, "users", "disable", "alice")
    with sqlite3.connect(_db(home)) as db:
        db.execute("DELETE FROM audit_log WHERE seq = 2")
    proc = cli(home, "audit", "verify", check=False)
    assert proc.returncode == 1 and "truncated" in proc.stderr


def test_audit_bad_since_is_one_line(home: Path) -> None:
    proc = cli(home, "audit", "--since", "yesterday-ish", check=False)
    assert proc.returncode == 2 and "--since" in proc.stderr and "Traceback" not in proc.stderr


def test_report_by_user_team_and_project(home: Path) -> None:
    settings = load_settings({"AGENT_TRACE_HOME": str(home), "HOME": str(home.parent), "USER": "dev"})
    store = open_store(settings.database_url, settings.events_url)
    build_world(store)
    store.close()
    common = ("--since", "2026-02-01", "--until", "2026-02-28", "--timezone", "UTC")
    by_user = json.loads(cli(home, "report", "daily", "--by", "user", *common, "--json").stdout)
    assert [
        (r["period"], r["group"], r["cost_nusd"], r["llm_calls"], r["active_developers"])
        for r in by_user["rows"]
    ] == [
        ("2026-02-02", "dave", 3_000_000, 1, 1),
        ("2026-02-02", "bob", 2_000_000, 1, 1),
        ("2026-02-02", "alice", 1_000_000, 1, 1),
    ]
    assert by_user["rows"][0]["top_models"] == ["claude-sonnet-4-5"] and by_user["rows"][0]["top_tools"] == [
        "Bash"
    ]
    by_team = json.loads(cli(home, "report", "monthly", "--by", "team", *common, "--json").stdout)
    assert [
        (r["period"], r["group"], r["cost_nusd"], r["active_developers"], r["sessions"])
        for r in by_team["rows"]
    ] == [
        ("2026-02", "core", 4_000_000, 2, 2),
        ("2026-02", "ops", 2_000_000, 1, 1),
    ]
    weekly = cli(home, "report", "weekly", "--by", "project", *common, "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(weekly)))
    assert [(r["period"], r["project"], r["cost_usd"], r["total_tokens"]) for r in rows] == [
        ("2026-02-02", "/work/dave-proj", "0.003000", "330"),
        ("2026-02-02", "/work/bob-proj", "0.002000", "220"),
        ("2026-02-02", "/work/alice-proj", "0.001000", "110"),
    ]
    table = cli(home, "report", "daily", "--by", "team", *common).stdout
    assert "core" in table and "ops" in table
    proc = cli(home, "report", "session", "--by", "user", check=False)
    assert proc.returncode == 2 and "--by" in proc.stderr


def test_serve_refuses_a_network_address_with_auth_off(home: Path) -> None:
    proc = cli(home, "serve", "--host", "0.0.0.0", check=False)
    assert proc.returncode == 2 and "refusing to listen on 0.0.0.0 with auth off" in proc.stderr
    assert "--insecure-no-auth" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "env, role, refused",
    [
        ({}, "all", False),  # loopback everywhere: the zero-config default
        ({"RUNTIME_HOST": "0.0.0.0"}, "api", True),
        ({"RUNTIME_HOST": "0.0.0.0", "AGENT_TRACE_AUTH": "on"}, "all", False),
        ({"OTEL_GRPC_ADDRESS": "0.0.0.0:4717"}, "collector", True),  # gRPC on the network too
        ({"OTEL_GRPC_ADDRESS": "0.0.0.0:4717"}, "api", False),  # the API serves no gRPC
        ({"RUNTIME_HOST": "::1"}, "all", False),
    ],
)
def test_which_binds_are_refused(env: dict[str, str], role: str, refused: bool) -> None:
    from agent_trace.server.listeners import exposure_problem
    from agent_trace.server.runtime import roles_for

    settings = load_settings({"HOME": "/tmp/nowhere", **env})
    assert (exposure_problem(settings, roles_for(role)) is not None) is refused
