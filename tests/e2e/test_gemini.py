"""The real Gemini CLI, offline against the fake Gemini API: the store must equal what the fake
billed — via `agent-trace import` alone, via live capture (Gemini CLI's OTel logs) alone, and both.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from agent_trace.domain.pricing import PriceBook
from agent_trace.domain.records import Usage
from agent_trace.sources.gemini_chat import call_key, gemini_usage

from .conftest import Collector
from .support.claude_cli import CliInstallError, NpmNotFoundError
from .support.fake_gemini import FakeGemini
from .support.gemini_cli import GEMINI_MODEL, GEMINI_SCENARIO, GeminiSession, install_gemini_cli
from .test_codex import agent_trace, query, wait_for


@pytest.fixture(scope="session")
def gemini_binary() -> Path:
    try:
        return install_gemini_cli()
    except NpmNotFoundError as exc:
        pytest.skip(f"real Gemini CLI unavailable: {exc}")
    except CliInstallError as exc:
        pytest.fail(f"installing the Gemini CLI failed:\n{exc}", pytrace=False)


def expected_calls(fake: FakeGemini, session_id: str) -> dict[str, tuple[int, int, int]]:
    served = fake.scripted(GEMINI_SCENARIO.name)
    assert [s.turn for s in served] == list(range(len(GEMINI_SCENARIO.turns)))
    out = {}
    for s in served:
        values = (s.usage.prompt, s.usage.cached, s.usage.candidates, s.usage.thoughts, 0)
        u = gemini_usage(values)
        out[call_key(session_id, values)] = (u.input_tokens, u.output_tokens, u.cache_read_tokens)
    return out


def assert_store_matches(db: Path, fake: FakeGemini, gemini: GeminiSession) -> None:
    sid = gemini.session_id
    assert sid is not None
    rows = query(
        db,
        "SELECT call_id, input_tokens, output_tokens, cache_read_tokens, model, cost_nusd, ts_ms"
        " FROM llm_calls WHERE session_id = ?",
        sid,
    )
    assert {r[0]: tuple(r[1:4]) for r in rows} == expected_calls(fake, sid)
    # Thoughts are billed as output: the stored output is candidates + thoughts.
    assert sum(int(r[2]) for r in rows) == sum(
        t.usage.candidates + t.usage.thoughts for t in GEMINI_SCENARIO.turns
    )
    prices = PriceBook()
    for _key, inp, out, read, model, cost, ts in rows:
        assert model == GEMINI_MODEL
        usage = Usage(input_tokens=int(inp), output_tokens=int(out), cache_read_tokens=int(read))
        assert cost is not None and cost == prices.cost_nusd(model, ts, usage)
    tools = query(
        db, "SELECT tool_name, status FROM tool_calls WHERE session_id = ? ORDER BY started_ms", sid
    )
    assert tools == [
        (t.call[0], "error" if t.expect_error else "success") for t in GEMINI_SCENARIO.turns if t.call
    ]
    assert query(db, "SELECT text FROM prompts WHERE session_id = ?", sid) == [(GEMINI_SCENARIO.prompts[0],)]
    assert query(db, "SELECT agent FROM sessions") == [("gemini-cli",)]


def test_import_alone(gemini_binary: Path, tmp_path: Path) -> None:
    at_home = tmp_path / "agent-trace"
    with FakeGemini([GEMINI_SCENARIO]) as fake:
        gemini = GeminiSession(fake.url, tmp_path / "run", gemini_binary)
        fake.cwd = str(gemini.repo)
        gemini.run(GEMINI_SCENARIO.prompts[0])
    assert (gemini.repo / "notes.txt").read_text() == "alpha\ngamma\n"
    result = agent_trace(gemini.home, at_home, "import")
    assert result.returncode == 0, result.stderr
    db = at_home / "agent-trace.db"
    assert_store_matches(db, fake, gemini)
    assert query(db, "SELECT project FROM sessions") == [(str(gemini.repo),)]
    # A legacy .json copy of the same session (as an older Gemini CLI left beside the .jsonl)
    # holds the same calls: nothing is counted twice.
    chat = gemini.chat_files()[0]
    messages: dict[str, dict] = {}
    header: dict = {}
    for line in chat.read_text().splitlines():
        record = json.loads(line)
        if "sessionId" in record and "type" not in record:
            header = record
        elif isinstance(record.get("id"), str):
            messages.setdefault(record["id"], {}).update(record)
    legacy = {**header, "messages": list(messages.values())}
    shutil.copy(chat, chat.with_suffix(".jsonl.bak"))
    chat.with_suffix(".json").write_text(json.dumps(legacy, indent=2))
    again = agent_trace(gemini.home, at_home, "import")
    assert again.returncode == 0, again.stderr
    assert_store_matches(db, fake, gemini)


@pytest.mark.parametrize("then_import", [False, True], ids=["live-alone", "live-and-import"])
def test_live_capture(
    gemini_binary: Path, tmp_path: Path, collector_factory: Callable[..., Collector], then_import: bool
) -> None:
    collector = collector_factory()
    with FakeGemini([GEMINI_SCENARIO]) as fake:
        gemini = GeminiSession(fake.url, tmp_path / "run", gemini_binary)
        fake.cwd = str(gemini.repo)
        init = agent_trace(
            gemini.home, tmp_path / "client", "init", "--agent", "gemini", "--collector-url", collector.url
        )
        assert init.returncode == 0, init.stderr
        gemini.run(GEMINI_SCENARIO.prompts[0])
    db = collector.database
    wait_for(db, "SELECT count(*) FROM llm_calls", len(GEMINI_SCENARIO.turns), collector)
    wait_for(db, "SELECT count(*) FROM tool_calls WHERE status IS NOT NULL", 4, collector)
    wait_for(db, "SELECT count(*) FROM prompts", 1, collector)
    if then_import:
        result = agent_trace(gemini.home, collector.home, "import")
        assert result.returncode == 0, result.stderr
        assert query(db, "SELECT count(*) FROM llm_calls WHERE message_id IS NOT NULL") == [(5,)]
    assert_store_matches(db, fake, gemini)
    gone = agent_trace(gemini.home, tmp_path / "client", "uninstall", "--agent", "gemini")
    assert gone.returncode == 0, gone.stderr
    # Gemini CLI rewrites its settings itself (it migrates old keys), so compare what init owns:
    # the telemetry object is gone again, as it was before init.
    after = json.loads(gemini.settings_path.read_text())
    assert "telemetry" not in after and after["security"] == {"auth": {"selectedType": "gemini-api-key"}}
