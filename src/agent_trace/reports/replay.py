"""A session, prompt by prompt: what was asked, what the agent did, what it cost (pure).

Built from a store's `SessionDetail`. Every LLM call and tool call lands under exactly one prompt:
its own prompt id when known; else the prompt of its subagent (a subagent belongs to the Agent/Task
tool call that started it), of the LLM call that issued it, or finally the last prompt that began
before it. Per-prompt tokens and cost therefore add up to the session's totals, subagents included.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Any

import orjson

from agent_trace.domain.merge_rules import FAILED_STATUSES
from agent_trace.domain.records import NANO_PER_USD
from agent_trace.domain.timeutil import ms_to_iso
from agent_trace.reports.outcome_views import commit_json, outcome_json, pr_json
from agent_trace.reports.reconcile import reconcile
from agent_trace.reports.tally import UsageTally, step_usage_json
from agent_trace.store.port import SessionDetail


@dataclass
class ToolView:
    row: dict[str, Any]
    input: Any
    files_read: list[str] = field(default_factory=list)
    files_written: list[str] = field(default_factory=list)
    subagent: SubagentView | None = None

    @property
    def name(self) -> str:
        return str(self.row.get("tool_name") or "?")

    def as_json(self) -> dict[str, Any]:
        r = self.row
        return {
            "tool_use_id": r["tool_use_id"],
            "tool_name": r.get("tool_name"),
            "status": r.get("status"),
            "started_at": ms_to_iso(r.get("started_ms")),
            "ended_at": ms_to_iso(r.get("ended_ms")),
            "duration_ms": r.get("duration_ms"),
            "input": self.input,
            "output": r.get("output_text"),
            "error": r.get("error"),
            "call_id": r.get("call_id"),
            "agent_id": r.get("agent_id"),
            "files_read": self.files_read,
            "files_written": self.files_written,
            "subagent": self.subagent.as_json() if self.subagent else None,
        }


@dataclass
class Step:
    """One LLM call with the tool calls it issued, in order."""

    call: dict[str, Any]
    tools: list[ToolView] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        c = self.call
        return {
            "call_id": c["call_id"],
            "model": c.get("model"),
            "ts": ms_to_iso(c.get("ts_ms")),
            "agent_id": c.get("agent_id"),
            "usage": step_usage_json(c) if c.get("has_usage") else None,
            "cost_usd": None if c.get("cost_nusd") is None else int(c["cost_nusd"]) / NANO_PER_USD,
            "unpriced_reason": c.get("unpriced_reason") if c.get("has_usage") else None,
            "reported_cost_usd": None
            if c.get("reported_cost_nusd") is None
            else int(c["reported_cost_nusd"]) / NANO_PER_USD,
            "text": c.get("response_text"),
            "thinking": c.get("thinking"),
            "stop_reason": c.get("stop_reason"),
            "tools": [t.as_json() for t in self.tools],
        }


@dataclass
class SubagentView:
    row: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    orphan_tools: list[ToolView] = field(default_factory=list)
    totals: UsageTally = field(default_factory=UsageTally)

    def as_json(self) -> dict[str, Any]:
        r = self.row
        return {
            "agent_id": r["agent_id"],
            "agent_type": r.get("agent_type"),
            "description": r.get("description"),
            "model": r.get("model"),
            "is_compaction": bool(r.get("is_compaction")),
            "started_at": ms_to_iso(r.get("started_ms")),
            "ended_at": ms_to_iso(r.get("ended_ms")),
            "steps": [s.as_json() for s in self.steps],
            "tools": [t.as_json() for t in self.orphan_tools],
            "totals": self.totals.usage_json(with_nusd=False),
        }


@dataclass
class PromptView:
    row: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    orphan_tools: list[ToolView] = field(default_factory=list)  # tool calls with no known LLM call
    subagents: list[SubagentView] = field(default_factory=list)  # not reached through a tool call
    totals: UsageTally = field(default_factory=UsageTally)
    files_read: list[str] = field(default_factory=list)
    files_written: list[str] = field(default_factory=list)
    tool_calls: int = 0
    tool_errors: int = 0

    @property
    def response(self) -> str | None:
        texts = [s.call.get("response_text") for s in self.steps if s.call.get("response_text")]
        return str(texts[-1]) if texts else None

    def as_json(self) -> dict[str, Any]:
        r = self.row
        return {
            "prompt_id": r.get("prompt_id"),
            "kind": r.get("kind"),
            "text": r.get("text"),
            "ts": ms_to_iso(r.get("ts_ms")),
            "duration_ms": r.get("duration_ms"),
            "interrupted": bool(r.get("interrupted")),
            "api_errors": r.get("api_errors") or 0,
            "response": self.response,
            "steps": [s.as_json() for s in self.steps],
            "tools": [t.as_json() for t in self.orphan_tools],
            "subagents": [s.as_json() for s in self.subagents],
            "files_read": self.files_read,
            "files_written": self.files_written,
            "tool_calls": self.tool_calls,
            "tool_errors": self.tool_errors,
            "totals": self.totals.usage_json(with_nusd=False),
        }


@dataclass
class Replay:
    session: dict[str, Any]
    prompts: list[PromptView]
    totals: UsageTally
    commits: list[dict[str, Any]]
    files_read: list[str]
    files_written: list[str]
    # Claude Code's reported cost against ours (reports/reconcile.py); None without reported costs.
    reconciliation: dict[str, Any] | None = None
    pull_requests: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        s = self.session
        prs = {str(p["pr_id"]): p for p in self.pull_requests}
        return {
            "session": {
                "session_id": s["session_id"],
                "agent": s.get("agent"),
                "project": s.get("project"),
                "cwd": s.get("cwd"),
                "user": s.get("user_id"),
                "title": s.get("title"),
                "version": s.get("version"),
                "entrypoint": s.get("entrypoint"),
                "started_at": ms_to_iso(s.get("started_ms")),
                "ended_at": ms_to_iso(s.get("ended_ms")),
                "end_reason": s.get("end_reason"),
                "permission_mode": s.get("permission_mode"),
                "compactions": s.get("compactions") or 0,
                "git": {
                    "repo": s.get("git_repo"),
                    "branch": s.get("git_branch"),
                    "head": s.get("git_head"),
                    "base_sha": s.get("git_base_sha"),
                    "lines_added": s.get("git_lines_added"),
                    "lines_removed": s.get("git_lines_removed"),
                    "files_changed": s.get("git_files_changed"),
                },
                "reported_cost_usd": None
                if s.get("reported_cost_nusd") is None
                else int(s["reported_cost_nusd"]) / NANO_PER_USD,
                "reconciliation": self.reconciliation,
            },
            "totals": self.totals.usage_json(with_nusd=False),
            "prompts": [p.as_json() for p in self.prompts],
            "commits": [commit_json(c, prs) for c in self.commits],
            "outcome": outcome_json(s),
            "pull_requests": [pr_json(p) for p in self.pull_requests],
            "files_read": self.files_read,
            "files_written": self.files_written,
        }


def _parse_input(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _ts(row: dict[str, Any], *keys: str) -> int:
    for key in keys:
        value = row.get(key)
        if value is not None:
            return int(value)
    return 0


class _PromptIndex:
    """Which prompt card a record belongs under: its own prompt id, else its LLM call's, else
    its subagent's parent tool call's, else the prompt current at its time (`preface` before
    the first prompt). Chains of references are followed at most five deep."""

    def __init__(self, detail: SessionDetail, views: list[PromptView], preface: PromptView) -> None:
        self.views = views
        self.preface = preface
        self.by_prompt = {str(v.row["prompt_id"]): v for v in views}
        self.starts = [_ts(v.row, "ts_ms") for v in views]
        self.calls = {str(c["call_id"]): c for c in detail.llm_calls}
        self.tools = {str(t["tool_use_id"]): t for t in detail.tool_calls}
        self.subagent_rows = {str(s["agent_id"]): s for s in detail.subagents}
        # Subagents hang under the tool call that started them.
        self.parent_of_agent: dict[str, str] = {}
        for t in detail.tool_calls:
            if t.get("subagent_id"):
                self.parent_of_agent[str(t["subagent_id"])] = str(t["tool_use_id"])
        for s in detail.subagents:
            if s.get("parent_tool_use_id") and str(s["agent_id"]) not in self.parent_of_agent:
                self.parent_of_agent[str(s["agent_id"])] = str(s["parent_tool_use_id"])

    def by_time(self, ts: int) -> PromptView:
        index = bisect.bisect_right(self.starts, ts) - 1
        return self.views[index] if index >= 0 else self.preface

    def of_tool(self, t: dict[str, Any], depth: int = 0) -> PromptView:
        pid = t.get("prompt_id")
        if pid and str(pid) in self.by_prompt:
            return self.by_prompt[str(pid)]
        call = self.calls.get(str(t.get("call_id")))
        if call is not None and depth < 5:
            return self.of_call(call, depth + 1)
        if t.get("agent_id") and depth < 5:
            return self.of_agent(str(t["agent_id"]), _ts(t, "started_ms", "ended_ms"), depth + 1)
        return self.by_time(_ts(t, "started_ms", "ended_ms"))

    def of_agent(self, agent_id: str, ts: int, depth: int) -> PromptView:
        parent = self.parent_of_agent.get(agent_id)
        if parent and parent in self.tools and depth < 5:
            return self.of_tool(self.tools[parent], depth + 1)
        sub = self.subagent_rows.get(agent_id)
        if sub is not None and sub.get("prompt_id") and str(sub["prompt_id"]) in self.by_prompt:
            return self.by_prompt[str(sub["prompt_id"])]
        return self.by_time(_ts(sub or {}, "started_ms") or ts)

    def of_call(self, c: dict[str, Any], depth: int = 0) -> PromptView:
        pid = c.get("prompt_id")
        if pid and str(pid) in self.by_prompt:
            return self.by_prompt[str(pid)]
        if c.get("agent_id"):
            return self.of_agent(str(c["agent_id"]), _ts(c, "ts_ms"), depth + 1)
        return self.by_time(_ts(c, "ts_ms"))


def _tool_views(detail: SessionDetail) -> dict[str, ToolView]:
    """Each tool call's view, with the files it read and wrote."""
    touches_by_tool: dict[str, list[dict[str, Any]]] = {}
    for f in detail.file_touches:
        touches_by_tool.setdefault(str(f["tool_use_id"]), []).append(f)
    tool_views: dict[str, ToolView] = {}
    for t in detail.tool_calls:
        view = ToolView(row=t, input=_parse_input(t.get("input_json")))
        for f in touches_by_tool.get(str(t["tool_use_id"]), []):
            (view.files_read if f["op"] == "read" else view.files_written).append(str(f["path"]))
        tool_views[str(t["tool_use_id"])] = view
    return tool_views


