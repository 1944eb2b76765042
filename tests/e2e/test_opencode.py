"""The real OpenCode CLI, offline against the fake Chat Completions API: what the store holds must
equal what the fake billed — through `agent-trace import` (no arguments: OpenCode's SQLite store,
incrementally) alone, through live capture (agent-trace's OpenCode plugin, installed by `init
--agent opencode`) alone, and through both — every LLM call once, every tool call once, the prompts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from agent_trace.domain.pricing import PriceBook
from agent_trace.domain.records import Usage

from .conftest import Collector, free_port
from .support.claude_cli import CliInstallError, NpmNotFoundError
from .support.fake_openai import FakeOpenAI
from .support.opencode_cli import OPENCODE_MODEL, OPENCODE_SCENARIO, OpencodeSession, install_opencode_cli
from .test_codex import agent_trace, query, wait_for


@pytest.fixture(scope="session")
def opencode_binary() -> Path:
    try:
        return install_opencode_cli()
    except NpmNotFoundError as exc:
        pytest.skip(f"real OpenCode CLI unavailable: {exc}")
    except CliInstallError as exc:
        pytest.fail(f"installing OpenCode failed:\n{exc}", pytrace=False)


def assert_store_matches(db: Path, fake: FakeOpenAI, sid: str, turns: int) -> None:
    served = fake.scripted(OPENCODE_SCENARIO.name)
    assert [s.turn for s in served] == list(range(turns))
    rows = query(
        db,
        "SELECT input_tokens, output_tokens, cache_read_tokens, model, cost_nusd, ts_ms FROM llm_calls"
        " WHERE session_id = ? ORDER BY ts_ms",
        sid,
    )
    # OpenCode stores input without the cache and output without reasoning: both come back here.
    assert [r[:3] for r in rows] == [
        (s.usage.input_tokens - s.usage.cached_tokens, s.usage.output_tokens, s.usage.cached_tokens)
        for s in served
    ]
    prices = PriceBook()
    for inp, out, read, model, cost, ts in rows:
        assert model == OPENCODE_MODEL
        assert cost == prices.cost_nusd(
            model, ts, Usage(input_tokens=inp, output_tokens=out, cache_read_tokens=read)
        )
    tools = query(db, "SELECT tool_use_id, tool_name, status FROM tool_calls WHERE session_id = ?", sid)
    by_id = {t[0]: t[1:] for t in tools}
    assert len(tools) == 4
    for s in served:
        tool = OPENCODE_SCENARIO.turns[s.turn or 0].tool
        if tool is not None:
            assert by_id[s.call_id] == (tool.name, "error" if tool.expect_error else "success")
    assert query(db, "SELECT agent FROM sessions") == [("opencode",)]


def test_import_alone_and_incremental(opencode_binary: Path, tmp_path: Path) -> None:
    at_home = tmp_path / "agent-trace"
    db = at_home / "agent-trace.db"
    with FakeOpenAI([OPENCODE_SCENARIO]) as fake:
        oc = OpencodeSession(fake.url, tmp_path / "run", opencode_binary)
        fake.cwd = str(oc.repo)
        oc.run(OPENCODE_SCENARIO.prompts[0])
        assert (oc.repo / "notes.txt").read_text() == "alpha\ngamma\n"
        first = agent_trace(oc.home, at_home, "import")
        assert first.returncode == 0, first.stderr
        assert oc.session_id is not None
        assert_store_matches(db, fake, oc.session_id, 5)
        prompts = query(db, "SELECT text FROM prompts")
        assert len(prompts) == 1 and OPENCODE_SCENARIO.prompts[0] in str(prompts[0][0])
        assert query(db, "SELECT project FROM sessions") == [(str(oc.repo),)]
        # The same session continued: the next import reads what changed and counts nothing twice.
        oc.run(OPENCODE_SCENARIO.prompts[1])
    second = agent_trace(oc.home, at_home, "import")
    assert second.returncode == 0, second.stderr
    assert_store_matches(db, fake, oc.session_id, 6)
    assert len(query(db, "SELECT prompt_id FROM prompts")) == 2
    third = agent_trace(oc.home, at_home, "import", "--json")
    assert '"unchanged": 1' in third.stdout


@pytest.mark.parametrize("then_import", [False, True], ids=["live-alone", "live-and-import"])
def test_live_capture(
    opencode_binary: Path, tmp_path: Path, collector_factory: Callable[..., Collector], then_import: bool
) -> None:
    collector = collector_factory()
    with FakeOpenAI([OPENCODE_SCENARIO]) as fake:
        oc = OpencodeSession(fake.url, tmp_path / "run", opencode_binary)
        fake.cwd = str(oc.repo)
        config = oc.home / ".config" / "opencode" / "opencode.json"
        before = config.read_bytes()
        client = tmp_path / "client"
        init = agent_trace(oc.home, client, "init", "--agent", "opencode", "--collector-url", collector.url)
        assert init.returncode == 0, init.stderr
        plugin = oc.home / ".config" / "opencode" / "plugin" / "agent-trace.js"
        assert collector.url in plugin.read_text() and config.read_bytes() == before
        for prompt in OPENCODE_SCENARIO.prompts:
            oc.run(prompt)
    assert oc.session_id is not None
    db = collector.database
    turns = len(OPENCODE_SCENARIO.turns)
    wait_for(db, "SELECT count(*) FROM llm_calls", turns, collector)
    wait_for(db, "SELECT count(*) FROM tool_calls WHERE status IS NOT NULL", 4, collector)
    wait_for(db, "SELECT count(*) FROM prompts", 2, collector)
    if then_import:
        result = agent_trace(oc.home, collector.home, "import")
        assert result.returncode == 0, result.stderr
    assert_store_matches(db, fake, oc.session_id, turns)
    assert query(db, "SELECT project FROM sessions") == [(str(oc.repo),)]
    prompts = [str(p[0]) for p in query(db, "SELECT text FROM prompts ORDER BY ts_ms")]
    assert [want in got for want, got in zip(OPENCODE_SCENARIO.prompts, prompts, strict=True)] == [True, True]

    gone = agent_trace(oc.home, client, "uninstall", "--agent", "opencode")
    assert gone.returncode == 0, gone.stderr
    assert not plugin.exists() and config.read_bytes() == before


def test_an_unreachable_collector_leaves_opencode_alone(opencode_binary: Path, tmp_path: Path) -> None:
    """The plugin never breaks the agent: with nothing listening, OpenCode does its work and exits
    as usual, and `agent-trace import` still gets every fact from OpenCode's own store."""
    at_home = tmp_path / "agent-trace"
    with FakeOpenAI([OPENCODE_SCENARIO]) as fake:
        oc = OpencodeSession(fake.url, tmp_path / "run", opencode_binary)
        fake.cwd = str(oc.repo)
        nobody = f"http://127.0.0.1:{free_port()}"
        init = agent_trace(
            oc.home, tmp_path / "client", "init", "--agent", "opencode", "--collector-url", nobody
        )
        assert init.returncode == 0, init.stderr
        events = oc.run(OPENCODE_SCENARIO.prompts[0])
        assert (oc.repo / "notes.txt").read_text() == "alpha\ngamma\n"
        assert not [e for e in events if e.get("type") == "error"]
    assert oc.session_id is not None
    result = agent_trace(oc.home, at_home, "import")
    assert result.returncode == 0, result.stderr
    assert_store_matches(at_home / "agent-trace.db", fake, oc.session_id, 5)
