"""Remote mode, typed the way people type it: `agent-trace sessions --server URL --token T` (or
AGENT_TRACE_SERVER / AGENT_TRACE_TOKEN, or the token `init --token` recorded) against a real
`agent-trace serve` with auth on. The server's roles decide what each person sees, and the output
is the local command's output for the same store."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_trace.config import load_settings
from agent_trace.domain.records import LlmCall, RecordBatch, Usage
from agent_trace.store.factory import open_store
from tests.browser.conftest import _wait_healthy, free_port
from tests.cli.test_cli import cli
from tests.server.access_world import T0, World, build_world, secret, session_id

AUTH = {"AGENT_TRACE_AUTH": "on"}
RANGE = ("--since", "2026-02-01", "--until", "2026-02-28", "--timezone", "UTC")


class Server:
    def __init__(self, home: Path, world: World, url: str) -> None:
        self.home, self.world, self.url = home, world, url

    def run(self, who: str | None, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`agent-trace ARGS --server URL [--token T]` as `who` (None: no token at all)."""
        token = ("--token", self.world.tokens[who]) if who else ()
        return cli(self.home, *args, "--server", self.url, *token, check=check)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("remote") / "home" / ".agent-trace"
    settings = load_settings({"AGENT_TRACE_HOME": str(home), "HOME": str(home.parent), "USER": "dev"})
    store = open_store(settings.database_url, settings.events_url)
    world = build_world(store)
    # Claude Code's own figure for one call, so `report session` has a reconciliation to show.
    reported = LlmCall(
        call_id="c-alice",
        session_id=session_id("alice"),
        prompt_id="p-alice",
        ts_ms=T0 + 1000,
        model="claude-sonnet-4-5",
        usage=Usage(input_tokens=100, output_tokens=10),
        cost_nusd=1_000_000,
        reported_cost_nusd=1_000_700,
    )
    store.write(RecordBatch(llm_calls=[reported]))
    store.refresh_derived()
    store.close()
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home.parent),
        "AGENT_TRACE_HOME": str(home),
        "API_PORT": str(port),
        "TZ": "UTC",
        **AUTH,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_trace.cli.main", "serve", "--role", "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc)
        yield Server(home, world, url)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _one_line(proc: subprocess.CompletedProcess[str], code: int, *parts: str) -> str:
    assert proc.returncode == code, proc
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line, line
    for part in parts:
        assert part in line, line
    return line


def test_a_viewer_gets_numbers_and_no_content(server: Server) -> None:
    table = server.run("carol", "sessions", *RANGE).stdout
    for owner in ("alice", "bob", "dave"):
        assert session_id(owner)[:8] in table
        assert secret(owner) not in table
    listed = json.loads(server.run("carol", "sessions", *RANGE, "--json").stdout)
    assert {s["session_id"] for s in listed["sessions"]} == {session_id(o) for o in ("alice", "bob", "dave")}
    assert listed["totals"]["cost_nusd"] == 6_000_000
    daily = json.loads(server.run("carol", "report", "daily", *RANGE, "--json").stdout)
    assert [(d["date"], d["cost_nusd"], d["prompts"]) for d in daily["daily"]] == [
        ("2026-02-02", 6_000_000, 3)
    ]
    # Content: refused, one line, the role named.
    _one_line(server.run("carol", "show", session_id("alice"), check=False), 1, "your role may not see this")
    # Search only finds sessions whose content the asker may read: none for a viewer.
    found = json.loads(server.run("carol", "sessions", "--search", "SECRET_alice", "--json").stdout)
    assert found["sessions"] == []
    _one_line(server.run("carol", "audit", check=False), 1, "your role may not see this")


def test_a_member_reads_own_content_and_not_a_strangers(server: Server) -> None:
    own = server.run("bob", "show", session_id("bob")).stdout
    assert secret("bob") in own and "▸ Bash" in own
    mine = json.loads(server.run("bob", "show", "sess-bob", "--json").stdout)  # a unique prefix
    assert mine["prompts"][0]["text"] == f"please fix {secret('bob')}"
    _one_line(server.run("bob", "show", session_id("alice"), check=False), 1, "your role may not see this")
    table = server.run("bob", "sessions", *RANGE).stdout
    assert secret("bob") in table and secret("alice") not in table and secret("dave") not in table
    # alice's team shares content: she reads dave's session, not bob's.
    assert secret("dave") in server.run("alice", "show", session_id("dave")).stdout
    _one_line(server.run("alice", "show", session_id("bob"), check=False), 1, "your role may not see this")


def test_an_admin_sees_everything_and_the_server_audits_it(server: Server) -> None:
    table = server.run("root", "sessions", *RANGE).stdout
    assert all(secret(o) in table for o in ("alice", "bob", "dave"))
    assert secret("alice") in server.run("root", "show", session_id("alice")).stdout
    entries = [json.loads(line) for line in server.run("root", "audit", "--json").stdout.splitlines()]
    views = {(e["actor"], e["target"]) for e in entries if e["action"] == "content_view"}
    assert ("root", session_id("alice")) in views
    assert "hash chain verified" in server.run("root", "audit", "verify").stdout


