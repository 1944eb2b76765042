"""Records cross a process boundary (the import's parse worker, the collector's decoders) as
pickles: each record type comes back equal, whatever its field values."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_trace.domain import records

RECORD_TYPES = [
    records.Session,
    records.Prompt,
    records.Usage,
    records.LlmCall,
    records.ToolCall,
    records.FileTouch,
    records.Subagent,
    records.Commit,
    records.PullRequest,
    records.PushedCommit,
    records.RawEvent,
]


@pytest.mark.parametrize("record_type", RECORD_TYPES, ids=lambda t: t.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_record_survives_pickling(record_type: type, data: st.DataObject) -> None:
    record = data.draw(st.builds(record_type))
    for protocol in (pickle.DEFAULT_PROTOCOL, pickle.HIGHEST_PROTOCOL):
        copy = pickle.loads(pickle.dumps(record, protocol=protocol))
        assert copy == record and type(copy) is record_type


def test_a_batch_survives_pickling() -> None:
    usage = records.Usage(input_tokens=3, output_tokens=5, cache_1h_tokens=7, inference_geo="us")
    batch = records.RecordBatch(
        sessions=[records.Session("s1", project="/p", started_ms=1)],
        llm_calls=[records.LlmCall("c1", "s1", model="m", usage=usage, tool_use_ids=("t1",))],
        tool_calls=[records.ToolCall("t1", "s1", "Bash", status="error", error="boom")],
    )
    assert pickle.loads(pickle.dumps(batch)) == batch
