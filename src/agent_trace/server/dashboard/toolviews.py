"""One view per tool: what a reader needs to see of a tool call, as template-ready sections.

A `ToolCard` is a title line plus sections; each section is plain text (escaped by the template),
or Markup that `highlight.py` produced safely. Known tools get purpose-built views (Bash command
and output, Read path and range, Write highlighted by language, Edit/MultiEdit as unified diffs,
Grep/Glob, Agent/Task with the subagent nested, WebFetch/WebSearch, TodoWrite); any other tool,
MCP tools included, gets a generic view of its JSON input and its output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent_trace.domain.merge_rules import FAILED_STATUSES
from agent_trace.domain.tools import is_mcp_tool, mcp_server_and_tool, patch_paths, tool_kind
from agent_trace.reports.tool_summary import key_input
from agent_trace.server.dashboard.formatting import rel_path
from agent_trace.server.dashboard.highlight import Highlighter, json_text, strip_ansi

# Beyond this, a view shows the start of a text and links to the tool call's own page.
SHOW_CHARS = 20_000
SHOW_LINES = 400
FAILED = frozenset(FAILED_STATUSES)
FAMILIES = {
    "Bash": "bash",
    "BashOutput": "bash",
    "KillShell": "bash",
    "Read": "read",
    "NotebookRead": "read",
    "Write": "write",
    "Edit": "edit",
    "MultiEdit": "edit",
    "NotebookEdit": "edit",
    "Grep": "search",
    "Glob": "search",
    "LS": "search",
    "Agent": "agent",
    "Task": "agent",
    "ExitPlanMode": "agent",
    "WebFetch": "web",
    "WebSearch": "web",
    "TodoWrite": "todo",
}
# Tool kinds (domain/tools.py) → the view family of other agents' tools.
_KIND_FAMILY = {"shell": "bash", "read": "read", "write": "write", "edit": "edit", "search": "search",
                "web": "web", "subagent": "agent", "todo": "todo"}  # fmt: skip
# Other agents' spellings of the input keys the Claude Code views read.
_KEY_ALIASES = {"cmd": "command", "filePath": "file_path", "absolute_path": "file_path",
                "oldString": "old_string", "newString": "new_string"}  # fmt: skip
_KIND_VIEW = {"shell": "Bash", "read": "Read", "write": "Write", "edit": "Edit"}


def other_agent_view(name: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(Claude Code view name, input with Claude Code's key names) for another agent's tool of a
    known kind, e.g. Codex `exec_command {cmd}` → Bash, OpenCode `edit {filePath, oldString}` →
    Edit; ("", args) when there is no such view."""
    view = _KIND_VIEW.get(tool_kind(name), "")
    if not view:
        return "", args
    mapped = {_KEY_ALIASES.get(k, k): v for k, v in args.items()}
    command = mapped.get("command")
    if isinstance(command, list):  # Codex's older `shell` tool: an argv
        mapped["command"] = " ".join(str(part) for part in command)
    if view == "Edit" and "old_string" not in mapped:
        return "", args
    return view, mapped


STATUS_LABEL = {
    "success": "ok",
    "error": "failed",
    "denied": "denied",
    "interrupted": "interrupted",
    None: "running",
}


@dataclass
class Section:
    label: str
    kind: str  # "code" (Markup), "text" (pre), "prose" (Markup), "kv" (pairs), "link", "todos", "note"
    content: Any
    css: str = ""
    truncated: int = 0  # characters not shown


@dataclass
class ToolCard:
    tool_use_id: str
    name: str
    family: str  # css hook: bash, read, write, edit, search, agent, web, mcp, todo, generic
    title: str
    status: str | None
    status_label: str
    failed: bool
    duration_ms: int | None
    started_at: str | None
    sections: list[Section] = field(default_factory=list)
    subagent: dict[str, Any] | None = None
    mcp_server: str | None = None
    mcp_tool: str | None = None
    full_title: str = ""  # the title before paths were made relative to the project root
    copy_text: str = ""  # what the tool's copy button copies: the command or the full path


def _cut(text: str, full: bool) -> tuple[str, int]:
    if full:
        return text, 0
    cut = text
    lines = cut.split("\n")
    if len(lines) > SHOW_LINES:
        cut = "\n".join(lines[:SHOW_LINES])
    if len(cut) > SHOW_CHARS:
        cut = cut[:SHOW_CHARS]
    return cut, len(text) - len(cut)


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json_text(value)


