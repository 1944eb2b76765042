"""The real Qwen Code CLI, offline against the fake Chat Completions API: the store must equal what
the fake billed — via `agent-trace import` alone, via live capture (its OTel logs) alone, and both.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import Collector
from .support.claude_cli import CliInstallError, NpmNotFoundError
from .support.fake_openai import FakeOpenAI
from .support.qwen_cli import QWEN_MODEL, QWEN_SCENARIO, QwenSession, install_qwen_cli
from .test_codex import agent_trace, query, wait_for


@pytest.fixture(scope="session")
def qwen_binary() -> Path:
    try:
        return install_qwen_cli()
    except NpmNotFoundError as exc:
        pytest.skip(f"real Qwen Code CLI unavailable: {exc}")
    except CliInstallError as exc:
        pytest.fail(f"installing Qwen Code failed:\n{exc}", pytrace=False)


def assert_store_matches(db: Path, fake: FakeOpenAI, qwen: QwenSession) -> None:
    sid = qwen.session_id
    assert sid is not None
    served = fake.scripted(QWEN_SCENARIO.name)
    assert [s.turn for s in served] == list(range(len(QWEN_SCENARIO.turns)))
    rows = query(
        db,
        "SELECT call_id, input_tokens, output_tokens, cache_read_tokens, model, cost_nusd FROM llm_calls"
        " WHERE session_id = ?",
        sid,
    )
    # Keyed by the API's own response id; reasoning is inside the completion count, not added again.
    expected = {
        s.response_id: (
            s.usage.input_tokens - s.usage.cached_tokens,
            s.usage.output_tokens,
            s.usage.cached_tokens,
        )
        for s in served
    }
    assert {r[0]: tuple(r[1:4]) for r in rows} == expected
    assert {r[4] for r in rows} == {QWEN_MODEL}
    assert {r[5] for r in rows} == {None}  # Qwen's own API has no price in genai-prices: unpriced, not $0
    tools = query(
        db, "SELECT tool_use_id, tool_name, status, call_id FROM tool_calls WHERE session_id = ?", sid
    )
    by_id = {t[0]: t[1:] for t in tools}
    assert len(tools) == 4
    for s in served:
        tool = QWEN_SCENARIO.turns[s.turn or 0].tool
        if tool is None:
            continue
        assert by_id[s.call_id] == (tool.name, "error" if tool.expect_error else "success", s.response_id)
    assert query(db, "SELECT text FROM prompts WHERE session_id = ?", sid) == [(QWEN_SCENARIO.prompts[0],)]
    assert query(db, "SELECT agent FROM sessions") == [("qwen-code",)]


def test_import_alone(qwen_binary: Path, tmp_path: Path) -> None:
    at_home = tmp_path / "agent-trace"
    with FakeOpenAI([QWEN_SCENARIO]) as fake:
        qwen = QwenSession(fake.url, tmp_path / "run", qwen_binary)
        fake.cwd = str(qwen.repo)
        qwen.run(QWEN_SCENARIO.prompts[0])
    assert (qwen.repo / "notes.txt").read_text() == "alpha\ngamma\n"
    result = agent_trace(qwen.home, at_home, "import")
    assert result.returncode == 0, result.stderr
    assert "Unpriced calls" in result.stdout and QWEN_MODEL in result.stdout
    db = at_home / "agent-trace.db"
    assert_store_matches(db, fake, qwen)
    assert query(db, "SELECT project FROM sessions") == [(str(qwen.repo),)]
    assert query(db, "SELECT DISTINCT path, op FROM file_touches") == [
        (str(qwen.repo / "notes.txt"), "write")
    ]


@pytest.mark.parametrize("then_import", [False, True], ids=["live-alone", "live-and-import"])
def test_live_capture(
    qwen_binary: Path, tmp_path: Path, collector_factory: Callable[..., Collector], then_import: bool
) -> None:
    collector = collector_factory()
    with FakeOpenAI([QWEN_SCENARIO]) as fake:
        qwen = QwenSession(fake.url, tmp_path / "run", qwen_binary)
        fake.cwd = str(qwen.repo)
        init = agent_trace(
            qwen.home, tmp_path / "client", "init", "--agent", "qwen", "--collector-url", collector.url
        )
        assert init.returncode == 0, init.stderr
        qwen.run(QWEN_SCENARIO.prompts[0])
    db = collector.database
    wait_for(db, "SELECT count(*) FROM llm_calls", len(QWEN_SCENARIO.turns), collector)
    wait_for(db, "SELECT count(*) FROM tool_calls WHERE status IS NOT NULL", 4, collector)
    wait_for(db, "SELECT count(*) FROM prompts", 1, collector)
    if then_import:
        result = agent_trace(qwen.home, collector.home, "import")
        assert result.returncode == 0, result.stderr
        assert query(db, "SELECT count(*) FROM llm_calls WHERE message_id IS NOT NULL") == [(5,)]
    assert_store_matches(db, fake, qwen)
    gone = agent_trace(qwen.home, tmp_path / "client", "uninstall", "--agent", "qwen")
    assert gone.returncode == 0, gone.stderr
    assert "telemetry" not in json.loads(qwen.settings_path.read_text())
