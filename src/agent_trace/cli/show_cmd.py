"""`agent-trace show SESSION_ID`: the session prompt by prompt in the terminal."""

from __future__ import annotations

import argparse
import sys
from datetime import tzinfo

import orjson

from agent_trace.cli.render import (
    cli_timezone,
    duration,
    make_console,
    money,
    one_line,
    project_name,
    terminal_safe,
    tokens,
    when,
)
from agent_trace.config import Settings
from agent_trace.reports.replay import PromptView, Replay, Step, SubagentView, ToolView, Totals, build_replay
from agent_trace.reports.tool_summary import key_input
from agent_trace.store.port import RecordReader

STATUS_MARK = {"success": "✓", "error": "✗", "denied": "⊘", "interrupted": "⏹", None: "…"}


def _totals_line(t: Totals) -> str:
    parts = [
        f"in {tokens(t.input_tokens)}",
        f"out {tokens(t.output_tokens)}",
        f"cache write {tokens(t.cache_creation_tokens)}"
        + (
            f" (5m {tokens(t.cache_5m_tokens)}, 1h {tokens(t.cache_1h_tokens)})"
            if t.cache_creation_tokens
            else ""
        ),
        f"cache read {tokens(t.cache_read_tokens)}",
        money(t.cost_nusd, t.unpriced_calls, t.llm_calls),
    ]
    return " · ".join(parts)


