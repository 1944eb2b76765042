"""`agent-trace import` / `report` as a user types them, on each backend: why calls are unpriced,
and Claude Code's reported cost (OTLP cost_usd) reconciled with ours per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_trace.config import load_settings
from agent_trace.domain.pricing import (
    UNPRICED_NO_FAST_PRICE,
    UNPRICED_NO_MODEL,
    UNPRICED_UNKNOWN_MODEL,
    PriceBook,
)
from agent_trace.ingest.writer import Writer
from agent_trace.store.factory import open_store
from tests.cli.test_cli import cli, report
from tests.fixtures.transcripts import Transcript, text_block, uid, usage
from tests.sources.test_otlp_decode import SID, log, logs_body, post


def _otlp(request_id: str, cost_usd: str) -> object:
    return post(
        "logs",
        logs_body(log("api_request", request_id=request_id, model="claude-opus-4-6", cost_usd=cost_usd)),
    )


def test_unpriced_reasons_and_reconciliation(home: Path, tmp_path: Path) -> None:
    t = Transcript(SID)
    t.prompt("go", prompt_id=uid())
    _, exact = t.assistant([text_block("a")], u=usage(1000, 2000))  # $0.005 + $0.05
    _, off = t.assistant([text_block("b")], u=usage(1000, 2000))
    fast = usage(10, 20)
    fast["speed"] = "fast"
    t.assistant([text_block("c")], u=fast, model="claude-haiku-4-5-20251001")
    t.assistant([text_block("d")], u=usage(10, 20), model="claude-imaginary-9")
    t.assistant([text_block("e")], u=usage(10, 20))
    del t.lines[-1]["message"]["model"]
    root = tmp_path / "projects" / "-home-dev-proj"
    t.write(root / f"{SID}.jsonl")

    out = cli(home, "import", str(tmp_path / "projects")).stdout
    assert "claude-haiku-4-5-20251001 (fast): " + UNPRICED_NO_FAST_PRICE in out
    assert "(no model): " + UNPRICED_NO_MODEL in out

    settings = load_settings({"AGENT_TRACE_HOME": str(home), "HOME": str(home.parent), "USER": "dev"})
    store = open_store(settings.database_url, settings.events_url)
    try:
        writer = Writer(store, PriceBook(), 2, "dev")
        writer.write(_otlp(exact, "0.055"))
        writer.write(_otlp(off, "0.0825"))  # Claude Code priced this one 1.5x: not explained
        writer.refresh()
    finally:
        store.close()

    daily = report(home, "daily")
    assert daily["unpriced_reasons"] == {
        "(no model)": UNPRICED_NO_MODEL,
        "claude-haiku-4-5-20251001": UNPRICED_NO_FAST_PRICE,
        "claude-imaginary-9": UNPRICED_UNKNOWN_MODEL,
    }
    sessions = report(home, "session")
    [row] = sessions["sessions"]
    rec = row["reconciliation"]
    assert rec["calls_with_reported_cost"] == 2
    assert rec["reported_cost_usd"] == pytest.approx(0.1375)
    assert rec["computed_cost_usd"] == pytest.approx(0.11)
    assert rec["difference_usd"] == pytest.approx(0.0275)
    [unexplained] = rec["unexplained_calls"]
    assert unexplained["difference_usd"] == pytest.approx(0.0275)
    assert unexplained["call_id"].startswith("msg:")

    # The API's session replay shows the same reconciliation.
    from agent_trace.reports.replay import build_replay

    store = open_store(settings.database_url, settings.events_url)
    try:
        detail = store.session_detail(SID)
        assert detail is not None
        replay = build_replay(detail).as_json()
        assert replay["session"]["reconciliation"] == rec
        # Each unpriced call says why, in the API's replay.
        reasons = {
            (step["model"], step["unpriced_reason"])
            for prompt in replay["prompts"]
            for step in prompt["steps"]
            if step["cost_usd"] is None
        }
        assert reasons == {
            ("claude-haiku-4-5-20251001", UNPRICED_NO_FAST_PRICE),
            ("claude-imaginary-9", UNPRICED_UNKNOWN_MODEL),
            (None, UNPRICED_NO_MODEL),
        }
    finally:
        store.close()
