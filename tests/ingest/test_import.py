"""`agent-trace import` end to end on a real SQLite file: exact totals, incremental, idempotent."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest

from agent_trace.domain.pricing import PriceBook
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from agent_trace.store.port import Filters
from tests.fixtures.stores import sqlite_store_at
from tests.fixtures.transcripts import Transcript, streamed_session, text_block, tool_use, uid, usage


def run_import(store: Any, paths: list[Path], tier: int = 2, user: str = "dev") -> Any:
    writer = Writer(store, PriceBook(), tier, user)
    return Importer(writer).run(paths)


def totals(store: Any) -> dict[str, int]:
    out = dict.fromkeys(
        ("calls", "input", "output", "write", "write_5m", "write_1h", "read", "cost", "prompts", "tools"), 0
    )
    for b in store.usage_buckets(Filters()):
        out["calls"] += b.calls
        out["input"] += b.input_tokens
        out["output"] += b.output_tokens
        out["write"] += b.cache_creation_tokens
        out["write_5m"] += b.cache_5m_tokens
        out["write_1h"] += b.cache_1h_tokens
        out["read"] += b.cache_read_tokens
        out["cost"] += b.cost_nusd
    for a in store.activity_buckets(Filters()):
        out["prompts"] += a.prompts
        out["tools"] += a.tool_calls
    return out


def test_spotter_projects_total_is_exact(store: Any, corpus: Path) -> None:
    summary = run_import(store, [corpus / "spotter" / "projects"])
    assert summary.files_read == 17 and summary.stats.malformed == 0
    t = totals(store)
    assert (t["input"], t["output"], t["write"], t["write_5m"], t["write_1h"], t["read"]) == (
        7_508,
        193_983,
        2_008_302,
        1_297_908,
        710_394,
        76_801_503,
    )
    assert t["calls"] == 882
    assert round(t["cost"] / 1e9, 2) == 50.81
    # Session summaries add up to the same numbers as the rollups.
    page = store.list_sessions(
        __import__("agent_trace.store.port", fromlist=["SessionQuery"]).SessionQuery(limit=100)
    )
    assert sum(s.cost_nusd for s in page.sessions) == t["cost"]
    assert sum(s.input_tokens for s in page.sessions) == t["input"]
    assert sum(s.llm_calls for s in page.sessions) == 882


def test_reimport_changes_nothing_and_reads_nothing(store: Any, corpus: Path) -> None:
    root = corpus / "spotter" / "projects"
    run_import(store, [root])
    before = (totals(store), store.counts())
    again = run_import(store, [root])
    assert again.files_read == 0 and again.bytes_read == 0 and again.files_unchanged == 17
    assert (totals(store), store.counts()) == before


def _copy_under_new_id(src: Path, dest_dir: Path) -> Path:
    """What a resume/fork does: the same history in a new file under a new session id."""
    old = src.stem
    new = str(uuid.uuid4())
    dest = dest_dir / f"{new}.jsonl"
    dest.write_bytes(src.read_bytes().replace(old.encode(), new.encode()))
    return dest


def test_a_copied_session_counts_nothing_twice(store: Any, corpus: Path, tmp_path: Path) -> None:
    root = tmp_path / "projects" / "-home-user-proj"
    shutil.copytree(corpus / "spotter" / "projects" / "-home-user-proj", root)
    run_import(store, [tmp_path / "projects"])
    before = totals(store)
    original = next(root.glob("258c7280*.jsonl"))
    _copy_under_new_id(original, root)
    summary = run_import(store, [tmp_path / "projects"])
    assert summary.files_read == 1
    assert totals(store) == before
    assert store.counts()["sessions"] == 7  # the copy is a session of its own, with nothing new


def test_grown_file_is_read_from_where_it_stopped(store: Any, tmp_path: Path) -> None:
    t = Transcript(uid())
    t.prompt("first", prompt_id="p1")
    t.assistant([text_block("one")], u=usage(10, 100))
    path = t.write(tmp_path / "proj" / f"{t.session_id}.jsonl")
    run_import(store, [tmp_path])
    size_before = path.stat().st_size
    t2 = Transcript(t.session_id, clock=t.clock)
    t2.prompt("second", prompt_id="p2")
    t2.assistant([text_block("two")], u=usage(20, 200))
    with path.open("ab") as handle:
        handle.write(t2.text())
    summary = run_import(store, [tmp_path])
    # Only the new lines (plus the possibly-unfinished last response) were read again.
    assert 0 < summary.bytes_read < path.stat().st_size
    assert summary.bytes_read <= path.stat().st_size - size_before + len(
        t.text().splitlines(keepends=True)[-1]
    )
    got = totals(store)
    assert (got["calls"], got["input"], got["output"], got["prompts"]) == (2, 30, 300, 2)


def test_half_written_last_line_is_picked_up_next_time(store: Any, tmp_path: Path) -> None:
    t = Transcript(uid())
    t.prompt("go")
    t.assistant([text_block("a")], u=usage(1, 2))
    t.assistant([text_block("b")], u=usage(3, 4))
    data = t.text()
    cut = len(data) - 40
    path = tmp_path / "p" / f"{t.session_id}.jsonl"
    path.parent.mkdir()
    path.write_bytes(data[:cut])
    first = run_import(store, [tmp_path])
    assert first.stats.incomplete_tail == 1
    assert totals(store)["calls"] == 1
    path.write_bytes(data)
    run_import(store, [tmp_path])
    got = totals(store)
    assert (got["calls"], got["input"], got["output"]) == (2, 4, 6)


def test_tier_one_stores_no_text(store: Any, tmp_path: Path) -> None:
    t = Transcript(uid())
    t.prompt("top secret plan", prompt_id="p1")
    t.assistant([text_block("the answer"), tool_use("Bash", {"command": "cat plan.txt"}, "toolu_1")])
    t.tool_result("toolu_1", "plan contents")
    t.write(tmp_path / "p" / f"{t.session_id}.jsonl")
    run_import(store, [tmp_path], tier=1)
    detail = store.session_detail(t.session_id)
    blob = orjson.dumps(
        [detail.prompts, detail.llm_calls, detail.tool_calls, detail.file_touches, detail.session]
    ).decode()
    for text in ("top secret", "the answer", "cat plan.txt", "plan contents"):
        assert text not in blob
    assert detail.tool_calls[0]["tool_name"] == "Bash" and detail.tool_calls[0]["status"] == "success"
    assert detail.llm_calls[0]["output_tokens"] == 100


def test_secrets_are_redacted_at_every_tier(store: Any, tmp_path: Path) -> None:
    secret = "AKIA" + "IOSFODNN7EXAMPLE"
    t = Transcript(uid())
    t.prompt(f"use key {secret}", prompt_id="p1")
    t.assistant([tool_use("Bash", {"command": f"export AWS_ACCESS_KEY_ID={secret}"}, "toolu_1")])
    t.tool_result("toolu_1", f"key={secret}")
    t.write(tmp_path / "p" / f"{t.session_id}.jsonl")
    run_import(store, [tmp_path], tier=3)
    detail = store.session_detail(t.session_id)
    blob = orjson.dumps([detail.prompts, detail.tool_calls, detail.llm_calls]).decode()
    assert secret not in blob
    assert "REDACTED" in blob


@pytest.mark.parametrize(
    "scenario", ["basic", "compact", "task", "taskbg", "apierror-fatal", "cwd", "denied", "fail"]
)
def test_real_client_transcripts_import(store: Any, corpus: Path, scenario: str) -> None:
    summary = run_import(store, [corpus / "real-client" / scenario / "transcripts"])
    assert summary.files_read >= 1 and summary.stats.malformed == 0
    assert store.counts()["sessions"] >= 1


def test_a_file_cut_inside_a_response_imports_like_the_whole_file(tmp_path: Path) -> None:
    """A session still being written: every line boundary as the end of a first import."""
    data, session_id = streamed_session()

    def detail_after(cuts: list[int], name: str) -> Any:
        store = sqlite_store_at(tmp_path / f"{name}.db")
        path = tmp_path / name / f"{session_id}.jsonl"
        path.parent.mkdir()
        try:
            for cut in cuts:
                path.write_bytes(data[:cut])
                run_import(store, [path.parent], tier=3)  # tier 3 keeps response text
            detail = store.session_detail(session_id)
            assert detail is not None
            return [
                [{k: v for k, v in row.items() if k != "updated_ms"} for row in rows]
                for rows in (detail.prompts, detail.llm_calls, detail.tool_calls, detail.file_touches)
            ]
        finally:
            store.close()

    expected = detail_after([len(data)], "whole")
    response = next(c for c in expected[1] if c["response_text"] == "Reading both.\n\nTwo files.")
    assert len(orjson.loads(response["tool_use_ids"])) == 1
    ends = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    for n, end in enumerate(ends[:-1]):
        assert detail_after([end, len(data)], f"cut{n}") == expected, f"cut after line {n + 1}"
