"""Canonical records ↔ table rows for the SQL adapter (and for stores that reuse its rows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from agent_trace.domain.records import (
    Commit,
    FileTouch,
    LlmCall,
    Prompt,
    PullRequest,
    PushedCommit,
    RawEvent,
    Session,
    Subagent,
    ToolCall,
    bucket_of,
)
from agent_trace.store.port import (
    USAGE_SUMS,
    ActivityBucket,
    FileState,
    SessionSummary,
    ToolBucket,
    UsageBucket,
)
from agent_trace.store.sql import statements as st


def flag(value: bool | None) -> int | None:
    return None if value is None else int(bool(value))


# PostgreSQL cannot store U+0000 in text. Every backend stores U+FFFD in its place, so all agree.
_NUL = "\x00"


def clean_text_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Replace NUL characters in the string values of `rows` (in place; returns `rows`)."""
    # One serialisation of the whole batch (C speed) tells whether any NUL is there at all, which
    # is almost never: then no Python loop over every value of every row.
    if not rows or b"\\u0000" not in orjson.dumps(rows):
        return rows
    for row in rows:
        for key, value in row.items():
            if isinstance(value, str) and _NUL in value:
                row[key] = value.replace(_NUL, "\ufffd")
    return rows


def session_row(s: Session, now: int) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "agent": s.agent,
        "project": s.project,
        "cwd": s.cwd,
        "user_id": s.user_id,
        "version": s.version,
        "entrypoint": s.entrypoint,
        "title": s.title,
        "started_ms": s.started_ms,
        "ended_ms": s.ended_ms,
        "end_reason": s.end_reason,
        "permission_mode": s.permission_mode,
        "git_repo": s.git_repo,
        "git_branch": s.git_branch,
        "git_head": s.git_head,
        "git_base_sha": s.git_base_sha,
        "git_lines_added": s.git_lines_added,
        "git_lines_removed": s.git_lines_removed,
        "git_files_changed": s.git_files_changed,
        "reported_cost_nusd": s.reported_cost_nusd,
        "compactions": s.compactions,
        "updated_ms": now,
    }


def user_rows(session_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "user_id": r["user_id"],
            "first_seen_ms": r["started_ms"],
            "last_seen_ms": r["ended_ms"] if r["ended_ms"] is not None else r["started_ms"],
        }
        for r in session_rows
        if r["user_id"]
    ]


def prompt_row(p: Prompt) -> dict[str, Any]:
    return {
        "prompt_id": p.prompt_id,
        "session_id": p.session_id,
        "ts_ms": p.ts_ms,
        "bucket_ms": None if p.ts_ms is None else bucket_of(p.ts_ms),
        "kind": p.kind,
        "text": p.text,
        "line_uuid": p.line_uuid,
        "duration_ms": p.duration_ms,
        "interrupted": flag(p.interrupted),
        "api_errors": p.api_errors,
    }


def call_row(c: LlmCall) -> dict[str, Any]:
    u = c.usage
    return {
        "call_id": c.call_id,
        "session_id": c.session_id,
        "message_id": c.message_id,
        "request_id": c.request_id,
        "agent_id": c.agent_id,
        "prompt_id": c.prompt_id,
        "model": c.model,
        "ts_ms": c.ts_ms,
        "bucket_ms": None if c.ts_ms is None else bucket_of(c.ts_ms),
        "has_usage": 0 if u is None else 1,
        "input_tokens": u.input_tokens if u else 0,
        "output_tokens": u.output_tokens if u else 0,
        "cache_creation_tokens": u.cache_creation_tokens if u else 0,
        "cache_5m_tokens": u.cache_5m_tokens if u else 0,
        "cache_1h_tokens": u.cache_1h_tokens if u else 0,
        "cache_read_tokens": u.cache_read_tokens if u else 0,
        "web_search_requests": u.web_search_requests if u else 0,
        "usage_total": u.total if u else 0,
        "is_sidechain": int(c.is_sidechain),
        "cost_nusd": c.cost_nusd,
        "unpriced_reason": c.unpriced_reason,
        "reported_cost_nusd": c.reported_cost_nusd,
        "speed": c.speed,
        "stop_reason": c.stop_reason,
        "query_source": c.query_source,
        "duration_ms": c.duration_ms,
        "ttft_ms": c.ttft_ms,
        "response_text": c.response_text,
        "thinking": c.thinking,
        "tool_use_ids": orjson.dumps(list(c.tool_use_ids)).decode() if c.tool_use_ids else None,
    }


def tool_row(t: ToolCall) -> dict[str, Any]:
    anchor = t.started_ms if t.started_ms is not None else t.ended_ms
    return {
        "tool_use_id": t.tool_use_id,
        "session_id": t.session_id,
        "tool_name": t.tool_name,
        "agent_id": t.agent_id,
        "prompt_id": t.prompt_id,
        "call_id": t.call_id,
        "started_ms": t.started_ms,
        "ended_ms": t.ended_ms,
        "bucket_ms": None if anchor is None else bucket_of(anchor),
        "duration_ms": t.duration_ms,
        "status": t.status,
        "error": t.error,
        "input_json": t.input_json,
        "output_text": t.output_text,
        "subagent_id": t.subagent_id,
    }


def touch_row(f: FileTouch) -> dict[str, Any]:
    return {
        "tool_use_id": f.tool_use_id,
        "path": f.path,
        "op": f.op,
        "session_id": f.session_id,
        "ts_ms": f.ts_ms,
    }


def subagent_row(s: Subagent) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "agent_id": s.agent_id,
        "agent_type": s.agent_type,
        "description": s.description,
        "parent_tool_use_id": s.parent_tool_use_id,
        "prompt_id": s.prompt_id,
        "model": s.model,
        "started_ms": s.started_ms,
        "ended_ms": s.ended_ms,
        "is_compaction": flag(s.is_compaction),
    }


