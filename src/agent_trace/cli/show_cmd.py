"""`agent-trace show SESSION_ID`: the session prompt by prompt in the terminal."""

from __future__ import annotations

import argparse
import sys
from datetime import tzinfo
from typing import Any

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
    usd_nusd,
    when,
)
from agent_trace.config import Settings
from agent_trace.domain.merge_rules import FAILED_STATUSES
from agent_trace.domain.timeutil import parse_iso_ms
from agent_trace.reports.replay import build_replay
from agent_trace.reports.tool_summary import key_input
from agent_trace.store.port import RecordReader

STATUS_MARK = {"success": "✓", "error": "✗", "denied": "⊘", "interrupted": "⏹", None: "…"}


def _totals_line(t: dict[str, Any]) -> str:
    cache_write = t["cache_creation_tokens"]
    parts = [
        f"in {tokens(t['input_tokens'])}",
        f"out {tokens(t['output_tokens'])}",
        f"cache write {tokens(cache_write)}"
        + (
            f" (5m {tokens(t['cache_creation_5m_tokens'])}, 1h {tokens(t['cache_creation_1h_tokens'])})"
            if cache_write
            else ""
        ),
        f"cache read {tokens(t['cache_read_tokens'])}",
        _money(t),
    ]
    return " · ".join(parts)


def _money(t: dict[str, Any]) -> str:
    return money(usd_nusd(t["cost_usd"]), t["unpriced_calls"], t["llm_calls"])


class _Printer:
    """Prints a replay in the shape of its JSON (`show --json`, the API's /v1/sessions/{id}), so a
    session read from a remote server prints exactly like a local one."""

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

    def tool(self, tool: dict[str, Any], indent: int) -> None:
        name = str(tool.get("tool_name") or "?")
        mark = STATUS_MARK.get(tool.get("status"), "?")
        took = f" {duration(tool.get('duration_ms'))}" if tool.get("duration_ms") is not None else ""
        detail = one_line(key_input(name, tool.get("input")), self.width - indent - 20)
        style = "red" if tool.get("status") in FAILED_STATUSES else None
        self.line(f"▸ {name} {detail}  {mark}{took}", style, indent)
        if tool.get("status") in ("error", "denied") and tool.get("error"):
            self.block(str(tool["error"]), indent + 4, "red", max_lines=3)
        if tool.get("subagent") is not None:
            self.subagent(tool["subagent"], indent + 4)

    def step_tools(
        self, steps: list[dict[str, Any]], orphans: list[dict[str, Any]], indent: int, show_text: bool
    ) -> None:
        for step in steps:
            text = step.get("text")
            if show_text and text and step["tools"]:
                self.line("» " + one_line(str(text), self.width - indent), "italic", indent)
            for tool in step["tools"]:
                self.tool(tool, indent)
        for tool in orphans:
            self.tool(tool, indent)

    def subagent(self, sub: dict[str, Any], indent: int) -> None:
        kind = "compaction" if sub.get("is_compaction") else (sub.get("agent_type") or "subagent")
        totals = sub["totals"]
        self.line(
            f"┌ subagent {sub.get('agent_id')} ({kind}) — {totals['llm_calls']} LLM calls · {_totals_line(totals)}",
            "cyan",
            indent,
        )
        self.step_tools(sub["steps"], sub["tools"], indent + 2, show_text=False)

    def prompt(self, index: int, p: dict[str, Any]) -> None:
        kind = p.get("kind") or "prompt"
        header = f"── {index}. {kind} · {when(parse_iso_ms(p.get('ts')), self.tz)}"
        if p.get("duration_ms"):
            header += f" · {duration(p.get('duration_ms'))}"
        header += f" · {p['tool_calls']} tool calls · {_money(p['totals'])}"
        self.line(header, "bold")
        if p.get("text"):
            self.block(str(p["text"]), 2, "green", max_lines=8)
        elif kind != "preface":
            self.line("(prompt text not stored at this privacy tier)", "dim", 2)
        if p.get("interrupted"):
            self.line("interrupted by the user", "yellow", 2)
        if p.get("api_errors"):
            self.line(f"{p['api_errors']} API error(s)", "yellow", 2)
        self.step_tools(p["steps"], p["tools"], 2, show_text=True)
        for sub in p["subagents"]:
            self.subagent(sub, 2)
        if p["files_read"]:
            self.line("read:    " + ", ".join(p["files_read"]), "dim", 2)
        if p["files_written"]:
            self.line("written: " + ", ".join(p["files_written"]), "dim", 2)
        if p.get("response"):
            self.line("response:", "bold", 2)
            self.block(str(p["response"]), 4, max_lines=10)
        self.line(_totals_line(p["totals"]), "dim", 2)
        self.line("")

    def replay(self, data: dict[str, Any]) -> None:
        s = data["session"]
        git = s.get("git") or {}
        self.line(f"Session {s['session_id']}", "bold")
        meta = [
            f"{s.get('agent') or 'agent'} {s.get('version') or ''}".strip(),
            f"user {s.get('user') or '–'}",
            f"project {project_name(s.get('project'))}",
        ]
        if git.get("branch"):
            meta.append(f"branch {git['branch']}")
        self.line(" · ".join(meta))
        started, ended = parse_iso_ms(s.get("started_at")), parse_iso_ms(s.get("ended_at"))
        span = None if started is None or ended is None else ended - started
        self.line(
            f"started {when(started, self.tz)} · lasted {duration(span)} · {len(data['prompts'])} turns"
        )
        total = f"total: {_totals_line(data['totals'])}"
        if s.get("reported_cost_usd") is not None:
            total += f" (Claude Code reported {money(usd_nusd(s['reported_cost_usd']))})"
        self.line(total)
        if git.get("lines_added") is not None or git.get("files_changed") is not None:
            self.line(
                f"git: +{git.get('lines_added') or 0} −{git.get('lines_removed') or 0} "
                f"in {git.get('files_changed') or 0} files"
            )
        from agent_trace.cli.outcome_tables import outcome_lines

        for text in outcome_lines(data["outcome"], data["commits"]):
            self.line(text)
        self.line("")
        for index, prompt in enumerate(data["prompts"], start=1):
            self.prompt(index, prompt)


