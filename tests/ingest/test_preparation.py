"""The Preparation (ingest/preparation.py) runs in the import's parse worker when it parses in a
second process: the import summary and the log say the same as when this process prepares."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain.pricing import UNPRICED_NO_MODEL, PriceBook
from agent_trace.domain.records import NO_MODEL_LABEL, LlmCall, RecordBatch, Usage
from agent_trace.ingest.preparation import Preparation
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from tests.conformance.answers import normalized, store_answers
from tests.fixtures.stores import sqlite_store_at
from tests.fixtures.transcripts import Transcript, text_block, uid, usage


def _transcripts(root: Path) -> None:
    t = Transcript(uid())
    t.prompt("hello")
    t.assistant([text_block("priced")], u=usage(10, 20))
    t.assistant([text_block("unknown model")], u=usage(10, 20), model="claude-nonesuch-9")
    t.assistant([text_block("no model")], u=usage(10, 20))
    del t.lines[-1]["message"]["model"]
    t.assistant([text_block("too many tokens")], u=usage(10**10, 20))  # out of range: repaired
    t.write(root / "p" / f"{t.session_id}.jsonl")


def _import(db: Path, root: Path, parallel: bool, caplog: pytest.LogCaptureFixture) -> tuple[Any, ...]:
    store = sqlite_store_at(db)
    caplog.clear()
    try:
        with caplog.at_level(logging.WARNING, logger="agent_trace.ingest"):
            summary = Importer(Writer(store, PriceBook(), 2, "dev")).run([root], parallel=parallel)
        warnings = [r.getMessage() for r in caplog.records if "out of range" in r.getMessage()]
        return summary.unpriced_reasons, summary.unpriced_models, warnings, normalized(store_answers(store))
    finally:
        store.close()


def test_worker_and_inline_preparation_report_alike(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _transcripts(tmp_path / "in")
    inline = _import(tmp_path / "inline.db", tmp_path / "in", False, caplog)
    worker = _import(tmp_path / "worker.db", tmp_path / "in", True, caplog)
    reasons, models, warnings, _answers = inline
    assert reasons[NO_MODEL_LABEL] == UNPRICED_NO_MODEL and "claude-nonesuch-9" in reasons
    assert models == sorted(reasons)
    assert len(warnings) == 1 and "input_tokens" in warnings[0]
    assert worker == inline


def test_a_preparation_pickles_with_what_it_counted() -> None:
    preparation = Preparation(PriceBook(), 2, "dev")
    batch = RecordBatch(
        llm_calls=[LlmCall("c1", "s1", model=None, ts_ms=1_770_000_000_000, usage=Usage(1, 2))]
    )
    preparation.prepare(batch)
    copy = pickle.loads(pickle.dumps(preparation))
    assert copy.unpriced == {NO_MODEL_LABEL: UNPRICED_NO_MODEL}
    assert (copy.privacy_tier, copy.default_user, copy.redactor) == (2, "dev", preparation.redactor)
    again = RecordBatch(
        llm_calls=[LlmCall("c2", "s1", model=None, ts_ms=1_770_000_000_000, usage=Usage(1, 2))]
    )
    copy.prepare(again)
    assert again.llm_calls[0].unpriced_reason == UNPRICED_NO_MODEL
