"""A session as one ordered list of timestamped events (pure): prompts, LLM calls, tool calls,
subagent starts and ends, commits. What `/v1/timeline` answers; a flat view beside the replay's
nested one, for charts and for scripts that want "what happened when"."""

from __future__ import annotations

from typing import Any

import orjson

from agent_trace.domain.records import NANO_PER_USD
from agent_trace.domain.timeutil import ms_to_iso
from agent_trace.reports.tally import UsageTally
from agent_trace.reports.tool_summary import key_input
from agent_trace.store.port import SessionDetail

KINDS = ("prompt", "llm_call", "tool_call", "subagent_start", "subagent_end", "commit")
# At equal timestamps: the prompt first, then the call that issued tools, then the tools.
_ORDER = {kind: index for index, kind in enumerate(KINDS)}
PREVIEW_CHARS = 200


def _preview(text: Any) -> str | None:
    if not isinstance(text, str) or not text:
        return None
    flat = " ".join(text.split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


def _int(value: object) -> int:
    return int(value) if isinstance(value, int | float | str) and value != "" else 0


def _event(kind: str, ts_ms: object, event_id: str, **fields: Any) -> dict[str, Any]:
    ts = None if ts_ms is None else _int(ts_ms)
    return {"kind": kind, "ts": ms_to_iso(ts), "ts_ms": ts, "id": event_id, **fields}


def _tool_input(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _tool_duration(t: dict[str, Any]) -> int | None:
    """The tool's reported duration, else from its call to its result (transcripts carry both
    times but a duration only for some tools)."""
    if t.get("duration_ms") is not None:
        return _int(t["duration_ms"])
    started, ended = t.get("started_ms"), t.get("ended_ms")
    if started is None or ended is None:
        return None
    return max(_int(ended) - _int(started), 0)


def build_timeline(detail: SessionDetail) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for p in detail.prompts:
        events.append(
            _event(
                "prompt",
                p.get("ts_ms"),
                str(p["prompt_id"]),
                prompt_id=p["prompt_id"],
                agent_id=None,
                name=p.get("kind"),
                detail=_preview(p.get("text")),
                status="interrupted" if p.get("interrupted") else None,
                duration_ms=p.get("duration_ms"),
            )
        )
    for c in detail.llm_calls:
        usage = UsageTally()
        usage.add_call(c)
        events.append(
            _event(
                "llm_call",
                c.get("ts_ms"),
                str(c["call_id"]),
                prompt_id=c.get("prompt_id"),
                agent_id=c.get("agent_id"),
                name=c.get("model"),
                detail=c.get("stop_reason"),
                status=None,
                duration_ms=c.get("duration_ms"),
                total_tokens=usage.total_tokens if c.get("has_usage") else None,
                cost_usd=None if c.get("cost_nusd") is None else _int(c["cost_nusd"]) / NANO_PER_USD,
            )
        )
    for t in detail.tool_calls:
        name = str(t.get("tool_name") or "?")
        events.append(
            _event(
                "tool_call",
                t.get("started_ms") if t.get("started_ms") is not None else t.get("ended_ms"),
                str(t["tool_use_id"]),
                prompt_id=t.get("prompt_id"),
                agent_id=t.get("agent_id"),
                name=name,
                detail=_preview(key_input(name, _tool_input(t.get("input_json")))),
                status=t.get("status"),
                duration_ms=_tool_duration(t),
            )
        )
    for s in detail.subagents:
        common = {
            "prompt_id": s.get("prompt_id"),
            "agent_id": s["agent_id"],
            "name": s.get("agent_type"),
            "detail": _preview(s.get("description")),
            "status": None,
            "duration_ms": None,
        }
        if s.get("started_ms") is not None:
            events.append(_event("subagent_start", s["started_ms"], str(s["agent_id"]), **common))
        if s.get("ended_ms") is not None:
            events.append(_event("subagent_end", s["ended_ms"], str(s["agent_id"]), **common))
    for c in detail.commits:
        events.append(
            _event(
                "commit",
                c.get("ts_ms"),
                str(c["sha"]),
                prompt_id=None,
                agent_id=None,
                name=c.get("branch"),
                detail=_preview(c.get("message")),
                status=None,
                duration_ms=None,
            )
        )
    # Events with no time at all go last, in a stable order.
    events.sort(key=lambda e: (e["ts_ms"] is None, e["ts_ms"] or 0, _ORDER[e["kind"]], e["id"]))
    return events
