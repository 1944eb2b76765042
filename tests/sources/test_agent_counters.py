"""Property tests of how the other agents' token counters become calls: running totals vs
per-response counts, repeated events, counters restarted by a resume, cached input inside
input, reasoning inside or apart from output, and cuts between incremental imports."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_trace.sources.codex_common import counts, usage_of
from agent_trace.sources.codex_rollout import CodexRolloutParser, CodexState
from agent_trace.sources.gemini_chat import gemini_usage, thoughts_inside
from agent_trace.sources.opencode_store import opencode_usage

SID = "01a242d8-0000-7000-8000-000000000001"
PATH = f"/home/u/.codex/sessions/2026/12/04/rollout-2026-12-04T20-56-44-{SID}.jsonl"


@st.composite
def codex_streams(draw: st.DrawFn) -> tuple[list[tuple[int, int, int, int]], list[bytes]]:
    """Responses with distinct counts, and the token_count lines an older Codex wrote for them:
    a running total per process (a resume restarts it), events written twice, null infos."""
    n = draw(st.integers(1, 12))
    responses: list[tuple[int, int, int, int]] = []
    inp = 0
    for _ in range(n):
        inp += draw(st.integers(1, 5000))
        cached = draw(st.integers(0, inp))
        out = draw(st.integers(1, 900))
        responses.append((inp, cached, out, draw(st.integers(0, out))))
    lines = [
        json.dumps(
            {
                "timestamp": "2026-12-04T20:56:44.000Z",
                "type": "session_meta",
                "payload": {"id": SID, "cwd": "/r"},
            }
        )
    ]
    total = [0, 0, 0, 0]
    for i, (a, b, c, d) in enumerate(responses):
        if i and draw(st.booleans()) and draw(st.booleans()):
            total = [0, 0, 0, 0]  # a resumed process starts its running total again
        total = [total[0] + a, total[1] + b, total[2] + c, total[3] + d]
        usage = {
            "input_tokens": a,
            "cached_input_tokens": b,
            "output_tokens": c,
            "reasoning_output_tokens": d,
        }
        running = dict(zip(usage, total, strict=True))
        event = {
            "timestamp": f"2026-12-04T20:57:{i:02d}.000Z",
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {"total_token_usage": running, "last_token_usage": usage},
            },
        }
        if draw(st.booleans()):
            lines.append(
                json.dumps(
                    {"timestamp": "x", "type": "event_msg", "payload": {"type": "token_count", "info": None}}
                )
            )
        for _ in range(draw(st.integers(1, 3))):  # the same event, written again
            lines.append(json.dumps(event))
    return responses, [(line + "\n").encode() for line in lines]


@settings(max_examples=150, deadline=None)
@given(codex_streams(), st.lists(st.integers(1, 40), max_size=4))
def test_codex_token_counts_become_each_response_once(
    stream: tuple[list[tuple[int, int, int, int]], list[bytes]], cuts: list[int]
) -> None:
    responses, lines = stream
    calls = {}
    state_json: str | None = None
    position = 0
    for cut in [*sorted(set(cuts)), len(lines)]:
        if cut <= position:
            continue
        parser = CodexRolloutParser(
            PATH, CodexState.from_json(orjson.loads(state_json)) if state_json else None
        )
        for line in lines[position:cut]:
            parser.feed(line)
        for call in parser.take_batch().llm_calls:
            calls[call.call_id] = call
        state_json = orjson.dumps(parser.safe_state().to_json()).decode()
        position = cut
    got = sorted((c.usage.input_tokens + c.usage.cache_read_tokens, c.usage.cache_read_tokens, c.usage.output_tokens)
                 for c in calls.values() if c.usage)  # fmt: skip
    assert got == sorted((a, b, c) for a, b, c, _d in responses)


@given(
    st.integers(0, 10**7),
    st.integers(0, 10**7),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
)
def test_codex_usage_moves_cache_out_of_input_and_keeps_reasoning_in_output(
    inp: int, cached: int, written: int, out: int, reasoning: int
) -> None:
    raw = {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "cache_write_input_tokens": written,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
    }
    u = usage_of(counts(raw))
    assert u.input_tokens + u.cache_read_tokens + u.cache_creation_tokens == inp
    assert u.input_tokens >= 0 and u.cache_read_tokens <= inp
    assert u.output_tokens == out  # reasoning is already inside: never added


@given(
    st.integers(0, 10**7),
    st.integers(0, 10**7),
    st.integers(0, 10**6),
    st.integers(1, 10**6),
    st.integers(0, 10**5),
)
def test_thoughts_apart_or_inside_are_billed_once(
    prompt: int, cached: int, out: int, thoughts: int, tool: int
) -> None:
    cached = min(cached, prompt)
    values = (prompt, cached, out, thoughts, tool)
    # Gemini API: total counts thoughts apart, so output + thoughts is billed.
    apart = gemini_usage(values, thoughts_inside(values, prompt + out + thoughts + tool, False))
    assert apart.output_tokens == out + thoughts
    # OpenAI-compatible backend through Qwen Code: the completion count holds them already.
    inside = gemini_usage(values, thoughts_inside(values, prompt + out + tool, True))
    assert inside.output_tokens == out
    for u in (apart, inside):
        assert u.input_tokens + u.cache_read_tokens == prompt + tool


@given(
    st.integers(0, 10**7),
    st.integers(0, 10**6),
    st.integers(0, 10**6),
    st.integers(0, 10**7),
    st.integers(0, 10**6),
)
def test_opencode_usage_adds_reasoning_and_keeps_cache_apart(
    inp: int, out: int, reasoning: int, read: int, write: int
) -> None:
    u = opencode_usage(
        {"input": inp, "output": out, "reasoning": reasoning, "cache": {"read": read, "write": write}}
    )
    assert (u.input_tokens, u.output_tokens, u.cache_read_tokens, u.cache_creation_tokens) == (
        inp,
        out + reasoning,
        read,
        write,
    )
