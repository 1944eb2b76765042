"""The transcript parser: golden numbers on the shared corpus, and every edge case on small fixtures."""

from __future__ import annotations

import glob
import json
from pathlib import Path
from typing import Any

import orjson

from agent_trace.domain.records import RecordBatch
from agent_trace.sources.claude_transcript import TranscriptParser
from agent_trace.sources.claude_transcript_lines import NO_TYPE, ParseState, describe_path, parse_usage
from tests.fixtures.transcripts import Transcript, text_block, tool_use, uid, usage


def parse(lines: bytes, path: str = "/p/-home-dev-proj/s.jsonl", meta: Any = None) -> TranscriptParser:
    parser = TranscriptParser(describe_path(path, meta))
    offset = 0
    for line in lines.splitlines(keepends=True):
        offset += len(line)
        parser.feed(line, offset)
    return parser


def independent_oracle(files: list[str]) -> dict[str, int]:
    """A deliberately separate computation of the reference's rule (max usage per request)."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for name in files:
        for raw in Path(name).read_text().splitlines():
            try:
                d = json.loads(raw)
            except ValueError:
                continue
            if d.get("type") != "assistant" or d["message"].get("model") == "<synthetic>":
                continue
            u = d["message"].get("usage") or {}
            key = (d["message"]["id"], d.get("requestId") or "")
            total = sum(
                u.get(k) or 0
                for k in (
                    "input_tokens",
                    "output_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                )
            )
            if key not in best or total > best[key]["_total"]:
                best[key] = {**u, "_total": total}
    out = {"calls": len(best), "input": 0, "output": 0, "write": 0, "write_1h": 0, "read": 0}
    for u in best.values():
        out["input"] += u.get("input_tokens") or 0
        out["output"] += u.get("output_tokens") or 0
        out["write"] += u.get("cache_creation_input_tokens") or 0
        out["write_1h"] += (u.get("cache_creation") or {}).get("ephemeral_1h_input_tokens") or 0
        out["read"] += u.get("cache_read_input_tokens") or 0
    return out


def parse_files(files: list[str]) -> RecordBatch:
    batch = RecordBatch()
    for name in files:
        meta_path = Path(name[: -len(".jsonl")] + ".meta.json")
        meta = orjson.loads(meta_path.read_bytes()) if meta_path.exists() else None
        parser = parse(Path(name).read_bytes(), name, meta)
        batch.extend(parser.take_batch())
    return batch


def merged_calls(batch: RecordBatch) -> dict[str, Any]:
    best: dict[str, Any] = {}
    for call in batch.llm_calls:
        assert call.usage is not None
        if call.call_id not in best or call.usage.total > best[call.call_id].usage.total:
            best[call.call_id] = call
    return best


def test_spotter_tokens_equal_an_independent_computation(corpus: Path) -> None:
    files = sorted(glob.glob(str(corpus / "spotter" / "**" / "*.jsonl"), recursive=True))
    assert len(files) == 20
    calls = merged_calls(parse_files(files))
    oracle = independent_oracle(files)
    assert len(calls) == oracle["calls"] == 899
    assert sum(c.usage.input_tokens for c in calls.values()) == oracle["input"] == 9_141
    assert sum(c.usage.output_tokens for c in calls.values()) == oracle["output"] == 195_794
    assert sum(c.usage.cache_creation_tokens for c in calls.values()) == oracle["write"] == 2_065_675
    assert sum(c.usage.cache_1h_tokens for c in calls.values()) == oracle["write_1h"] == 767_767
    assert sum(c.usage.cache_5m_tokens for c in calls.values()) == 1_297_908
    assert sum(c.usage.cache_read_tokens for c in calls.values()) == oracle["read"] == 77_328_535


def test_spotter_partial_streaming_lines_keep_the_final_output(corpus: Path) -> None:
    path = next((corpus / "spotter" / "projects").glob("*/258c7280*.jsonl"))
    calls = merged_calls(parse_files([str(path)]))
    [call] = [c for c in calls.values() if c.message_id == "msg_01EEiRWuVvwAmenNJXZcerPY"]
    assert call.usage.output_tokens == 441


def test_every_corpus_file_parses_without_malformed_lines(corpus: Path) -> None:
    for name in sorted(glob.glob(str(corpus / "**" / "*.jsonl"), recursive=True)):
        if "/transcripts/" not in name and "/spotter/" not in name:
            continue  # hooks.jsonl, otlp.jsonl, cli-stdout.jsonl are other channels
        parser = parse(Path(name).read_bytes(), name)
        parser.take_batch()
        assert parser.stats.malformed == 0, name


def test_real_client_subagent_with_meta(corpus: Path) -> None:
    files = sorted(
        glob.glob(str(corpus / "real-client" / "task" / "transcripts" / "**" / "*.jsonl"), recursive=True)
    )
    batch = parse_files(files)
    [agent_tool] = [t for t in batch.tool_calls if t.tool_name == "Agent"]
    subs = {s.agent_id: s for s in batch.subagents}
    sub = subs["a55548a31f14b3a49"]
    assert agent_tool.subagent_id == "a55548a31f14b3a49"
    assert any(s.parent_tool_use_id == agent_tool.tool_use_id for s in batch.subagents)
    assert any(s.agent_type == "general-purpose" for s in batch.subagents)
    sub_calls = [c for c in batch.llm_calls if c.agent_id == sub.agent_id]
    assert len({c.call_id for c in sub_calls}) == 2
    # 2.1.331 subagent lines carry the parent prompt's id.
    assert {c.prompt_id for c in sub_calls} == {"c9512add-1152-489a-b779-87dbbfdc8185"}


def test_real_client_api_error_is_never_billed(corpus: Path) -> None:
    files = sorted(
        glob.glob(
            str(corpus / "real-client" / "apierror-fatal" / "transcripts" / "**" / "*.jsonl"), recursive=True
        )
    )
    parser = parse(Path(files[0]).read_bytes(), files[0])
    batch = parser.take_batch()
    assert parser.stats.api_errors >= 1
    assert all(c.model != "<synthetic>" for c in batch.llm_calls)
    assert any((p.api_errors or 0) >= 1 for p in batch.prompts)


def test_streaming_duplicates_keep_the_largest_usage() -> None:
    t = Transcript(uid())
    t.prompt("hi", prompt_id="p1")
    final = usage(10, 441, write_1h=500, read=1000)
    partial = usage(10, 10, write_1h=500, read=1000)
    t.assistant(
        [text_block("a"), text_block("b"), tool_use("Bash", {"command": "ls"})],
        u=final,
        partial_usage=[partial, partial],
    )
    batch = parse(t.text()).take_batch()
    [call] = batch.llm_calls
    assert call.usage is not None and call.usage.output_tokens == 441
    assert call.usage.cache_1h_tokens == 500 and call.usage.cache_5m_tokens == 0
    assert call.response_text == "a\n\nb"
    assert call.prompt_id == "p1"
    assert len(batch.tool_calls) == 1 and batch.tool_calls[0].call_id == call.call_id


def test_identical_duplicate_lines_do_not_repeat_text() -> None:
    t = Transcript(uid())
    t.prompt("hi")
    t.assistant([text_block("same")])
    t.raw(dict(t.lines[-1]))
    [call] = parse(t.text()).take_batch().llm_calls
    assert call.response_text == "same"


def test_cache_writes_without_split_count_as_five_minutes() -> None:
    u = parse_usage(usage(1, 2, write_5m=300, split=False))
    assert u is not None
    assert (u.cache_creation_tokens, u.cache_5m_tokens, u.cache_1h_tokens) == (300, 300, 0)
    zero_split = parse_usage(
        {
            "input_tokens": 1,
            "cache_creation_input_tokens": 70,
            "cache_creation": {"ephemeral_5m_input_tokens": 0},
        }
    )
    assert zero_split is not None and zero_split.cache_5m_tokens == 70


def test_prompts_are_real_user_turns_only() -> None:
    t = Transcript(uid())
    t.prompt("Implement the thing")
    _m, _r = t.assistant([tool_use("Read", {"file_path": "/x.py"}, "toolu_r1")])
    t.tool_result("toolu_r1", "file body", result={"type": "text", "file": {"filePath": "/x.py"}})
    t.prompt("<local-command-caveat>Caveat: ...", isMeta=True)
    t.prompt("<command-name>/compact</command-name>\n<command-args></command-args>")
    t.prompt("<local-command-stdout>Compacted</local-command-stdout>")
    t.prompt("This session is being continued from a previous conversation", isCompactSummary=True)
    t.prompt("<task-notification>\n<task-id>b1</task-id></task-notification>")
    t.prompt("[Request interrupted by user for tool use]")
    batch = parse(t.text()).take_batch()
    kinds = [p.kind for p in sorted(batch.prompts, key=lambda p: p.ts_ms or 0)]
    assert kinds == ["prompt", "command", "task_notification"]
    assert any(p.interrupted for p in batch.prompts if p.kind == "task_notification")
    [touch] = batch.file_touches
    assert (touch.path, touch.op) == ("/x.py", "read")


def test_tool_results_join_their_calls_with_status() -> None:
    t = Transcript(uid())
    t.prompt("go", prompt_id="p1")
    t.assistant(
        [
            tool_use("Bash", {"command": "exit 3"}, "toolu_a"),
            tool_use("Edit", {"file_path": "/a.py"}, "toolu_b"),
        ]
    )
    t.tool_result("toolu_a", "Exit code 3", is_error=True, result="Error: Exit code 3")
    t.tool_result(
        "toolu_b",
        [{"type": "text", "text": "updated"}],
        result={"filePath": "/a.py", "oldString": "a", "newString": "b"},
    )
    t.assistant([tool_use("Bash", {"command": "sleep 100"}, "toolu_c")])
    t.tool_result("toolu_c", "interrupted", result={"stdout": "", "stderr": "", "interrupted": True})
    tools = {x.tool_use_id: x for x in parse(t.text()).take_batch().tool_calls}
    assert tools["toolu_a"].status == "error" and tools["toolu_a"].error == "Exit code 3"
    assert tools["toolu_b"].status == "success" and tools["toolu_b"].output_text == "updated"
    assert tools["toolu_c"].status == "interrupted"
    assert json.loads(tools["toolu_a"].input_json or "") == {"command": "exit 3"}
    assert all(x.prompt_id == "p1" for x in tools.values())


def test_malformed_and_half_written_lines_are_skipped_not_fatal() -> None:
    t = Transcript(uid())
    t.prompt("go")
    t.assistant([text_block("ok")])
    good = t.text()
    data = good + b"{not json\n" + b"[1,2]\n" + b'{"type":"assistant","message":"oops"}\n'
    parser = parse(data)
    batch = parser.take_batch()
    assert parser.stats.malformed == 3
    assert len(batch.llm_calls) == 1


def test_unknown_types_and_fields_are_counted() -> None:
    t = Transcript(uid())
    t.prompt("go", brandNewField=1)
    t.raw({"type": "hologram", "sessionId": t.session_id})
    t.raw({"resourceLogs": []})  # an OTLP export in the wrong folder: no `type` at all
    t.raw({"type": 7})
    parser = parse(t.text())
    parser.take_batch()
    assert parser.stats.unknown_types["hologram"] == 1
    assert parser.stats.unknown_types[NO_TYPE] == 2
    assert parser.stats.unknown_fields["user.brandNewField"] == 1


def test_subagent_file_layout_and_meta() -> None:
    sid = uid()
    sub = Transcript(sid, agent_id="abc123")
    sub.prompt("Explore the repo", prompt_id=None)
    sub.assistant([tool_use("Grep", {"pattern": "x"}, "toolu_g")], model="claude-haiku-4-5-20251001")
    path = f"/p/-home-dev-proj/{sid}/subagents/agent-abc123.jsonl"
    meta = {"agentType": "Explore", "description": "look around", "toolUseId": "toolu_parent"}
    batch = parse(sub.text(), path, meta).take_batch()
    [s] = batch.subagents
    assert (s.agent_id, s.agent_type, s.description, s.parent_tool_use_id) == (
        "abc123",
        "Explore",
        "look around",
        "toolu_parent",
    )
    assert batch.llm_calls[0].agent_id == "abc123" and batch.llm_calls[0].is_sidechain
    assert batch.tool_calls[0].agent_id == "abc123"
    assert not batch.prompts  # a subagent's task is not a session prompt


def test_compaction_agent_is_marked() -> None:
    sid = uid()
    sub = Transcript(sid, agent_id="acompact-ff00aa")
    sub.prompt("summarise")
    sub.assistant([text_block("summary")])
    batch = parse(sub.text(), f"/p/x/{sid}/subagents/agent-acompact-ff00aa.jsonl").take_batch()
    assert batch.subagents[0].is_compaction is True


def test_old_sidechain_lines_form_subagents() -> None:
    t = Transcript(uid())
    t.prompt("main prompt")
    t.assistant([tool_use("Task", {"description": "d", "prompt": "p"}, "toolu_task")])
    side = Transcript(t.session_id)
    side.lines = t.lines
    side.raw(
        {
            "type": "user",
            "uuid": uid(),
            "parentUuid": None,
            "isSidechain": True,
            "sessionId": t.session_id,
            "timestamp": "2026-02-11T10:00:10.000Z",
            "message": {"role": "user", "content": "side task"},
        }
    )
    side.raw(
        {
            "type": "assistant",
            "uuid": uid(),
            "isSidechain": True,
            "sessionId": t.session_id,
            "timestamp": "2026-02-11T10:00:11.000Z",
            "requestId": "req_side",
            "message": {"id": "msg_side", "model": "claude-opus-4-6", "content": [], "usage": usage()},
        }
    )
    batch = parse(side.text()).take_batch()
    side_call = next(c for c in batch.llm_calls if c.call_id == "msg:msg_side")
    assert side_call.agent_id is not None and side_call.agent_id.startswith("sidechain-")
    assert len(batch.prompts) == 1


def test_resumable_state_between_chunks() -> None:
    t = Transcript(uid())
    t.prompt("first", prompt_id="p1")
    t.assistant([text_block("answer")])
    data = t.text()
    parser = parse(data)
    parser.take_batch()
    # The tail is an assistant run: a later import re-reads it (it may still be streaming).
    assert parser.safe_offset < len(data)
    state = ParseState.from_json(json.loads(json.dumps(parser.safe_state().to_json())))
    resumed = TranscriptParser(describe_path("/p/x/s.jsonl"), state)
    rest = data[parser.safe_offset :]
    t2 = Transcript(t.session_id)
    t2.assistant([tool_use("Bash", {"command": "ls"})])
    for line in (rest + t2.text()).splitlines():
        resumed.feed(line)
    batch = resumed.take_batch()
    assert {c.prompt_id for c in batch.llm_calls} == {"p1"}


def test_cost_state_and_titles_reach_the_session() -> None:
    t = Transcript(uid())
    t.prompt("hi")
    t.raw({"type": "cost-state", "sessionId": t.session_id, "totalCostUSD": 0.5})
    t.raw({"type": "cost-state", "sessionId": t.session_id, "totalCostUSD": 0.75})
    t.raw({"type": "custom-title", "sessionId": t.session_id, "customTitle": "Fix the bug"})
    [session] = parse(t.text()).take_batch().sessions
    assert session.reported_cost_nusd == 750_000_000
    assert session.title == "Fix the bug"
    assert session.project == "/home/dev/proj"


def test_describe_path() -> None:
    sid = "4cfb44b3-b7b3-4f2b-a630-8f07ab4e910a"
    assert describe_path(f"/x/proj/{sid}.jsonl").session_hint == sid
    sub = describe_path(f"/x/proj/{sid}/subagents/agent-a1b2.jsonl")
    assert (sub.session_hint, sub.agent_hint) == (sid, "a1b2")
    flat = describe_path("/x/proj/agent-a1b2.jsonl")
    assert (flat.session_hint, flat.agent_hint) == (None, "a1b2")
    assert describe_path("/x/short.jsonl").session_hint is None


def test_old_cost_usd_is_kept_as_the_reported_cost() -> None:
    t = Transcript(uid(), version="1.0.3")
    t.prompt("hi")
    t.assistant([text_block("a")], u=usage(10, 20))
    t.lines[-1]["costUSD"] = 0.0123
    [call] = parse(t.text()).take_batch().llm_calls
    assert call.reported_cost_nusd == 12_300_000
    assert call.cost_nusd is None  # our own figure is computed by the writer, from tokens


def test_flat_agent_file_layout_of_2_0() -> None:
    sid = uid()
    sub = Transcript(sid, agent_id="a77f00d")
    sub.prompt("look around")
    sub.assistant([tool_use("Glob", {"pattern": "*.py"}, "toolu_glob")])
    batch = parse(sub.text(), "/p/-home-dev-proj/agent-a77f00d.jsonl").take_batch()
    assert [s.agent_id for s in batch.subagents] == ["a77f00d"]
    assert batch.llm_calls[0].session_id == sid and batch.llm_calls[0].agent_id == "a77f00d"


def test_images_in_prompts_and_tool_results() -> None:
    t = Transcript(uid())
    t.raw(
        {
            "type": "user",
            "uuid": uid(),
            "sessionId": t.session_id,
            "timestamp": "2026-02-11T10:00:01.000Z",
            "message": {
                "role": "user",
                "content": [
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "AAAA"},
                    },
                    {"type": "text", "text": "what is in this screenshot?"},
                ],
            },
        }
    )
    t.assistant([tool_use("Read", {"file_path": "/shot.png"}, "toolu_img")])
    t.tool_result("toolu_img", [{"type": "image", "source": {"type": "base64", "data": "AAAA"}}])
    batch = parse(t.text()).take_batch()
    [prompt] = batch.prompts
    assert prompt.text == "[image]\nwhat is in this screenshot?" and prompt.kind == "prompt"
    assert batch.tool_calls[0].output_text == "[image]"


def test_requests_over_200k_input_are_priced_per_request() -> None:
    from agent_trace.domain.pricing import PriceBook

    t = Transcript(uid())
    t.prompt("big")
    t.assistant([text_block("a")], u=usage(100, 1000, read=250_000))
    t.assistant([text_block("b")], u=usage(100, 1000, read=100_000))
    calls = parse(t.text()).take_batch().llm_calls
    book = PriceBook()
    costs = sorted(book.cost_nusd(c.model, c.ts_ms, c.usage) or 0 for c in calls)  # type: ignore[arg-type]
    # 2026-02-11, Opus 4.6: the big request at long-context rates, the small one at base rates.
    assert costs == [
        (100 * 5 + 1000 * 25 + 100_000 * 0.5) * 1000,
        (100 * 10 + 1000 * 37.5 + 250_000 * 1) * 1000,
    ]
