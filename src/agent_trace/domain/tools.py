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


def is_mcp_tool(tool_name: str | None) -> bool:
    return bool(tool_name) and str(tool_name).startswith("mcp__")
