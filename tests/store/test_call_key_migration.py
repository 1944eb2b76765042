"""Upgrading a store written before issue 10 (calls keyed by requestId) keeps its totals exact and
a re-import after the upgrade counts nothing twice, on every backend (SQL migration 0006_i10;
on PostgreSQL + ClickHouse also store/clickhouse/rekey.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent_trace.domain.pricing import PriceBook
from agent_trace.domain.records import LlmCall, RecordBatch, ToolCall, Usage
from agent_trace.ingest.transcripts import Importer
from agent_trace.ingest.writer import Writer
from agent_trace.store.clickhouse.rekey import MARKER
from agent_trace.store.port import Filters
from agent_trace.store.sql.migrate import downgrade
from tests.fixtures.transcripts import Transcript, text_block, tool_use, uid, usage


def totals(store: Any) -> tuple[int, int, int]:
    calls = inp = out = 0
    for b in store.usage_buckets(Filters()):
        calls, inp, out = calls + b.calls, inp + b.input_tokens, out + b.output_tokens
    return calls, inp, out


def test_old_request_id_keys_are_renamed_and_a_reimport_counts_nothing_twice(
    store: Any, tmp_path: Path
) -> None:
    t = Transcript(uid())
    t.prompt("go", prompt_id=uid())
    tool_id = uid("toolu_")
    message_id, request_id = t.assistant([tool_use("Bash", {"command": "ls"}, tool_id)], u=usage(10, 100))
    t.tool_result(tool_id, "a.txt")
    t.assistant([text_block("done")], u=usage(20, 200))
    path = t.write(tmp_path / "p" / f"{t.session_id}.jsonl")
    # What 0.1 stored for the first response: keyed by its request id, and its tool pointing there.
    old = RecordBatch(
        llm_calls=[
            LlmCall(
                request_id,
                t.session_id,
                message_id=message_id,
                request_id=request_id,
                model="claude-opus-4-6",
                ts_ms=1_770_804_001_000,
                usage=Usage(input_tokens=10, output_tokens=100),
            )
        ],
        tool_calls=[ToolCall(tool_id, t.session_id, tool_name="Bash", call_id=request_id)],
    )
    writer = Writer(store, PriceBook(), 2, "dev")
    writer.write(old)
    writer.refresh()
    assert totals(store) == (1, 10, 100)
    # Upgrade: on SQL, run 0006_i10 again over the old rows; with ClickHouse, the rekey too.
    if hasattr(store, "events"):
        store.runner.execute("DELETE FROM instance_settings WHERE key = :k", {"k": MARKER})
    else:
        downgrade(store.runner, "0005")
    store.migrate()
    assert totals(store) == (1, 10, 100)
    detail = store.session_detail(t.session_id)
    assert [c["call_id"] for c in detail.llm_calls] == ["msg:" + message_id]
    assert [c["call_id"] for c in detail.tool_calls] == ["msg:" + message_id]
    Importer(writer).run([tmp_path])
    assert totals(store) == (2, 30, 300)
    assert path.exists()