@pytest.mark.parametrize(
    "args",
    [
        ("sessions", *RANGE, "--json"),
        ("sessions", "--json", "--limit", "2"),
        ("sessions", "--project", "bob-proj", "--json"),
        ("report", "daily", *RANGE, "--json"),
        ("report", "weekly", *RANGE, "--start-of-week", "sunday", "--json"),
        ("report", "monthly", "--model", "sonnet", "--json"),
        ("report", "session", *RANGE, "--json"),
        ("report", "daily", "--by", "user", *RANGE, "--json"),
        ("report", "weekly", "--by", "team", *RANGE, "--start-of-week", "sunday", "--json"),
        ("report", "monthly", "--by", "project", *RANGE, "--csv"),
        ("show", "sess-alice-0000", "--json"),
        ("report", "daily", *RANGE),
        ("report", "daily", "--by", "team", *RANGE),
        ("sessions", *RANGE),
        ("show", "sess-dave-0000"),
        ("audit", "verify", "--json"),
    ],
)
def test_remote_output_is_the_local_output(server: Server, args: tuple[str, ...]) -> None:
    local = cli(server.home, *args).stdout
    remote = server.run("root", *args).stdout
    assert remote == local
    assert local.strip()


def test_report_session_carries_the_reconciliation(server: Server) -> None:
    rows = json.loads(server.run("carol", "report", "session", *RANGE, "--json").stdout)["sessions"]
    (alice,) = [r for r in rows if r["session_id"] == session_id("alice")]
    assert alice["reconciliation"]["calls_with_reported_cost"] == 1
    assert alice["reconciliation"]["difference_usd"] == 0.0000007


def test_remote_outcomes_are_the_local_ones_as_aggregates(server: Server) -> None:
    """The outcomes answer is an aggregate view, open to every role: the server leaves the
    titles (first prompts) out of its `unshipped` rows, even for an admin."""
    from agent_trace.domain.access import ANONYMOUS, redact_session_row

    args = ("report", "outcomes", *RANGE, "--json")
    local = json.loads(cli(server.home, *args).stdout)
    remote = json.loads(server.run("root", *args).stdout)
    assert local["unshipped"] and any(r["title"] for r in local["unshipped"])
    assert remote == {**local, "unshipped": [redact_session_row(ANONYMOUS, r) for r in local["unshipped"]]}


def test_server_and_token_from_the_environment_and_from_init(server: Server) -> None:
    env = {"AGENT_TRACE_SERVER": server.url, "AGENT_TRACE_TOKEN": server.world.tokens["bob"]}
    shown = cli(server.home, "show", session_id("bob"), env=env).stdout
    assert secret("bob") in shown
    refused = cli(server.home, "show", session_id("alice"), env=env, check=False)
    _one_line(refused, 1, "your role may not see this")
    # A person added with `users add --json`, whose token `init --token` recorded (0600).
    erin = json.loads(cli(server.home, "users", "add", "erin", "--role", "viewer", "--json", env=AUTH).stdout)
    # Its own Claude config folder, so the recorded token reaches only these commands.
    claude = {"CLAUDE_CONFIG_DIR": str(server.home.parent / "erin-claude")}
    cli(server.home, "init", "--token", erin["token"], "--collector-url", "http://127.0.0.1:9", env=claude)
    recorded = server.home.parent / "erin-claude" / "agent-trace.json"
    assert recorded.stat().st_mode & 0o777 == 0o600
    as_erin = {"AGENT_TRACE_SERVER": server.url, **claude}
    listed = json.loads(cli(server.home, "sessions", *RANGE, "--json", env=as_erin).stdout)
    assert len(listed["sessions"]) == 3 and "SECRET" not in json.dumps(listed)
    _one_line(cli(server.home, "show", session_id("bob"), env=as_erin, check=False), 1, "may not see this")


def test_failures_are_one_line(server: Server) -> None:
    _one_line(server.run(None, "sessions", check=False), 1, "not logged in", "--token")
    bad = cli(server.home, "sessions", "--server", server.url, "--token", "at_nope", check=False)
    _one_line(bad, 1, "refused your token")
    closed = f"http://127.0.0.1:{free_port()}"
    _one_line(
        cli(server.home, "report", "daily", "--server", closed, "--token", "x", check=False),
        1,
        "does not answer",
    )
    _one_line(cli(server.home, "sessions", "--server", "ftp://x", check=False), 2, "--server")
    _one_line(cli(server.home, "sessions", "--token", "x", check=False), 2, "--token goes with --server")
    _one_line(server.run("root", "show", "no-such-session", check=False), 1, "no session 'no-such-session'")
    _one_line(server.run("root", "report", "daily", "--project", "x" * 600, check=False), 2, "project")
