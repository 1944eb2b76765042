"""The outcome and commits of one session as JSON (API, CLI `show`, dashboard replay)."""

from __future__ import annotations

from typing import Any

import orjson

from agent_trace.domain.timeutil import ms_to_iso


def outcome_json(session: dict[str, Any]) -> dict[str, Any] | None:
    """{label, score, signals[{name, value, points, detail, evidence[{kind, id}]}]} or None
    before the first refresh of derived data."""
    label = session.get("outcome_label")
    if label is None:
        return None
    raw = session.get("outcome_signals")
    signals = orjson.loads(raw) if isinstance(raw, str) and raw else []
    return {
        "label": label,
        "score": session.get("outcome_score"),
        "commits": session.get("n_commits") or 0,
        "lines_added": session.get("commit_lines") or 0,
        "agent_lines": session.get("agent_lines") or 0,
        "merged_prs": session.get("merged_prs") or 0,
        "signals": signals,
    }


def pr_json(pr: dict[str, Any] | None) -> dict[str, Any] | None:
    if pr is None:
        return None
    return {
        "id": pr["pr_id"],
        "provider": pr["provider"],
        "repo": pr["repo"],
        "number": pr["number"],
        "state": pr.get("state"),
        "title": pr.get("title"),
        "url": pr.get("url"),
        "merged_at": ms_to_iso(pr.get("merged_ms")),
    }


def commit_json(c: dict[str, Any], prs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "sha": c["sha"],
        "message": c.get("message"),
        "author": c.get("author"),
        "branch": c.get("branch"),
        "ts": ms_to_iso(c.get("ts_ms")),
        "files_changed": c.get("files_changed"),
        "insertions": c.get("insertions"),
        "deletions": c.get("deletions"),
        "lines_added": c.get("insertions"),
        "parent_sha": c.get("parent_sha"),
        "prompt_id": c.get("prompt_id"),
        "tool_use_id": c.get("tool_use_id"),
        "by_agent": c.get("tool_use_id") is not None,
        "agent_lines": c.get("agent_lines"),
        "co_authored": None if c.get("co_authored") is None else bool(c["co_authored"]),
        "patch_id": c.get("patch_id"),
        "on_default": None if c.get("on_default") is None else bool(c["on_default"]),
        "reverted_by": c.get("reverted_by"),
        "rewritten_as": c.get("rewritten_as"),
        "pr": pr_json(prs.get(str(c.get("pr_id")))) if c.get("pr_id") else None,
    }
