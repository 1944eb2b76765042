"""Page models for outcomes: the replay's commits/outcome panel and the outcomes page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from agent_trace.server.dashboard.charts import stacked
from agent_trace.server.dashboard.pages import money_tick

LABEL_ORDER = ("shipped", "committed", "no-commit", "spun")


@dataclass
class EvidenceLink:
    text: str
    href: str


@dataclass
class SignalRow:
    name: str
    value: Any
    points: int
    detail: str
    links: list[EvidenceLink] = field(default_factory=list)
    more: int = 0


@dataclass
class CommitRow:
    commit: dict[str, Any]
    prompt_href: str | None
    prompt_label: str | None
    tool_href: str | None


@dataclass
class OutcomePanel:
    label: str | None
    score: int | None
    signals: list[SignalRow]
    commits: list[CommitRow]
    loop_ids: list[str]  # tool calls to highlight in the cards (the loop's evidence)


def _tool_href(sid: str, tool_use_id: str) -> str:
    return f"/sessions/{quote(sid, safe='')}/tools/{quote(tool_use_id, safe='')}"


def outcome_panel(replay: dict[str, Any], shown: int = 12) -> OutcomePanel:
    sid = str(replay["session"]["session_id"])
    card_of = {p.get("prompt_id"): i for i, p in enumerate(replay.get("prompts", [])) if p.get("prompt_id")}
    outcome = replay.get("outcome") or {}

    def link(e: dict[str, str]) -> EvidenceLink:
        if e["kind"] == "tool_call":
            return EvidenceLink(e["id"][-8:], _tool_href(sid, e["id"]))
        if e["kind"] == "prompt" and e["id"] in card_of:
            return EvidenceLink(f"prompt #{card_of[e['id']] + 1}", f"#p{card_of[e['id']]}")
        return EvidenceLink(
            f"{e['kind']} {e['id'][:10]}", f"#commit-{e['id']}" if e["kind"] == "commit" else "#"
        )

    signals = [
        SignalRow(
            s["name"],
            s["value"],
            s["points"],
            s.get("detail") or "",
            [link(e) for e in s["evidence"][:shown]],
            max(0, len(s["evidence"]) - shown),
        )
        for s in outcome.get("signals", [])
    ]
    loop_ids = [e["id"] for s in outcome.get("signals", []) if s["name"] == "loop" for e in s["evidence"]]
    commits = []
    for c in replay.get("commits", []):
        index = card_of.get(c.get("prompt_id"))
        commits.append(
            CommitRow(
                c,
                f"#p{index}" if index is not None else None,
                f"prompt #{index + 1}" if index is not None else None,
                _tool_href(sid, c["tool_use_id"]) if c.get("tool_use_id") else None,
            )
        )
    return OutcomePanel(outcome.get("label"), outcome.get("score"), signals, commits, loop_ids)


def outcomes_page(data: dict[str, Any]) -> dict[str, Any]:
    """Shares of each label (for the bar), the weekly trend charts, and the tables as they come
    from the API."""
    totals = data["totals"]
    n = totals["sessions"] or 1
    shares = [
        (label, totals["labels"].get(label, 0), 100.0 * totals["labels"].get(label, 0) / n)
        for label in LABEL_ORDER
    ]
    weeks = data["by_week"]
    labels = [str(w["week"]) for w in weeks]
    trend = stacked(
        labels,
        [(label, [float(w["labels"].get(label, 0)) for w in weeks]) for label in LABEL_ORDER],
        lambda v: f"{v:.0f}",
    )
    # Each outcome in its own colour (the badges'), not the palette's order.
    palette = {f"s{k}": f"o-{label}" for k, label in enumerate(LABEL_ORDER)}
    for bar in trend.bars:
        for segment in bar.segments:
            segment.css = palette.get(segment.css, segment.css)
    trend.legend = [(palette.get(css, css), name) for css, name in trend.legend]
    per_commit = stacked(
        labels, [("cost per commit", [float(w["cost_per_commit_usd"] or 0) for w in weeks])], money_tick
    )
    return {**data, "shares": shares, "trend": trend, "per_commit": per_commit}
