"""The one-line gist of a tool call's input, per tool (shared by the terminal and the dashboard)."""

from __future__ import annotations

from typing import Any

import orjson

from agent_trace.domain.tools import patch_paths, tool_kind


def _compact(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return str(value)


def key_input(tool_name: str, tool_input: Any) -> str:
    """What a reader wants to see first: the command, the path, the pattern, the URL…"""
    if not isinstance(tool_input, dict):
        return "" if tool_input is None else str(tool_input)
    get: Any = tool_input.get
    if tool_name == "Bash":
        return str(get("command") or "")
    if tool_name in ("Read", "NotebookRead"):
        path = str(get("file_path") or get("notebook_path") or "")
        if get("offset") is not None or get("limit") is not None:
            start = int(get("offset") or 1)
            end = f"{start + int(get('limit')) - 1}" if get("limit") is not None else "end"
            return f"{path}:{start}-{end}"
        return path
    if tool_name in ("Write", "Edit", "MultiEdit", "NotebookEdit"):
        return str(get("file_path") or get("notebook_path") or "")
    if tool_name in ("Grep", "Glob"):
        where = get("path") or ""
        return f"{get('pattern') or ''}" + (f"  in {where}" if where else "")
    if tool_name == "WebFetch":
        return str(get("url") or "")
    if tool_name == "WebSearch":
        return str(get("query") or "")
    if tool_name in ("Agent", "Task"):
        kind = get("subagent_type")
        return str(get("description") or "") + (f" ({kind})" if kind else "")
    if tool_name == "TodoWrite" and isinstance(get("todos"), list):
        return f"{len(get('todos'))} todos"
    # Other agents' tools, by kind (Codex exec_command {cmd}, OpenCode write {filePath}, …).
    kind = tool_kind(tool_name)
    if kind == "shell":
        command = get("command") or get("cmd")
        if isinstance(command, list):
            return " ".join(str(part) for part in command)
        if command:
            return str(command)
    if kind in ("read", "write", "edit"):
        path = get("file_path") or get("filePath") or get("absolute_path") or get("path")
        if path:
            return str(path)
    if tool_name == "apply_patch" and isinstance(get("input"), str):
        return ", ".join(patch_paths(get("input")))
    return _compact(tool_input)
