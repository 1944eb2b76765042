"""domain/limits.py: the edge drops and names, the writer repairs; both agree on every field."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent_trace.domain.limits import MAX_TS_MS, MIN_TS_MS, check, drop_invalid, repair, violations
from agent_trace.domain.records import LlmCall, Prompt, RecordBatch, Session, ToolCall, Usage

GOOD = 1_767_225_600_000


def test_repair_unsets_bad_fields_and_drops_bad_keys() -> None:
    batch = RecordBatch(
        sessions=[Session("s1", started_ms=10**18), Session("bad/id")],
        prompts=[Prompt("p1", "s1", ts_ms=GOOD, duration_ms=-1)],
        llm_calls=[LlmCall("c1", "s1", ts_ms=GOOD, usage=Usage(input_tokens=2**62))],
    )
    changed = repair(batch)
    assert len(changed) == 4
    assert [s.session_id for s in batch.sessions] == ["s1"] and batch.sessions[0].started_ms is None
    assert batch.prompts[0].duration_ms is None and batch.prompts[0].ts_ms == GOOD
    assert batch.llm_calls[0].usage is None
    assert violations(batch) == []


def test_drop_invalid_names_every_field() -> None:
    batch = RecordBatch(tool_calls=[ToolCall("t1", "s1", duration_ms=2**63), ToolCall("t2", "s1")])
    refused = drop_invalid(batch)
    assert refused == ["tool_calls[0].duration_ms: 9223372036854775808 is out of range 0..31622400000"]
    assert [t.tool_use_id for t in batch.tool_calls] == ["t2"]


@given(ts=st.integers(), sid=st.text(max_size=300))
def test_fast_path_and_messages_agree(ts: int, sid: str) -> None:
    batch = RecordBatch(sessions=[Session(sid, started_ms=ts)])
    ok_id = 0 < len(sid) <= 200 and all(c.isascii() and (c.isalnum() or c in "._:@+=~-") for c in sid)
    ok_ts = MIN_TS_MS <= ts < MAX_TS_MS
    assert (violations(batch) == []) == (ok_id and ok_ts)
    if ok_id and ok_ts:
        check(batch)


def test_repair_keeps_usage_with_its_inference_geo() -> None:
    """`inference_geo` is a word, not a count: a call priced for US-only inference keeps its usage."""
    usage = Usage(input_tokens=10, output_tokens=20, inference_geo="us")
    batch = RecordBatch(llm_calls=[LlmCall(call_id="msg:m1", session_id="s1", usage=usage)])
    assert repair(batch) == []
    assert batch.llm_calls[0].usage is usage and usage.output_tokens == 20