def _resolve(store: RecordReader, session_id: str) -> str | list[str] | None:
    matches = store.find_session_ids(session_id)
    if session_id in matches:
        return session_id
    if len(matches) == 1:
        return str(matches[0])
    return matches if matches else None


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from agent_trace.cli.remote import remote_of

    tz, _ = cli_timezone(args.timezone, settings.timezone)
    remote = remote_of(args, settings)
    data = _local_replay(args, settings) if remote is None else remote_replay(remote, args.session_id)
    if data is None:
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    _Printer(tz, args.full).replay(data)
    return 0


def _local_replay(args: argparse.Namespace, settings: Settings) -> dict[str, Any] | None:
    from agent_trace.store.factory import open_read_store

    store = open_read_store(settings.database_url, settings.events_url)
    try:
        found = _resolve(store, args.session_id)
        if found is None or isinstance(found, list):
            _not_one(args.session_id, found or [])
            return None
        detail = store.session_detail(found)
    finally:
        store.close()
    if detail is None:
        _not_one(args.session_id, [])
        return None
    return build_replay(detail).as_json()


def remote_replay(remote: Any, session_id: str) -> dict[str, Any] | None:
    """The replay from the server (which answers 403 for a session whose content the caller may
    not read), a unique id prefix resolved through the session list like locally."""
    from urllib.parse import quote

    from agent_trace.cli.remote import RemoteError

    try:
        data: dict[str, Any] = remote.get_json(f"/v1/sessions/{quote(session_id, safe='')}")
    except RemoteError as exc:
        if exc.status != 404:
            raise
        rows = remote.get_json("/v1/sessions", {"q": session_id, "limit": "500"})["sessions"]
        found = sorted({r["session_id"] for r in rows if r["session_id"].startswith(session_id)})
        if len(found) != 1:
            _not_one(session_id, found)
            return None
        data = remote.get_json(f"/v1/sessions/{quote(found[0], safe='')}")
    data.pop("summary", None)  # the API adds the session's list row; `show --json` is the replay
    return data


def _not_one(session_id: str, matches: list[str]) -> None:
    if matches:
        print(
            f"agent-trace show: {session_id!r} matches several sessions: {', '.join(matches)}",
            file=sys.stderr,
        )
    else:
        print(f"agent-trace show: no session {session_id!r}", file=sys.stderr)
