"""Filters inside one session's replay (pure): only a tool, only failed tool calls, only one
model's LLM calls. The replay JSON is pruned to what matches, keeping each prompt's index (its
card anchor `#p<n>`); the values offered in the pickers come from the whole session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_trace.server.dashboard.toolviews import FAILED

Node = dict[str, Any]


@dataclass(frozen=True)
class SessionFilter:
    tool: str = ""
    failed: bool = False
    model: str = ""

    @property
    def active(self) -> bool:
        return bool(self.tool or self.failed or self.model)

    @property
    def filters_tools(self) -> bool:
        return bool(self.tool or self.failed)

    def tool_matches(self, tool: Node) -> bool:
        if self.tool and tool.get("tool_name") != self.tool:
            return False
        return not (self.failed and tool.get("status") not in FAILED)

    def step_matches(self, step: Node) -> bool:
        return not self.model or step.get("model") == self.model


def _tools(tools: list[Node], f: SessionFilter, step_ok: bool) -> list[Node]:
    """The tool calls that match, and Agent calls with a match inside their subagent (kept as
    the way to it). `step_ok`: the LLM call that made these calls passes the model filter."""
    kept = []
    for tool in tools:
        sub = tool.get("subagent")
        inner = _agent(sub, f) if sub else None
        if step_ok and f.tool_matches(tool):
            kept.append({**tool, "subagent": inner} if sub else tool)
        elif inner is not None:
            kept.append({**tool, "subagent": inner})
    return kept


def _agent(node: Node, f: SessionFilter) -> Node | None:
    """`node` (a prompt or a subagent) pruned to what matches, None when nothing does."""
    steps = []
    for step in node.get("steps", []):
        ok = f.step_matches(step)
        tools = _tools(step.get("tools", []), f, ok)
        if ok and (tools or not f.filters_tools):
            steps.append({**step, "tools": tools})
        elif tools:  # a subagent's match under a call that does not match itself
            steps.append({**step, "tools": tools, "text": None, "thinking": None})
    loose = _tools(node.get("tools", []), f, not f.model)  # no LLM call known: no model either
    subagents = [s for s in (_agent(sub, f) for sub in node.get("subagents", [])) if s is not None]
    if not (steps or loose or subagents):
        return None
    return {**node, "steps": steps, "tools": loose, "subagents": subagents}


def filter_prompts(replay: Node, f: SessionFilter) -> list[tuple[int, Node]]:
    """(index, pruned prompt) for every prompt with something that matches."""
    out = []
    for index, prompt in enumerate(replay.get("prompts", [])):
        kept = _agent(prompt, f)
        if kept is not None:
            out.append((index, kept))
    return out


def choices(replay: Node) -> dict[str, list[str]]:
    """The tool names and models that occur in the session (subagents included)."""
    tools: set[str] = set()
    models: set[str] = set()

    def walk(node: Node) -> None:
        for step in node.get("steps", []):
            if step.get("model"):
                models.add(str(step["model"]))
            walk_tools(step.get("tools", []))
        walk_tools(node.get("tools", []))
        for sub in node.get("subagents", []):
            walk(sub)

    def walk_tools(items: list[Node]) -> None:
        for tool in items:
            if tool.get("tool_name"):
                tools.add(str(tool["tool_name"]))
            if tool.get("subagent"):
                walk(tool["subagent"])

    for prompt in replay.get("prompts", []):
        walk(prompt)
    return {"tool": sorted(tools), "model": sorted(models)}
