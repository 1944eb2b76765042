"""The parse worker process and inline parsing import exactly the same store.

The importer parses in a second process when there is a lot to read (ingest/parse_worker.py);
whichever path runs, and wherever the write chunks fall, every answer must be the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain.pricing import PriceBook
from agent_trace.ingest import transcript_files
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from tests.conformance.answers import normalized, store_answers
from tests.conformance.inputs import build_inputs
from tests.fixtures.stores import sqlite_store_at


def _import_all(db: Path, imports: list[tuple[Path, str, int]], parallel: bool) -> dict[str, Any]:
    store = sqlite_store_at(db)
    try:
        prices = PriceBook()
        for folder, user, tier in imports:
            summary = Importer(Writer(store, prices, tier, user)).run([folder], parallel=parallel)
            assert summary.files_read > 0 and not summary.files_unreadable
        # Answers from `store.file_states()` are left out: the paths are the same, and their
        # progress is checked by the re-import below.
        answers: dict[str, Any] = normalized(store_answers(store))
        again = Importer(Writer(store, prices, 2, "dev")).run([folder for folder, _, _ in imports], parallel)
        assert again.files_read == 0 and again.bytes_read == 0
        return answers
    finally:
        store.close()


@pytest.fixture(scope="module")
def imports(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str, int]]:
    # The API data set and edge cases, plus the shared corpus when it is present.
    return build_inputs(tmp_path_factory.mktemp("inputs")).imports


def test_worker_and_inline_import_agree(imports: list[tuple[Path, str, int]], tmp_path: Path) -> None:
    inline = _import_all(tmp_path / "inline.db", imports, parallel=False)
    worker = _import_all(tmp_path / "worker.db", imports, parallel=True)
    assert inline["counts"]["llm_calls"] > 0
    assert worker == inline


def test_chunk_boundaries_change_nothing(
    imports: list[tuple[Path, str, int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = _import_all(tmp_path / "whole.db", imports, parallel=False)
    # A chunk every 256 lines (the smallest the parser checks): records of one session, and
    # streaming duplicates of one response, land in different write transactions.
    monkeypatch.setattr(transcript_files, "FLUSH_RECORDS", 1)
    monkeypatch.setattr(transcript_files, "FLUSH_BYTES", 1)
    small = _import_all(tmp_path / "small.db", imports, parallel=False)
    assert small == whole