class ToolViewBuilder:
    def __init__(self, highlighter: Highlighter, root: str | None = None) -> None:
        self.hl = highlighter
        self.root = root  # the session's project directory: paths under it are shown relative

    def _finish(self, card: ToolCard, args: dict[str, Any]) -> ToolCard:
        card.full_title = card.title
        card.title = rel_path(card.title, self.root)
        path = args.get("file_path") or args.get("notebook_path") or args.get("path")
        if card.name == "Bash":
            card.copy_text = _str(args.get("command")) or ""
        elif isinstance(path, str):
            card.copy_text = path
        return card

    def build(self, tool: dict[str, Any], full: bool = False, body: bool = True) -> ToolCard:
        """The card; with `body` False only its summary line (the body is fetched later)."""
        name = str(tool.get("tool_name") or "?")
        inp = tool.get("input")
        status = tool.get("status")
        card = ToolCard(
            tool_use_id=str(tool.get("tool_use_id")),
            name=name,
            family="mcp"
            if is_mcp_tool(name)
            else FAMILIES.get(name) or _KIND_FAMILY.get(tool_kind(name), "generic"),
            title=key_input(name, inp),
            status=status,
            status_label=STATUS_LABEL.get(status, str(status)),
            failed=status in FAILED,
            duration_ms=tool.get("duration_ms"),
            started_at=tool.get("started_at"),
            subagent=tool.get("subagent"),
        )
        args = inp if isinstance(inp, dict) else {}
        if not body:
            if name == "Bash":
                card.title = (_str(args.get("command")) or "").split("\n", 1)[0]
            if is_mcp_tool(name):
                card.mcp_server, card.mcp_tool = mcp_server_and_tool(name)
            return self._finish(card, args)
        if inp is None:
            card.sections.append(Section("input", "note", "input not stored at this privacy tier"))
        views = {
            "Bash": self._bash,
            "Read": self._read,
            "NotebookRead": self._notebookread,
            "Write": self._write,
            "Edit": self._edit,
            "MultiEdit": self._multiedit,
            "NotebookEdit": self._notebookedit,
            "Grep": self._grep,
            "Glob": self._glob,
            "LS": self._ls,
            "Agent": self._agent,
            "Task": self._agent,
            "WebFetch": self._webfetch,
            "WebSearch": self._websearch,
            "TodoWrite": self._todowrite,
            "ExitPlanMode": self._exitplanmode,
        }
        view = self._mcp if is_mcp_tool(name) else views.get(name, self._generic)
        if view == self._generic and isinstance(inp, dict):
            # Another agent's tool of a known kind: shown with the Claude Code view of that kind.
            if name == "apply_patch":
                view = self._patch
            else:
                alias, args = other_agent_view(name, args)
                view = views.get(alias, self._generic)
        if not isinstance(inp, dict) and view != self._mcp:
            view = self._generic
        view(card, args, tool, full)
        self._error(card, tool, full)
        return self._finish(card, args)

    # -- helpers -------------------------------------------------------------------------------

    def _text(self, card: ToolCard, label: str, text: Any, full: bool, css: str = "") -> None:
        value = _str(text)
        if value is None or value == "":
            return
        shown, dropped = _cut(strip_ansi(value), full)
        card.sections.append(Section(label, "text", shown, css, dropped))

    def _output(self, card: ToolCard, tool: dict[str, Any], full: bool, label: str = "output") -> None:
        if card.failed and tool.get("error") and tool.get("error") == tool.get("output"):
            return  # shown once, as the error
        self._text(card, label, tool.get("output"), full, "output")

    def _kv(self, card: ToolCard, pairs: list[tuple[str, Any]]) -> None:
        shown = [
            (k, v if isinstance(v, str) else json_text(v)) for k, v in pairs if v not in (None, "", [], {})
        ]
        if shown:
            card.sections.append(Section("", "kv", shown))

    def _error(self, card: ToolCard, tool: dict[str, Any], full: bool) -> None:
        if card.failed:
            text = tool.get("error") or (tool.get("output") if not tool.get("error") else None)
            self._text(
                card, card.status_label, text or f"the tool call was {card.status_label}", full, "error"
            )

    # -- views ---------------------------------------------------------------------------------

    def _patch(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        """Codex's apply_patch: the patch itself, highlighted as a diff."""
        card.family = "edit"
        patch = _str(args.get("input")) or ""
        paths = patch_paths(patch)
        card.title = ", ".join(paths)
        self._kv(card, [("files", card.title)])
        shown, dropped = _cut(patch, full)
        card.sections.append(Section("patch", "code", self.hl.by_language(shown, "diff"), "diff", dropped))
        self._output(card, tool, full, "result")

    def _bash(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "bash"
        command = _str(args.get("command")) or ""
        card.title = command.split("\n", 1)[0]
        shown, dropped = _cut(command, full)
        card.sections.append(
            Section("command", "code", self.hl.by_language(shown, "bash"), "command", dropped)
        )
        self._kv(
            card,
            [
                ("description", args.get("description")),
                ("background", "yes" if args.get("run_in_background") else None),
                ("timeout", f"{args['timeout']} ms" if args.get("timeout") else None),
            ],
        )
        self._output(card, tool, full)

    def _read(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "read"
        path = _str(args.get("file_path")) or ""
        offset, limit = args.get("offset"), args.get("limit")
        if offset is not None or limit is not None:
            start = int(offset or 1)
            end = f"{start + int(limit) - 1}" if limit is not None else "end"
            span = f"lines {start}–{end}"
        else:
            span = "whole file"
        card.title = path
        self._kv(card, [("path", path), ("range", span), ("pages", args.get("pages"))])
        output = _str(tool.get("output"))
        if output and not card.failed:
            shown, dropped = _cut(output, full)
            card.sections.append(
                Section("content", "code", self.hl.numbered_file(shown, path), "output", dropped)
            )

    def _notebookread(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "read"
        self._kv(card, [("path", args.get("notebook_path")), ("cell", args.get("cell_id"))])
        self._output(card, tool, full)

    def _write(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "write"
        path = _str(args.get("file_path")) or ""
        content = _str(args.get("content")) or ""
        card.title = path
        shown, dropped = _cut(content, full)
        lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
        self._kv(card, [("path", path), ("size", f"{lines} lines, {len(content)} characters")])
        card.sections.append(Section("content", "code", self.hl.by_filename(shown, path, 1), "file", dropped))
        self._output(card, tool, full, "result")

    def _edit(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "edit"
        path = _str(args.get("file_path")) or ""
        card.title = path
        old, new = _str(args.get("old_string")) or "", _str(args.get("new_string")) or ""
        self._kv(card, [("path", path), ("replace all", "yes" if args.get("replace_all") else None)])
        self._diff(card, "diff", old, new, path, full)
        self._output(card, tool, full, "result")

    def _multiedit(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "edit"
        path = _str(args.get("file_path")) or ""
        raw = args.get("edits")
        edits: list[Any] = raw if isinstance(raw, list) else []
        card.title = f"{path} ({len(edits)} edits)"
        self._kv(card, [("path", path)])
        for index, edit in enumerate(edits, start=1):
            e = edit if isinstance(edit, dict) else {}
            label = f"edit {index} of {len(edits)}" + (" (replace all)" if e.get("replace_all") else "")
            self._diff(
                card, label, _str(e.get("old_string")) or "", _str(e.get("new_string")) or "", path, full
            )
        self._output(card, tool, full, "result")

    def _diff(self, card: ToolCard, label: str, old: str, new: str, path: str, full: bool) -> None:
        old_shown, old_dropped = _cut(old, full)
        new_shown, new_dropped = _cut(new, full)
        html = self.hl.diff(old_shown, new_shown, path)
        card.sections.append(Section(label, "code", html, "diff", old_dropped + new_dropped))

    def _notebookedit(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "edit"
        path = _str(args.get("notebook_path")) or ""
        card.title = path
        self._kv(
            card,
            [
                ("path", path),
                ("cell", args.get("cell_id")),
                ("type", args.get("cell_type")),
                ("mode", args.get("edit_mode")),
            ],
        )
        source = _str(args.get("new_source")) or ""
        shown, dropped = _cut(source, full)
        language = "markdown" if args.get("cell_type") == "markdown" else "python"
        card.sections.append(
            Section("new source", "code", self.hl.by_language(shown, language), "file", dropped)
        )
        self._output(card, tool, full, "result")

    def _grep(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "search"
        flags = [f for f in ("-i", "-n", "multiline") if args.get(f)]
        context = [f"{f} {args[f]}" for f in ("-A", "-B", "-C") if args.get(f) is not None]
        self._kv(
            card,
            [
                ("pattern", args.get("pattern")),
                ("path", args.get("path")),
                ("glob", args.get("glob")),
                ("type", args.get("type")),
                ("mode", args.get("output_mode")),
                ("flags", " ".join(flags + context) or None),
                ("head limit", args.get("head_limit")),
            ],
        )
        self._output(card, tool, full, "matches")

    def _glob(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "search"
        self._kv(card, [("pattern", args.get("pattern")), ("path", args.get("path"))])
        self._output(card, tool, full, "files")

    def _ls(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "search"
        self._kv(card, [("path", args.get("path")), ("ignore", args.get("ignore"))])
        self._output(card, tool, full, "entries")

    def _agent(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "agent"
        self._kv(
            card,
            [
                ("description", args.get("description")),
                ("subagent type", args.get("subagent_type")),
                ("model", args.get("model")),
                ("background", "yes" if args.get("run_in_background") else None),
            ],
        )
        prompt = _str(args.get("prompt"))
        if prompt:
            shown, dropped = _cut(prompt, full)
            card.sections.append(Section("prompt", "prose", self.hl.markdown(shown), "", dropped))
        output = _str(tool.get("output"))
        if output and not card.failed:
            shown, dropped = _cut(output, full)
            card.sections.append(Section("report", "prose", self.hl.markdown(shown), "output", dropped))

    def _webfetch(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "web"
        url = _str(args.get("url")) or ""
        # Only plain http(s) URLs become links (rel=noreferrer); anything else, `javascript:`
        # included, is shown as text.
        card.sections.append(
            Section("url", "link", url) if _is_web_url(url) else Section("url", "text", url, "url")
        )
        self._kv(card, [("prompt", args.get("prompt"))])
        output = _str(tool.get("output"))
        if output and not card.failed:
            shown, dropped = _cut(output, full)
            card.sections.append(Section("result", "prose", self.hl.markdown(shown), "output", dropped))

    def _websearch(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "web"
        self._kv(
            card,
            [
                ("query", args.get("query")),
                ("only", ", ".join(map(str, args.get("allowed_domains") or [])) or None),
                ("never", ", ".join(map(str, args.get("blocked_domains") or [])) or None),
            ],
        )
        output = _str(tool.get("output"))
        if output and not card.failed:
            shown, dropped = _cut(output, full)
            card.sections.append(Section("results", "prose", self.hl.markdown(shown), "output", dropped))

    def _todowrite(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "todo"
        raw = args.get("todos")
        todos: list[Any] = raw if isinstance(raw, list) else []
        items = [
            (str(t.get("status") or "pending"), str(t.get("content") or t.get("activeForm") or ""))
            for t in todos
            if isinstance(t, dict)
        ]
        card.sections.append(Section("todos", "todos", items))

    def _exitplanmode(self, card: ToolCard, args: dict[str, Any], tool: dict[str, Any], full: bool) -> None:
        card.family = "agent"
        plan = _str(args.get("plan")) or ""
        card.title = plan.split("\n", 1)[0]
        shown, dropped = _cut(plan, full)
        card.sections.append(Section("plan", "prose", self.hl.markdown(shown), "", dropped))
        self._output(card, tool, full, "result")

    def _mcp(self, card: ToolCard, args: Any, tool: dict[str, Any], full: bool) -> None:
        card.family = "mcp"
        card.mcp_server, card.mcp_tool = mcp_server_and_tool(card.name)
        self._generic(card, args, tool, full)
        card.family = "mcp"

    def _generic(self, card: ToolCard, args: Any, tool: dict[str, Any], full: bool) -> None:
        inp = tool.get("input")
        if inp is not None:
            text = json_text(inp) if not isinstance(inp, str) else inp
            shown, dropped = _cut(text, full)
            card.sections.append(
                Section("input", "code", self.hl.by_language(shown, "json"), "input", dropped)
            )
        self._output(card, tool, full)


def _is_web_url(url: str) -> bool:
    lowered = url.strip().lower()
    return lowered.startswith(("https://", "http://")) and not any(c in url for c in "\"'<> \n\t")
