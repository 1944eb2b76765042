"""The replay page's model: prompt cards built from the API's replay JSON.

A session can hold thousands of tool calls. The page stays quick to first paint by rendering at
most INLINE_BUDGET tool views up front: the open card(s) render their first CHUNK tool views with
a "show more" button for the rest, and closed cards that do not fit the budget are fetched when
first opened (`/sessions/{id}/cards/{n}`). Small sessions render entirely inline.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from markupsafe import Markup

from agent_trace.domain.prompts import task_notification
from agent_trace.server.dashboard.highlight import Highlighter
from agent_trace.server.dashboard.toolviews import ToolCard, ToolViewBuilder

INLINE_BUDGET = 300
CHUNK = 200
OPEN_ALL_UP_TO = 3  # sessions with this few prompts open every card
# Above this much replay data on one page, tool bodies load when a tool call is opened: the page
# then carries one summary line per tool call instead of every file read in full.
INLINE_BODY_BYTES = 400_000


@dataclass
class ToolNode:
    card: ToolCard
    subagent: SubagentNode | None = None
    lazy: bool = False  # the body is fetched when the tool call is opened


@dataclass
class StepNode:
    call: dict[str, Any]
    text: Markup | None  # intermediate narration (the final response is shown once, at the end)
    thinking: str | None
    tools: list[ToolNode]


@dataclass
class SubagentNode:
    row: dict[str, Any]
    steps: list[StepNode]
    tools: list[ToolNode]


@dataclass
class Item:
    """One unit of a card's body: a step, a tool call with no known step, or a loose subagent."""

    step: StepNode | None = None
    tool: ToolNode | None = None
    subagent: SubagentNode | None = None


@dataclass
class PromptCard:
    index: int
    prompt: dict[str, Any]
    rev: str
    is_open: bool
    tool_views: int
    text: Markup | None
    response: Markup | None
    items: list[Item] | None = None  # None: the body is fetched when the card is first opened
    more_from: int | None = None  # the next item to fetch with "show more"
    remaining: int = 0  # tool views not yet shown
    models: list[str] = field(default_factory=list)
    # LLM calls ran but not one word of theirs was kept: the privacy tier dropped the responses.
    responses_dropped: bool = False
    notification: dict[str, str] | None = None  # a background task's report, parsed


def _weight(tool: dict[str, Any]) -> int:
    sub = tool.get("subagent")
    return 1 + (_sub_weight(sub) if sub else 0)


def _sub_weight(sub: dict[str, Any]) -> int:
    return sum(_weight(t) for s in sub.get("steps", []) for t in s.get("tools", [])) + sum(
        _weight(t) for t in sub.get("tools", [])
    )


def _raw_items(prompt: dict[str, Any]) -> list[tuple[str, dict[str, Any], int]]:
    items: list[tuple[str, dict[str, Any], int]] = []
    for step in prompt.get("steps", []):
        items.append(("step", step, sum(_weight(t) for t in step.get("tools", []))))
    for tool in prompt.get("tools", []):
        items.append(("tool", tool, _weight(tool)))
    for sub in prompt.get("subagents", []):
        items.append(("subagent", sub, _sub_weight(sub)))
    return items


def _rev(prompt: dict[str, Any]) -> str:
    return hashlib.sha1(orjson.dumps(prompt), usedforsecurity=False).hexdigest()[:16]


