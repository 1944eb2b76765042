"""Where a session's time went: the /v1/timeline events as a waterfall (pure geometry).

Lanes, top to bottom: prompts (each from its time to its end, or to the next prompt), then per
agent (the main one first, then each subagent as it started) its LLM calls and its tool calls.
Calls that overlap in time are packed into extra lanes, so parallel tool calls sit one above the
other, side by side in time. Idle stretches (no call running, longer than GAP_MIN_MS and a small
share of the span) are shaded across every lane with their length. Every bar links to its card.
Drawn as SVG with attributes only (no inline styles: the page CSP forbids them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from agent_trace.server.dashboard.formatting import duration
from agent_trace.server.dashboard.toolviews import FAILED

WIDTH = 1200
LEFT = 150  # lane labels
RIGHT = 10
LANE_H = 16
BAR_H = 11
AXIS_H = 26
MIN_BAR = 2.0  # an instant is still visible and clickable
MAX_PACKED = 16  # lanes per group; more overlapping calls share the last one
GAP_MIN_MS = 30_000
GAP_SHARE = 0.02


@dataclass
class Bar:
    x: float
    y: float
    w: float
    css: str
    href: str
    label: str


@dataclass
class Lane:
    y: float
    label: str


@dataclass
class Gap:
    x: float
    w: float
    label: str


@dataclass
class Waterfall:
    width: int = WIDTH
    height: int = AXIS_H
    left: int = LEFT
    bars: list[Bar] = field(default_factory=list)
    lanes: list[Lane] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)
    start_ms: int | None = None
    span_ms: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    prompts: list[dict[str, Any]] = field(default_factory=list)  # (for zoom links)

    def bars_svg(self) -> Markup:
        """The bars as SVG links, escaped here: a 2,000-tool session has ~5,000 bars, and a
        template loop spent as long on them (~45 ms) as the geometry itself."""
        return Markup(
            "".join(
                f'<a href="{escape(b.href)}" aria-label="{label}"><rect class="bar {b.css}" x="{b.x}" '
                f'y="{b.y}" width="{b.w}" height="{BAR_H}"><title>{label}</title></rect></a>\n'
                for b in self.bars
                for label in (escape(b.label),)
            )
        )


def _pack(items: list[tuple[int, int, dict[str, Any]]]) -> list[list[tuple[int, int, dict[str, Any]]]]:
    """Greedy interval packing: each item into the first lane free at its start."""
    lanes: list[list[tuple[int, int, dict[str, Any]]]] = []
    ends: list[int] = []
    for item in sorted(items, key=lambda i: (i[0], i[1])):
        for k, end in enumerate(ends):
            if end <= item[0]:
                lanes[k].append(item)
                ends[k] = max(item[1], item[0] + 1)
                break
        else:
            if len(lanes) < MAX_PACKED:
                lanes.append([item])
                ends.append(max(item[1], item[0] + 1))
            else:
                lanes[-1].append(item)
                ends[-1] = max(ends[-1], item[1])
    return lanes


def _tick_step(span_ms: int) -> int:
    for step in (1_000, 5_000, 10_000, 30_000, 60_000, 300_000, 600_000, 1_800_000, 3_600_000, 7_200_000):
        if span_ms / step <= 10:
            return step
    return 21_600_000


def waterfall(
    session_id: str, events: list[dict[str, Any]], window: tuple[int, int] | None = None
) -> Waterfall:
    base = "/sessions/" + quote(session_id, safe="")
    segment = lru_cache(maxsize=None)(lambda value: quote(str(value), safe=""))  # prompts repeat

    def link(e: dict[str, Any]) -> str:
        pid = e.get("prompt_id")
        if e["kind"] == "tool_call":
            if pid:
                return f"{base}/prompts/{segment(pid)}?tool={quote(str(e['id']), safe='')}"
            return f"{base}/tools/{quote(str(e['id']), safe='')}"
        return f"{base}/prompts/{segment(pid)}" if pid else base

    timed = [e for e in events if e.get("ts_ms") is not None]
    prompts = [e for e in timed if e["kind"] == "prompt"]
    view = Waterfall(
        counts={k: sum(1 for e in events if e["kind"] == k) for k in ("prompt", "llm_call", "tool_call")}
    )
    view.prompts = prompts
    spans, agent_start, agent_names = _spans(timed, prompts)
    if not spans:
        return view
    lo = min(s[1] for s in spans)
    hi = max(max(s[2] for s in spans), lo + 1)
    if window:
        lo, hi = window[0], max(min(window[1], hi), window[0] + 1)
        spans = [s for s in spans if s[2] >= lo and s[1] <= hi]
    view.start_ms, view.span_ms = lo, hi - lo
    plot = WIDTH - LEFT - RIGHT

    def x_of(ms: int) -> float:
        return LEFT + (min(max(ms, lo), hi) - lo) / (hi - lo) * plot

    y = float(AXIS_H)

    def lane_rows(label: str, kind: str, items: list[tuple[int, int, dict[str, Any]]], css: str) -> None:
        nonlocal y
        for k, lane in enumerate(_pack(items)):
            view.lanes.append(Lane(y, label if k == 0 else ""))
            for start, end, e in lane:
                x = x_of(start)
                w = max(x_of(end) - x, MIN_BAR)
                status = e.get("status")
                failed = status in FAILED
                text = " · ".join(
                    str(v)
                    for v in (
                        e.get("name") or kind,
                        e.get("detail"),
                        duration(end - start) if end > start else None,
                        status,
                    )
                    if v
                )
                view.bars.append(
                    Bar(
                        round(x, 2),
                        y + (LANE_H - BAR_H) / 2,
                        round(w, 2),
                        css + (" failed" if failed else ""),
                        link(e),
                        text,
                    )
                )
            y += LANE_H

    lane_rows("prompts", "prompt", [(s, e, ev) for k, s, e, ev in spans if k == "prompt"], "b-prompt")
    subs = [(s, e, ev) for k, s, e, ev in spans if k == "subagent"]
    if subs:
        lane_rows("subagents", "subagent", subs, "b-subagent")
    for agent in sorted(agent_start, key=lambda a: (a is not None, agent_start[a])):
        name = agent_names.get(agent) or (f"agent {str(agent)[:8]}" if agent else "main")
        calls = [(s, e, ev) for k, s, e, ev in spans if k == "llm_call" and ev.get("agent_id") == agent]
        tools = [(s, e, ev) for k, s, e, ev in spans if k == "tool_call" and ev.get("agent_id") == agent]
        if calls:
            lane_rows(f"{name} · LLM", "llm_call", calls, "b-llm")
        if tools:
            lane_rows(f"{name} · tools", "tool_call", tools, "b-tool")
    view.height = int(y) + 4
    # Idle stretches: no LLM call, tool call or subagent running.
    busy = sorted((s, e) for k, s, e, _ in spans if k != "prompt")
    threshold = max(GAP_MIN_MS, int(GAP_SHARE * (hi - lo)))
    reach = busy[0][1] if busy else lo
    for start, end in busy[1:]:
        if start - reach >= threshold:
            view.gaps.append(
                Gap(
                    round(x_of(reach), 2),
                    round(x_of(start) - x_of(reach), 2),
                    f"idle {duration(start - reach)}",
                )
            )
        reach = max(reach, end)
    step = _tick_step(hi - lo)
    t = 0
    while t <= hi - lo:
        view.ticks.append((round(x_of(lo + t), 2), "+" + duration(t) if t else "0"))
        t += step
    return view


_Span = tuple[str, int, int, dict[str, Any]]  # (kind, start, end, event)


def _spans(
    timed: list[dict[str, Any]], prompts: list[dict[str, Any]]
) -> tuple[list[_Span], dict[str | None, int], dict[str | None, str]]:
    """The bars to draw (LLM and tool calls, subagents from start to end, prompts until the
    next one), each agent's first instant and each agent's lane name."""
    spans: list[_Span] = []
    agent_start: dict[str | None, int] = {None: -1}
    agent_names: dict[str | None, str] = {None: "main"}
    sub_open: dict[str, dict[str, Any]] = {}
    for e in timed:
        start = int(e["ts_ms"])
        end = start + max(int(e.get("duration_ms") or 0), 0)
        if e["kind"] in ("llm_call", "tool_call"):
            spans.append((e["kind"], start, end, e))
            agent_start.setdefault(e.get("agent_id"), start)
        elif e["kind"] == "subagent_start":
            sub_open[str(e["id"])] = e
            agent_start.setdefault(str(e["id"]), start)
            agent_names[str(e["id"])] = f"{e.get('name') or 'subagent'}"
        elif e["kind"] == "subagent_end" and str(e["id"]) in sub_open:
            began = sub_open.pop(str(e["id"]))
            spans.append(("subagent", int(began["ts_ms"]), start, began))
    for i, p in enumerate(prompts):
        start = int(p["ts_ms"])
        following = int(prompts[i + 1]["ts_ms"]) if i + 1 < len(prompts) else None
        end = start + int(p["duration_ms"]) if p.get("duration_ms") else (following or start)
        spans.append(("prompt", start, end, p))
    return spans, agent_start, agent_names
