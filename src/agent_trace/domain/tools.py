"""Knowledge about Claude Code's tools that every source shares: which files a call touches."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_trace.domain.records import FileOp

READ_TOOLS = frozenset({"Read", "NotebookRead"})
WRITE_TOOLS = frozenset({"Write", "Edit", "MultiEdit", "NotebookEdit"})
SUBAGENT_TOOLS = frozenset({"Agent", "Task"})


def file_touches(tool_name: str | None, tool_input: Mapping[str, Any] | None) -> list[tuple[str, FileOp]]:
    """(path, read|write) pairs named by a tool call's input."""
    if not tool_name or not isinstance(tool_input, Mapping):
        return []
    path = tool_input.get("file_path") or tool_input.get("notebook_path") or tool_input.get("path")
    if not isinstance(path, str) or not path:
        return []
    if tool_name in READ_TOOLS:
        return [(path, "read")]
    if tool_name in WRITE_TOOLS:
        return [(path, "write")]
    return []


def bash_changed_files(tool_response: Mapping[str, Any] | None) -> list[str]:
    """Files a Bash call changed, from Claude Code's `bashEditDiff` (2.1.3xx tool results)."""
    if not isinstance(tool_response, Mapping):
        return []
    diff = tool_response.get("bashEditDiff")
    if not isinstance(diff, Mapping):
        return []
    changed = diff.get("changedFiles")
    if isinstance(changed, list):
        return [p for p in changed if isinstance(p, str) and p]
    return []


# Claude Code names an MCP server's tool `mcp__<server>__<tool>`.
MCP_PREFIX = "mcp__"


def is_mcp_tool(tool_name: str | None) -> bool:
    return bool(tool_name) and str(tool_name).startswith(MCP_PREFIX)


def mcp_server_and_tool(tool_name: str) -> tuple[str, str]:
    """The server and tool of an MCP tool name ("?" for a missing part)."""
    server, _, name = tool_name.removeprefix(MCP_PREFIX).partition("__")
    return server or "?", name or "?"


# --- canonical tool kinds across agents ----------------------------------------------------------
# Every agent names its tools its own way; reports and the replay group them by what they do.
# Kinds: shell, read, write, edit, search, web, subagent, mcp, todo; anything else is "other"
# (shown generically). Names are matched exactly: the agents' own spellings, from their sources.

TOOL_KINDS: dict[str, str] = {
    # Claude Code
    "Bash": "shell",
    "BashOutput": "shell",
    "KillShell": "shell",
    "Read": "read",
    "NotebookRead": "read",
    "Write": "write",
    "Edit": "edit",
    "MultiEdit": "edit",
    "NotebookEdit": "edit",
    "Grep": "search",
    "Glob": "search",
    "LS": "search",
    "WebFetch": "web",
    "WebSearch": "web",
    "Agent": "subagent",
    "Task": "subagent",
    "TodoWrite": "todo",
    # Codex CLI (codex-rs tool specs)
    "exec_command": "shell",
    "write_stdin": "shell",
    "shell": "shell",
    "shell_command": "shell",
    "local_shell": "shell",
    "apply_patch": "edit",
    "view_image": "read",
    "web_search": "web",
    "update_plan": "todo",
    "spawn_agent": "subagent",
    # Gemini CLI and Qwen Code (packages/core/src/tools)
    "run_shell_command": "shell",
    "read_file": "read",
    "read_many_files": "read",
    "write_file": "write",
    "replace": "edit",
    "edit": "edit",
    "glob": "search",
    "grep_search": "search",
    "search_file_content": "search",
    "list_directory": "search",
    "web_fetch": "web",
    "google_web_search": "web",
    "todo_write": "todo",
    "write_todos": "todo",
    "task": "subagent",
    # OpenCode (packages/opencode/src/tool)
    "bash": "shell",
    "read": "read",
    "write": "write",
    "patch": "edit",
    "multiedit": "edit",
    "grep": "search",
    "list": "search",
    "webfetch": "web",
    "websearch": "web",
    "todowrite": "todo",
    "todoread": "todo",
}


def tool_kind(tool_name: str | None) -> str:
    """What a tool does, whichever agent named it: shell, read, write, edit, search, web,
    subagent, mcp, todo, or other."""
    if not tool_name:
        return "other"
    if is_mcp_tool(tool_name):
        return "mcp"
    return TOOL_KINDS.get(tool_name, "other")


def patch_paths(patch: str) -> list[str]:
    """Files an `apply_patch` patch writes (Codex's patch format: `*** Add/Update/Delete File:`
    headers, and `*** Move to:` for a rename's new path)."""
    paths: list[str] = []
    for line in patch.splitlines():
        for header in ("*** Add File: ", "*** Update File: ", "*** Delete File: ", "*** Move to: "):
            if line.startswith(header):
                path = line[len(header) :].strip()
                if path and path not in paths:
                    paths.append(path)
    return paths


def kind_touch(tool_name: str | None, tool_input: Mapping[str, Any] | None) -> tuple[str, FileOp] | None:
    """The file a read/write/edit tool of any agent names in its input (`file_path`, Gemini's
    `absolute_path`, OpenCode's `filePath`), by the tool's canonical kind."""
    if not isinstance(tool_input, Mapping):
        return None
    kind = tool_kind(tool_name)
    if kind not in ("read", "write", "edit"):
        return None
    for key in ("file_path", "absolute_path", "filePath", "path"):
        path = tool_input.get(key)
        if isinstance(path, str) and path:
            return path, ("read" if kind == "read" else "write")
    return None