class _Printer:
    def __init__(self, tz: tzinfo | None, full: bool) -> None:
        self.console = make_console(highlight=False, markup=False, soft_wrap=True)
        self.tz = tz
        self.width = 100_000 if full else 160
        self.full = full

    def line(self, text: str, style: str | None = None, indent: int = 0) -> None:
        from rich.text import Text

        self.console.print(Text(" " * indent + terminal_safe(text), style=style or ""))

    def block(self, text: str, indent: int, style: str | None = None, max_lines: int = 12) -> None:
        lines = text.splitlines() or [""]
        if not self.full and len(lines) > max_lines:
            lines = [*lines[:max_lines], f"… ({len(lines) - max_lines} more lines; --full shows all)"]
        for line in lines:
            self.line(line if self.full else one_line(line, self.width) or "", style, indent)

    def tool(self, view: ToolView, indent: int) -> None:
        r = view.row
        mark = STATUS_MARK.get(r.get("status"), "?")
        took = f" {duration(r.get('duration_ms'))}" if r.get("duration_ms") is not None else ""
        detail = one_line(key_input(view.name, view.input), self.width - indent - 20)
        style = "red" if r.get("status") in ("error", "denied", "interrupted") else None
        self.line(f"▸ {view.name} {detail}  {mark}{took}", style, indent)
        if r.get("status") in ("error", "denied") and r.get("error"):
            self.block(str(r["error"]), indent + 4, "red", max_lines=3)
        if view.subagent is not None:
            self.subagent(view.subagent, indent + 4)

    def step_tools(self, steps: list[Step], orphans: list[ToolView], indent: int, show_text: bool) -> None:
        for step in steps:
            text = step.call.get("response_text")
            if show_text and text and step.tools:
                self.line("» " + one_line(str(text), self.width - indent), "italic", indent)
            for tool in step.tools:
                self.tool(tool, indent)
        for tool in orphans:
            self.tool(tool, indent)

    def subagent(self, sub: SubagentView, indent: int) -> None:
        r = sub.row
        kind = "compaction" if r.get("is_compaction") else (r.get("agent_type") or "subagent")
        self.line(
            f"┌ subagent {r.get('agent_id')} ({kind}) — {sub.totals.llm_calls} LLM calls · {_totals_line(sub.totals)}",
            "cyan",
            indent,
        )
        self.step_tools(sub.steps, sub.orphan_tools, indent + 2, show_text=False)

    def prompt(self, index: int, p: PromptView) -> None:
        r = p.row
        kind = r.get("kind") or "prompt"
        header = f"── {index}. {kind} · {when(r.get('ts_ms'), self.tz)}"
        if r.get("duration_ms"):
            header += f" · {duration(r.get('duration_ms'))}"
        header += f" · {p.tool_calls} tool calls · {money(p.totals.cost_nusd, p.totals.unpriced_calls, p.totals.llm_calls)}"
        self.line(header, "bold")
        if r.get("text"):
            self.block(str(r["text"]), 2, "green", max_lines=8)
        elif kind != "preface":
            self.line("(prompt text not stored at this privacy tier)", "dim", 2)
        if r.get("interrupted"):
            self.line("interrupted by the user", "yellow", 2)
        if r.get("api_errors"):
            self.line(f"{r['api_errors']} API error(s)", "yellow", 2)
        self.step_tools(p.steps, p.orphan_tools, 2, show_text=True)
        for sub in p.subagents:
            self.subagent(sub, 2)
        if p.files_read:
            self.line("read:    " + ", ".join(p.files_read), "dim", 2)
        if p.files_written:
            self.line("written: " + ", ".join(p.files_written), "dim", 2)
        if p.response:
            self.line("response:", "bold", 2)
            self.block(p.response, 4, max_lines=10)
        self.line(_totals_line(p.totals), "dim", 2)
        self.line("")

    def replay(self, replay: Replay) -> None:
        s = replay.session
        self.line(f"Session {s['session_id']}", "bold")
        meta = [
            f"{s.get('agent') or 'agent'} {s.get('version') or ''}".strip(),
            f"user {s.get('user_id') or '–'}",
            f"project {project_name(s.get('project'))}",
        ]
        if s.get("git_branch"):
            meta.append(f"branch {s['git_branch']}")
        self.line(" · ".join(meta))
        span = None
        if s.get("started_ms") is not None and s.get("ended_ms") is not None:
            span = int(s["ended_ms"]) - int(s["started_ms"])
        self.line(
            f"started {when(s.get('started_ms'), self.tz)} · lasted {duration(span)} · {len(replay.prompts)} turns"
        )
        total = f"total: {_totals_line(replay.totals)}"
        if s.get("reported_cost_nusd") is not None:
            total += f" (Claude Code reported {money(int(s['reported_cost_nusd']))})"
        self.line(total)
        if s.get("git_lines_added") is not None or s.get("git_files_changed") is not None:
            self.line(
                f"git: +{s.get('git_lines_added') or 0} −{s.get('git_lines_removed') or 0} "
                f"in {s.get('git_files_changed') or 0} files"
            )
        from agent_trace.cli.outcome_tables import outcome_lines

        data = replay.as_json()
        for text in outcome_lines(data["outcome"], data["commits"]):
            self.line(text)
        self.line("")
        for index, prompt in enumerate(replay.prompts, start=1):
            self.prompt(index, prompt)


def _resolve(store: RecordReader, session_id: str) -> str | list[str] | None:
    matches = store.find_session_ids(session_id)
    if session_id in matches:
        return session_id
    if len(matches) == 1:
        return str(matches[0])
    return matches if matches else None


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.store.factory import open_read_store

    tz, _ = cli_timezone(args.timezone, settings.timezone)
    store = open_read_store(settings.database_url, settings.events_url)
    try:
        found = _resolve(store, args.session_id)
        if found is None or isinstance(found, list):
            if found:
                print(
                    f"agent-trace show: {args.session_id!r} matches several sessions: {', '.join(found)}",
                    file=sys.stderr,
                )
            else:
                print(f"agent-trace show: no session {args.session_id!r}", file=sys.stderr)
            return 1
        detail = store.session_detail(found)
    finally:
        store.close()
    if detail is None:
        print(f"agent-trace show: no session {args.session_id!r}", file=sys.stderr)
        return 1
    replay = build_replay(detail)
    if args.json:
        sys.stdout.write(orjson.dumps(replay.as_json(), option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    _Printer(tz, args.full).replay(replay)
    return 0
