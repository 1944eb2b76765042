"""Transcript deltas: whole lines past the shipped offset, sanitised to the tier, same byte length."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_trace.domain.prompts import classify_prompt
from agent_trace.hook.transcript import (
    PROMPT_PREFIXES,
    LineSanitizer,
    prompt_placeholder,
    read_deltas,
    transcript_files,
)
from agent_trace.sources.claude_transcript import TranscriptParser
from agent_trace.sources.claude_transcript_lines import describe_path

ANTHROPIC_KEY = "sk-ant-api03-" + "Zq9" * 31 + "AA"
SHORT_PASSWORD_LINE = {"type": "user", "message": {"role": "user", "content": "pwd=hunter2x"}}


def line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode()


def user_prompt(text: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "user",
        "uuid": "u1",
        "sessionId": "s1",
        "promptId": "p1",
        "timestamp": "2026-01-01T00:00:00.000Z",
        "cwd": "/work",
        "message": {"role": "user", "content": text},
        **extra,
    }


def assistant(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "assistant",
        "uuid": "a1",
        "sessionId": "s1",
        "requestId": "req_1",
        "timestamp": "2026-01-01T00:00:01.000Z",
        "message": {
            "id": "msg_1",
            "model": "claude-opus-4-6",
            "role": "assistant",
            "content": list(blocks),
            "usage": {"input_tokens": 3, "output_tokens": 7, "cache_read_input_tokens": 100},
        },
    }


def tool_result(text: str) -> dict[str, Any]:
    return {
        "type": "user",
        "uuid": "u2",
        "sessionId": "s1",
        "timestamp": "2026-01-01T00:00:02.000Z",
        "message": {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": text, "is_error": False}
            ],
        },
        "toolUseResult": {"stdout": text, "stderr": "", "interrupted": False},
    }


RECORDS = [
    user_prompt(f"deploy with key {ANTHROPIC_KEY} please"),
    assistant(
        {"type": "thinking", "thinking": "the user wants a deploy", "signature": "sig"},
        {"type": "text", "text": "Deploying now."},
        {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "make deploy"}},
    ),
    tool_result("deployed to prod"),
]


@pytest.mark.parametrize("tier", [1, 2, 3])
def test_lengths_are_preserved_and_lines_stay_json(tier: int) -> None:
    sanitize = LineSanitizer(tier)
    for record in [*RECORDS, SHORT_PASSWORD_LINE]:
        raw = line(record)
        out = sanitize(raw)
        assert len(out) == len(raw)
        json.loads(out)  # trailing padding is whitespace: still one JSON document


@pytest.mark.parametrize("tier", [1, 2, 3])
def test_secrets_never_survive(tier: int) -> None:
    sanitize = LineSanitizer(tier)
    outputs = b"".join(sanitize(line(r)) for r in [*RECORDS, SHORT_PASSWORD_LINE])
    assert ANTHROPIC_KEY.encode() not in outputs
    assert b"hunter2x" not in outputs


def test_tier_3_keeps_text_and_leaves_clean_lines_untouched() -> None:
    sanitize = LineSanitizer(3)
    clean = line(RECORDS[1])
    assert sanitize(clean) == clean  # same bytes: nothing to redact
    assert b"[REDACTED:anthropic-key]" in sanitize(line(RECORDS[0]))


def test_tier_2_drops_what_the_model_wrote_but_keeps_tool_io() -> None:
    sanitize = LineSanitizer(2)
    out = json.loads(sanitize(line(RECORDS[1])))
    blocks = out["message"]["content"]
    assert blocks[0]["thinking"] == "" and blocks[1]["text"] == ""
    assert blocks[2]["input"] == {"command": "make deploy"}
    assert out["message"]["usage"]["output_tokens"] == 7
    assert json.loads(sanitize(line(RECORDS[2])))["toolUseResult"]["stdout"] == "deployed to prod"
    compact = user_prompt("summary of the conversation", isCompactSummary=True)
    assert json.loads(sanitize(line(compact)))["message"]["content"] == ""


def test_tier_1_keeps_only_metadata() -> None:
    sanitize = LineSanitizer(1)
    prompt, reply, result = (json.loads(sanitize(line(r))) for r in RECORDS)
    assert prompt["message"]["content"] == "[withheld: privacy tier 1]"
    assert prompt["promptId"] == "p1" and prompt["cwd"] == "/work"
    assert reply["message"]["content"][2] == {
        "type": "tool_use",
        "id": "toolu_1",
        "name": "Bash",
        "input": {"command": ""},
    }
    assert reply["message"]["model"] == "claude-opus-4-6" and reply["requestId"] == "req_1"
    assert result["message"]["content"][0]["content"] == "" and result["toolUseResult"]["stdout"] == ""


@pytest.mark.parametrize(
    "text",
    [
        "fix the bug",
        "<command-name>/compact</command-name>",
        "<task-notification>done</task-notification>",
        "[Request interrupted by user]",
        "<local-command-stdout>ok</local-command-stdout>",
        "Caveat: The messages below were generated by the user while running local commands. x",
        "   ",
    ],
)
def test_tier_1_placeholder_classifies_like_the_prompt(text: str) -> None:
    assert classify_prompt(prompt_placeholder(text)) == classify_prompt(text)


def test_prompt_prefixes_cover_the_domain_rules() -> None:
    from agent_trace.domain import prompts

    assert set(prompts.NOT_A_TURN_PREFIXES) <= set(PROMPT_PREFIXES)


@pytest.mark.parametrize("tier", [1, 2, 3])
def test_the_transcript_parser_gets_the_same_calls_and_tools(tier: int) -> None:
    """Sanitised lines still give the collector every prompt, call, token count and tool call."""

    def parse(lines: list[bytes]) -> Any:
        parser = TranscriptParser(describe_path("/p/-work/s1.jsonl"))
        offset = 0
        for raw in lines:
            offset += len(raw) + 1
            parser.feed(raw + b"\n", offset)
        return parser.take_batch()

    sanitize = LineSanitizer(tier)
    original = parse([line(r) for r in RECORDS])
    sanitised = parse([sanitize(line(r)) for r in RECORDS])
    assert [p.prompt_id for p in sanitised.prompts] == [p.prompt_id for p in original.prompts] == ["p1"]
    assert [(c.call_id, c.usage) for c in sanitised.llm_calls] == [
        (c.call_id, c.usage) for c in original.llm_calls
    ]
    assert [(t.tool_use_id, t.tool_name, t.status) for t in sanitised.tool_calls] == [
        (t.tool_use_id, t.tool_name, t.status) for t in original.tool_calls
    ]


def test_a_line_that_cannot_shrink_is_blanked_not_shipped() -> None:
    out = LineSanitizer(3)(b'{"a":"pwd=hunter2x"}')
    assert b"hunter2x" not in out and len(out) == len(b'{"a":"pwd=hunter2x"}')
    raw = b"\xff\xfe not utf-8"
    assert LineSanitizer(3)(raw) == b" " * len(raw)


# -- deltas ------------------------------------------------------------------------------------


def write_lines(path: Path, records: list[dict[str, Any]], tail: bytes = b"") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(line(r) + b"\n" for r in records) + tail)


def test_deltas_ship_whole_lines_past_the_offset(tmp_path: Path) -> None:
    main = tmp_path / "proj" / "s1.jsonl"
    write_lines(main, RECORDS[:2], tail=b'{"type":"user","unfinish')
    sub = tmp_path / "proj" / "s1" / "subagents" / "agent-a1.jsonl"
    write_lines(sub, [RECORDS[2]])
    files = transcript_files(str(main), "s1")
    assert files == [main, sub]

    deltas, offsets = read_deltas(files, {}, LineSanitizer(3))
    complete = len(line(RECORDS[0])) + len(line(RECORDS[1])) + 2
    assert [(d["path"], d["offset"]) for d in deltas] == [(str(main), 0), (str(sub), 0)]
    assert offsets == {str(main): complete, str(sub): sub.stat().st_size}
    assert deltas[0]["text"].count("\n") == 2 and "unfinish" not in deltas[0]["text"]

    # The unfinished line is shipped once it is complete, from where the last delta ended.
    with main.open("ab") as handle:
        handle.write(b'ed":true}\n')
    again, offsets2 = read_deltas(files, offsets, LineSanitizer(3))
    assert [(d["path"], d["offset"], d["text"]) for d in again] == [
        (str(main), complete, '{"type":"user","unfinished":true}\n')
    ]
    assert read_deltas(files, {**offsets, **offsets2}, LineSanitizer(3)) == ([], {})


def test_delta_text_has_the_byte_length_of_the_file_range(tmp_path: Path) -> None:
    main = tmp_path / "s1.jsonl"
    write_lines(main, [*RECORDS, SHORT_PASSWORD_LINE])
    (delta,), offsets = read_deltas([main], {}, LineSanitizer(1))
    assert len(delta["text"].encode()) == main.stat().st_size == offsets[str(main)]


def test_a_budget_bounds_the_work_of_one_call(tmp_path: Path) -> None:
    main = tmp_path / "s1.jsonl"
    write_lines(main, RECORDS * 50)
    first, offsets = read_deltas([main], {}, LineSanitizer(3), budget=1000)
    assert len(first[0]["text"].encode()) <= 1000
    rest, offsets2 = read_deltas([main], offsets, LineSanitizer(3))
    assert rest[0]["offset"] == offsets[str(main)]
    assert offsets2[str(main)] == main.stat().st_size


def test_a_line_longer_than_the_budget_is_skipped(tmp_path: Path) -> None:
    main = tmp_path / "s1.jsonl"
    huge = tool_result("x" * 5000)
    write_lines(main, [huge, RECORDS[0]])
    deltas, offsets = read_deltas([main], {}, LineSanitizer(3), budget=1000)
    assert deltas == [] and offsets[str(main)] == len(line(huge)) + 1
    deltas, _ = read_deltas([main], offsets, LineSanitizer(3), budget=1000)
    assert deltas[0]["offset"] == len(line(huge)) + 1