def _count_tools_and_files(tool_views: dict[str, ToolView], index: _PromptIndex) -> None:
    """Files and tool counts per prompt, subagents' tools included."""
    for view in tool_views.values():
        prompt = index.of_tool(view.row)
        prompt.tool_calls += 1
        if view.row.get("status") in FAILED_STATUSES:
            prompt.tool_errors += 1
        for path in view.files_read:
            if path not in prompt.files_read:
                prompt.files_read.append(path)
        for path in view.files_written:
            if path not in prompt.files_written:
                prompt.files_written.append(path)


def build_replay(detail: SessionDetail) -> Replay:
    prompts_sorted = sorted(detail.prompts, key=lambda p: (_ts(p, "ts_ms"), str(p["prompt_id"])))
    views = [PromptView(row=p) for p in prompts_sorted]
    # Calls and tools from before the first prompt (or with no time) gather in a leading card.
    preface = PromptView(row={"prompt_id": None, "kind": "preface", "text": None, "ts_ms": None})
    index = _PromptIndex(detail, views, preface)
    prompt_of_tool, prompt_of_call, prompt_of_agent = index.of_tool, index.of_call, index.of_agent
    calls, subagent_rows, parent_of_agent = index.calls, index.subagent_rows, index.parent_of_agent
    tool_views = _tool_views(detail)

    sub_views = {aid: SubagentView(row=row) for aid, row in subagent_rows.items()}
    steps: dict[str, Step] = {cid: Step(call=c) for cid, c in calls.items()}

    # Tools under their LLM call's step; others under their subagent or prompt directly.
    for tid, view in tool_views.items():
        t = view.row
        step = steps.get(str(t.get("call_id")))
        if step is not None:
            step.tools.append(view)
        elif t.get("agent_id") and str(t["agent_id"]) in sub_views:
            sub_views[str(t["agent_id"])].orphan_tools.append(view)
        else:
            prompt_of_tool(t).orphan_tools.append(view)
        del tid
    for step in steps.values():
        step.tools.sort(key=lambda v: (_ts(v.row, "started_ms", "ended_ms"), str(v.row["tool_use_id"])))

    # Steps under their subagent, or under their prompt (main thread).
    ordered_steps = sorted(steps.values(), key=lambda s: (_ts(s.call, "ts_ms"), str(s.call["call_id"])))
    for step in ordered_steps:
        c = step.call
        agent = c.get("agent_id")
        if agent and str(agent) in sub_views:
            sub_views[str(agent)].steps.append(step)
            sub_views[str(agent)].totals.add_call(c)
        elif agent:
            # A subagent call whose subagent record is missing: make one so nothing disappears.
            sub = sub_views.setdefault(str(agent), SubagentView(row={"agent_id": agent}))
            sub.steps.append(step)
            sub.totals.add_call(c)
        else:
            prompt_of_call(c).steps.append(step)
        prompt_of_call(c).totals.add_call(c)

    # Subagents nest under their parent tool view, or directly under a prompt.
    for aid, sub in sub_views.items():
        parent = parent_of_agent.get(aid)
        if parent and parent in tool_views and tool_views[parent].subagent is None:
            tool_views[parent].subagent = sub
        else:
            prompt_of_agent(aid, _ts(sub.row, "started_ms"), 0).subagents.append(sub)

    _count_tools_and_files(tool_views, index)

    all_views = ([preface] if (preface.steps or preface.orphan_tools or preface.subagents) else []) + views
    totals = UsageTally()
    for v in all_views:
        totals.add(v.totals)
    files_read: list[str] = []
    files_written: list[str] = []
    for v in all_views:
        files_read.extend(p for p in v.files_read if p not in files_read)
        files_written.extend(p for p in v.files_written if p not in files_written)
    commits = sorted(detail.commits, key=lambda c: _ts(c, "ts_ms"))
    reported = [c for c in detail.llm_calls if c.get("has_usage") and c.get("reported_cost_nusd") is not None]
    reconciliation = reconcile(reported).get(str(detail.session["session_id"]))
    return Replay(
        detail.session,
        all_views,
        totals,
        commits,
        files_read,
        files_written,
        reconciliation,
        list(detail.pull_requests),
    )