def commit_row(c: Commit) -> dict[str, Any]:
    return {
        "sha": c.sha,
        "session_id": c.session_id,
        "repo": c.repo,
        "branch": c.branch,
        "message": c.message,
        "author": c.author,
        "ts_ms": c.ts_ms,
        "files_changed": c.files_changed,
        "insertions": c.insertions,
        "deletions": c.deletions,
        "parent_sha": c.parent_sha,
        "patch_id": c.patch_id,
        "files_json": c.files_json,
        "co_authored": flag(c.co_authored),
        "on_default": flag(c.on_default),
        "reverted_by": c.reverted_by,
        "rewritten_as": c.rewritten_as,
    }


def pull_request_row(p: PullRequest) -> dict[str, Any]:
    return {name: getattr(p, name) for name in st.PULL_REQUEST_COLUMNS}


def pushed_commit_row(p: PushedCommit) -> dict[str, Any]:
    return {name: getattr(p, name) for name in st.PUSHED_COMMIT_COLUMNS}


def raw_row(e: RawEvent) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "source": e.source,
        "session_id": e.session_id,
        "kind": e.kind,
        "ts_ms": e.ts_ms,
        "received_ms": e.received_ms,
        "payload": e.payload,
    }


# A session's metrics, derived from its calls (store/sql/derived.py keeps them current).
SESSION_METRIC_COLUMNS = (
    "n_prompts",
    "n_llm_calls",
    "n_tool_calls",
    "n_tool_errors",
    "n_subagents",
    *USAGE_SUMS,
    "models",
)

# A session's outcome (domain.outcomes), kept by the same refresh.
SESSION_OUTCOME_COLUMNS = (
    "outcome_label",
    "outcome_score",
    "outcome_signals",
    "n_commits",
    "commit_lines",
    "agent_lines",
    "merged_prs",
    "primary_model",
)

SESSION_SUMMARY_FIELDS = ", ".join(
    "s." + name
    for name in [
        "session_id",
        "agent",
        "project",
        "cwd",
        "user_id",
        "title",
        "version",
        "started_ms",
        "ended_ms",
        "last_activity_ms",
        "updated_ms",
        "git_repo",
        "git_branch",
        *SESSION_METRIC_COLUMNS,
        "reported_cost_nusd",
        "unpriced_models",
    ]
)

TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "sessions": (
        *st.SESSION_COLUMNS,
        *SESSION_METRIC_COLUMNS,
        "unpriced_models",
        "last_activity_ms",
        *SESSION_OUTCOME_COLUMNS,
    ),
    "prompts": st.PROMPT_COLUMNS,
    "llm_calls": st.LLM_CALL_COLUMNS,
    "tool_calls": st.TOOL_CALL_COLUMNS,
    "file_touches": st.FILE_TOUCH_COLUMNS,
    "subagents": st.SUBAGENT_COLUMNS,
    "commits": (*st.COMMIT_COLUMNS, *st.COMMIT_DERIVED_COLUMNS),
    "pull_requests": st.PULL_REQUEST_COLUMNS,
}


def usage_bucket(r: Sequence[Any]) -> UsageBucket:
    n = [int(v or 0) for v in r[5:15]]
    return UsageBucket(
        int(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        n[0],
        n[1],
        n[2],
        n[3],
        n[4],
        n[5],
        n[6],
        n[7],
        n[8],
        n[9],
    )


def activity_bucket(r: Sequence[Any]) -> ActivityBucket:
    """(bucket_ms, project, user_id, agent, prompts, tool_calls, tool_errors, sessions)."""
    return ActivityBucket(
        int(r[0]), str(r[1]), str(r[2]), str(r[3]), int(r[4]), int(r[5]), int(r[6]), int(r[7])
    )


def tool_bucket(r: Sequence[Any]) -> ToolBucket:
    """(bucket_ms, project, user_id, agent, tool_name, calls, errors, duration_ms)."""
    return ToolBucket(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]), int(r[6]), int(r[7]))


def summary_from_row(r: Sequence[Any]) -> SessionSummary:
    return SessionSummary(
        session_id=r[0],
        agent=r[1],
        project=r[2],
        cwd=r[3],
        user_id=r[4],
        title=r[5],
        version=r[6],
        started_ms=r[7],
        ended_ms=r[8],
        last_activity_ms=r[9],
        updated_ms=int(r[10] or 0),
        git_repo=r[11],
        git_branch=r[12],
        prompts=int(r[13]),
        llm_calls=int(r[14]),
        tool_calls=int(r[15]),
        tool_errors=int(r[16]),
        subagents=int(r[17]),
        input_tokens=int(r[18]),
        output_tokens=int(r[19]),
        cache_creation_tokens=int(r[20]),
        cache_5m_tokens=int(r[21]),
        cache_1h_tokens=int(r[22]),
        cache_read_tokens=int(r[23]),
        cost_nusd=int(r[24]),
        unpriced_calls=int(r[25]),
        models=tuple(m for m in (r[26] or "").split(",") if m),
        reported_cost_nusd=r[27],
        unpriced_models=tuple(m for m in (r[28] or "").split(",") if m),
        first_prompt=r[30],
        outcome=r[31] if len(r) > 31 else None,
        outcome_score=r[32] if len(r) > 32 else None,
        commits=int(r[33] or 0) if len(r) > 33 else 0,
    )


def file_state_row(f: FileState, now: int) -> dict[str, Any]:
    return {
        "path": f.path,
        "size": f.size,
        "mtime_ns": f.mtime_ns,
        "safe_offset": f.safe_offset,
        "parser_state": f.parser_state,
        "updated_ms": now,
    }