class ReplayViewBuilder:
    """Builds one page (or fragment); make one per request (it carries a highlight budget)."""

    def __init__(self, highlighter: Highlighter, root: str | None = None) -> None:
        self.hl = highlighter
        self.tools = ToolViewBuilder(highlighter, root)
        self.lazy_tools = False

    def size_for(self, data: Any) -> None:
        """Choose inline or lazy tool bodies for rendering `data` (a prompt, a tool call…)."""
        self.lazy_tools = len(orjson.dumps(data)) > INLINE_BODY_BYTES

    def tool(self, tool: dict[str, Any], full: bool = False) -> ToolNode:
        if self.lazy_tools and not full:
            return ToolNode(self.tools.build(tool, body=False), None, lazy=True)
        sub = tool.get("subagent")
        return ToolNode(self.tools.build(tool, full), self.subagent(sub) if sub else None)

    def tool_body(self, tool: dict[str, Any]) -> ToolNode:
        """A tool call with its body, for a lazy view being opened (big subagents stay lazy)."""
        sub = tool.get("subagent")
        self.size_for(sub or {})
        return ToolNode(self.tools.build(tool), self.subagent(sub) if sub else None)

    def subagent(self, sub: dict[str, Any]) -> SubagentNode:
        return SubagentNode(
            row=sub,
            steps=[self.step(s, None) for s in sub.get("steps", [])],
            tools=[self.tool(t) for t in sub.get("tools", [])],
        )

    def step(self, step: dict[str, Any], response: str | None) -> StepNode:
        text = step.get("text")
        shown = None
        if text and text != response:
            shown = self.hl.markdown(str(text))
        return StepNode(step, shown, step.get("thinking"), [self.tool(t) for t in step.get("tools", [])])

    def items(self, prompt: dict[str, Any], start: int, budget: int) -> tuple[list[Item], int | None, int]:
        """Items from `start` until `budget` tool views are used: (items, next start, views left)."""
        raw = _raw_items(prompt)
        response = prompt.get("response")
        out: list[Item] = []
        used = 0
        index = start
        while index < len(raw):
            kind, data, weight = raw[index]
            if out and used + weight > budget:
                break
            if kind == "step":
                out.append(Item(step=self.step(data, response)))
            elif kind == "tool":
                out.append(Item(tool=self.tool(data)))
            else:
                out.append(Item(subagent=self.subagent(data)))
            used += weight
            index += 1
        left = sum(w for _, _, w in raw[index:])
        return out, (index if index < len(raw) else None), left

    def card(
        self, index: int, prompt: dict[str, Any], is_open: bool, render: bool, rev: str | None = None
    ) -> PromptCard:
        raw = _raw_items(prompt)
        text = prompt.get("text")
        response = prompt.get("response")
        card = PromptCard(
            index=index,
            prompt=prompt,
            rev=rev or _rev(prompt),
            is_open=is_open,
            tool_views=sum(w for _, _, w in raw),
            text=self.hl.prose(str(text)) if text else None,
            response=self.hl.markdown(str(response)) if response else None,
            models=sorted({str(s["model"]) for s in prompt.get("steps", []) if s.get("model")}),
            responses_dropped=bool(prompt.get("steps"))
            and not response
            and not any(s.get("text") or s.get("thinking") for s in prompt.get("steps", [])),
            notification=task_notification(str(text)) if prompt.get("kind") == "task_notification" else None,
        )
        if render:
            card.items, card.more_from, card.remaining = self.items(prompt, 0, CHUNK)
        return card

    def cards(self, replay: dict[str, Any], open_index: int | None = None) -> list[PromptCard]:
        """`open_index`: a card to render open as well (a link to a prompt or tool call in it)."""
        prompts = replay.get("prompts", [])
        # One serialisation per prompt gives both its revision and the page's size.
        dumps = [orjson.dumps(p) for p in prompts]
        self.lazy_tools = sum(map(len, dumps)) > INLINE_BODY_BYTES
        last = len(prompts) - 1
        budget = INLINE_BUDGET
        cards = []
        for index, prompt in enumerate(prompts):
            is_open = len(prompts) <= OPEN_ALL_UP_TO or index in (last, open_index)
            weight = min(sum(w for _, _, w in _raw_items(prompt)), CHUNK)
            render = weight <= budget or is_open
            if render:
                budget -= weight
            rev = hashlib.sha1(dumps[index], usedforsecurity=False).hexdigest()[:16]
            cards.append(self.card(index, prompt, is_open, render, rev))
        return cards

    def filtered_cards(self, pairs: list[tuple[int, dict[str, Any]]]) -> list[PromptCard]:
        """Cards of a filtered replay ((index, pruned prompt) pairs): every one open and whole,
        since their "show more" and lazy fragments would fetch the unfiltered prompt."""
        self.lazy_tools = sum(len(orjson.dumps(p)) for _, p in pairs) > INLINE_BODY_BYTES
        cards = []
        for index, prompt in pairs:
            card = self.card(index, prompt, True, False)
            card.items, card.more_from, card.remaining = self.items(prompt, 0, len(orjson.dumps(prompt)))
            cards.append(card)
        return cards
