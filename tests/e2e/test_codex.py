"""The real Codex CLI, offline against the fake Responses API: what the store holds must equal what
the fake billed — through `agent-trace import` alone, through live capture (Codex's OTel logs)
alone, and through both — every LLM call once, every tool call once, the prompts.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_trace.domain.pricing import PriceBook
from agent_trace.domain.records import Usage
from agent_trace.sources.codex_common import call_key, usage_of

from .conftest import Collector
from .support.claude_cli import CliInstallError, NpmNotFoundError
from .support.codex_cli import CODEX_MODEL, CODEX_SCENARIO, CodexSession, install_codex_cli
from .support.fake_openai import FakeOpenAI

AGENT_TRACE = [sys.executable, "-m", "agent_trace.cli.main"]


@pytest.fixture(scope="session")
def codex_binary() -> Path:
    try:
        return install_codex_cli()
    except NpmNotFoundError as exc:
        pytest.skip(f"real Codex CLI unavailable: {exc}")
    except CliInstallError as exc:
        pytest.fail(f"installing the Codex CLI failed:\n{exc}", pytrace=False)


def agent_trace(home: Path, at_home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "AGENT_TRACE_HOME": str(at_home),
    }
    return subprocess.run([*AGENT_TRACE, *args], env=env, capture_output=True, text=True, timeout=120)


def query(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def run_scenario(codex: CodexSession) -> None:
    for prompt in CODEX_SCENARIO.prompts:
        codex.run(prompt)
    codex.wait_for_rollout()


def expected_calls(fake: FakeOpenAI, session_id: str) -> dict[str, tuple[int, int, int, int]]:
    """call key → (input without cache, output incl. reasoning, cache reads, cache writes), as billed."""
    out: dict[str, tuple[int, int, int, int]] = {}
    served = fake.scripted(CODEX_SCENARIO.name)
    assert [s.turn for s in served] == list(range(len(CODEX_SCENARIO.turns))), (
        "the fake served another script"
    )
    for s in served:
        values = (
            s.usage.input_tokens,
            s.usage.cached_tokens,
            0,
            s.usage.output_tokens,
            s.usage.reasoning_tokens,
        )
        u = usage_of(values)
        out[call_key(session_id, values)] = (
            u.input_tokens,
            u.output_tokens,
            u.cache_read_tokens,
            u.cache_creation_tokens,
        )
    return out


def assert_store_matches(db: Path, fake: FakeOpenAI, codex: CodexSession) -> None:
    sid = codex.session_id
    assert sid is not None
    rows = query(
        db,
        "SELECT call_id, input_tokens, output_tokens, cache_read_tokens, cache_creation_tokens, model, cost_nusd,"
        " ts_ms FROM llm_calls WHERE session_id = ?",
        sid,
    )
    stored = {r[0]: tuple(r[1:5]) for r in rows}
    assert stored == expected_calls(fake, sid)
    prices = PriceBook()
    for call_id, inp, out, read, write, model, cost, ts in rows:
        assert model == CODEX_MODEL
        usage = Usage(
            input_tokens=int(inp),
            output_tokens=int(out),
            cache_read_tokens=int(read),
            cache_creation_tokens=int(write),
            cache_5m_tokens=int(write),
        )
        assert cost == prices.cost_nusd(model, ts, usage), call_id
        assert cost is not None and int(cost) > 0
    served = fake.scripted(CODEX_SCENARIO.name)
    tools = query(
        db,
        "SELECT tool_use_id, tool_name, status FROM tool_calls WHERE session_id = ? ORDER BY started_ms",
        sid,
    )
    expected_tools = {s.call_id for s in served if s.call_id}
    assert {t[0] for t in tools} == expected_tools
    assert len(tools) == 4
    by_id = {t[0]: t for t in tools}
    scripted = [(s.call_id, CODEX_SCENARIO.turns[s.turn or 0].tool) for s in served if s.call_id]
    for call_id, tool in scripted:
        assert tool is not None
        assert by_id[call_id][1] == tool.name
        assert by_id[call_id][2] == ("error" if tool.expect_error else "success"), by_id[call_id]
    prompts = query(db, "SELECT text, kind FROM prompts WHERE session_id = ? ORDER BY ts_ms", sid)
    assert prompts == [(p, "prompt") for p in CODEX_SCENARIO.prompts]
    assert query(db, "SELECT agent FROM sessions WHERE session_id = ?", sid) == [("codex",)]
    assert query(db, "SELECT count(*) FROM sessions") == [(1,)]


def test_import_alone(codex_binary: Path, tmp_path: Path) -> None:
    repo_root = tmp_path / "run"
    at_home = tmp_path / "agent-trace"
    with FakeOpenAI([CODEX_SCENARIO]) as fake:
        codex = CodexSession(fake.url, repo_root, codex_binary)
        fake.cwd = str(codex.repo)
        run_scenario(codex)
    result = agent_trace(codex.home, at_home, "import")
    assert result.returncode == 0, result.stderr
    db = at_home / "agent-trace.db"
    assert_store_matches(db, fake, codex)
    assert (codex.repo / "notes.txt").read_text() == "alpha\ngamma\n"
    touched = query(db, "SELECT DISTINCT path, op FROM file_touches")
    assert touched == [(str(codex.repo / "notes.txt"), "write")]

    # Incremental: nothing changed, nothing read.
    again = agent_trace(codex.home, at_home, "import", "--json")
    assert again.returncode == 0, again.stderr
    assert '"unchanged": 1' in again.stdout
    # An archived copy of the same session is the same facts, not new ones.
    archived = codex.codex_home / "archived_sessions"
    archived.mkdir()
    shutil.copy(codex.rollouts()[0], archived / codex.rollouts()[0].name)
    third = agent_trace(codex.home, at_home, "import")
    assert third.returncode == 0, third.stderr
    assert_store_matches(db, fake, codex)


def wait_for(db: Path, sql: str, want: int, collector: Collector, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = query(db, sql)[0][0] if db.exists() else 0
        except sqlite3.OperationalError:
            got = 0
        if got == want:
            return
        assert time.monotonic() < deadline, f"{sql} = {got}, want {want}\n{collector.log()}"
        time.sleep(0.1)


@pytest.mark.parametrize("then_import", [False, True], ids=["live-alone", "live-and-import"])
def test_live_capture(
    codex_binary: Path, tmp_path: Path, collector_factory: Callable[..., Collector], then_import: bool
) -> None:
    collector = collector_factory()
    with FakeOpenAI([CODEX_SCENARIO]) as fake:
        codex = CodexSession(fake.url, tmp_path / "run", codex_binary)
        fake.cwd = str(codex.repo)
        before = codex.config_path.read_bytes()
        init = agent_trace(
            codex.home, tmp_path / "client", "init", "--agent", "codex", "--collector-url", collector.url
        )
        assert init.returncode == 0, init.stderr
        assert b"[model_providers.fake]" in codex.config_path.read_bytes()  # merged, not replaced
        run_scenario(codex)
    db = collector.database
    wait_for(db, "SELECT count(*) FROM llm_calls", len(CODEX_SCENARIO.turns), collector)
    wait_for(db, "SELECT count(*) FROM tool_calls WHERE status IS NOT NULL", 4, collector)
    wait_for(db, "SELECT count(*) FROM prompts", 2, collector)
    if then_import:
        result = agent_trace(codex.home, collector.home, "import")
        assert result.returncode == 0, result.stderr
        # Import fills what telemetry does not carry (the response ids, the project).
        assert query(db, "SELECT count(*) FROM llm_calls WHERE request_id LIKE 'resp_%'") == [(6,)]
    assert_store_matches(db, fake, codex)

    gone = agent_trace(codex.home, tmp_path / "client", "uninstall", "--agent", "codex")
    assert gone.returncode == 0, gone.stderr
    assert codex.config_path.read_bytes() == before
