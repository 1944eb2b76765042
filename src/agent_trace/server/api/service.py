"""What the API answers, as plain JSON-ready dicts, computed from a Store (synchronous).

Routes run these in a worker thread and serialise the result; the dashboard's in-process client
calls the same functions, so both see byte-for-byte the same data. Shapes are documented by the
pydantic models in `models.py` (tests validate every answer against them).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from agent_trace.domain.records import NANO_PER_USD
from agent_trace.domain.search_text import split_marks
from agent_trace.domain.timeutil import ms_to_iso
from agent_trace.reports.analytics import cost_daily, tool_stats
from agent_trace.reports.replay import build_replay
from agent_trace.reports.tally import tokens_json
from agent_trace.reports.timeline import build_timeline
from agent_trace.server.api.cache import ChangeValidatedCache
from agent_trace.server.api.params import DayRange, SessionListParams
from agent_trace.server.errors import ApiError
from agent_trace.store.port import InvalidQuery, RecordReader, SearchQuery, SessionQuery, SessionSummary

# A session with activity this recent and no end is shown as live.
ACTIVE_WINDOW_MS = 10 * 60 * 1000
# A list row carries a preview of the first prompt, not a pasted megabyte.
FIRST_PROMPT_CHARS = 400


def _usd(nusd: int | None) -> float | None:
    return None if nusd is None else nusd / NANO_PER_USD


def project_name(project: str | None) -> str | None:
    if not project:
        return None
    return project.rstrip("/").rsplit("/", 1)[-1] or project


def session_row(s: SessionSummary, now_ms: int) -> dict[str, Any]:
    known = [v for v in (s.ended_ms, s.last_activity_ms, s.started_ms) if v is not None]
    last = max(known) if known else None
    duration = None if s.started_ms is None or last is None else last - s.started_ms
    return {
        "session_id": s.session_id,
        "agent": s.agent,
        "project": s.project,
        "project_name": project_name(s.project),
        "cwd": s.cwd,
        "user": s.user_id,
        "title": s.title,
        "first_prompt": None if s.first_prompt is None else s.first_prompt[:FIRST_PROMPT_CHARS],
        "outcome": s.outcome,
        "outcome_score": s.outcome_score,
        "commits": s.commits,
        "version": s.version,
        "started_at": ms_to_iso(s.started_ms),
        "ended_at": ms_to_iso(s.ended_ms),
        "last_activity_at": ms_to_iso(last),
        "updated_at": ms_to_iso(s.updated_ms),
        "duration_ms": duration,
        "active": last is not None and now_ms - last < ACTIVE_WINDOW_MS and s.ended_ms is None,
        "git_repo": s.git_repo,
        "git_branch": s.git_branch,
        "prompts": s.prompts,
        "llm_calls": s.llm_calls,
        "tool_calls": s.tool_calls,
        "tool_errors": s.tool_errors,
        "subagents": s.subagents,
        **tokens_json(s, s.llm_calls, s.cost_nusd, s.unpriced_calls),
        "cost_nusd": s.cost_nusd,
        "unpriced_calls": s.unpriced_calls,
        "unpriced_models": list(s.unpriced_models),
        "models": list(s.models),
        "reported_cost_usd": _usd(s.reported_cost_nusd),
    }


def _now_ms() -> int:
    return int(time.time() * 1000)


def list_sessions(store: RecordReader, params: SessionListParams) -> dict[str, Any]:
    try:
        page = store.list_sessions(params.query)
    except InvalidQuery as exc:
        # Parameters were checked here first, so this is mostly a cursor the store cannot read.
        raise ApiError(400, "invalid_parameter", str(exc), exc.field) from None
    now = _now_ms()
    return {
        "sessions": [session_row(s, now) for s in page.sessions],
        "next_cursor": page.next_cursor,
        "sort": params.query.sort,
        "limit": params.query.limit,
    }


def session_rows_for(
    store: RecordReader, base: SessionQuery, session_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """The rows (under the list's own filters) of exactly these sessions: what a live view re-reads."""
    rows: dict[str, dict[str, Any]] = {}
    now = _now_ms()
    for start in range(0, len(session_ids), 500):
        chunk = tuple(session_ids[start : start + 500])
        query = SessionQuery(
            filters=base.filters, text=base.text, sort="-started", limit=len(chunk), session_ids=chunk
        )
        for s in store.list_sessions(query).sessions:
            rows[s.session_id] = session_row(s, now)
    return rows


def _replay_core(store: RecordReader, session_id: str) -> bytes:
    detail = store.session_detail(session_id)
    if detail is None:
        raise ApiError(404, "not_found", f"session_id: no session {session_id[:200]!r}", "session_id")
    return orjson.dumps(build_replay(detail).as_json())


def session_replay_json(
    store: RecordReader, session_id: str, cache: ChangeValidatedCache | None = None
) -> bytes:
    """The replay as JSON bytes: the prompt-by-prompt core (kept in `cache` until the session
    changes) plus `summary`, the session's list row, read fresh (its `active` depends on the clock)."""
    if cache is None:
        core = _replay_core(store, session_id)
    else:
        core = cache.get(("replay", session_id), session_id, lambda: _replay_core(store, session_id))
    found = store.list_sessions(SessionQuery(limit=1, session_ids=(session_id,))).sessions
    summary = orjson.dumps(session_row(found[0], _now_ms()) if found else None)
    # The core is one JSON object: splice the summary in before its closing brace.
    return core[:-1] + b',"summary":' + summary + b"}"


def session_replay(
    store: RecordReader, session_id: str, cache: ChangeValidatedCache | None = None
) -> dict[str, Any]:
    replay: dict[str, Any] = orjson.loads(session_replay_json(store, session_id, cache))
    return replay


def session_timeline(store: RecordReader, session_id: str, kinds: frozenset[str] | None) -> dict[str, Any]:
    detail = store.session_detail(session_id)
    if detail is None:
        raise ApiError(404, "not_found", f"session_id: no session {session_id[:200]!r}", "session_id")
    events = build_timeline(detail)
    if kinds:
        events = [e for e in events if e["kind"] in kinds]
    return {"session_id": session_id, "events": events}


def analytics_cost_daily_json(
    store: RecordReader,
    days: DayRange,
    breakdown: frozenset[str] = frozenset({"model"}),
    cache: ChangeValidatedCache | None = None,
) -> bytes:
    def build() -> bytes:
        return orjson.dumps(
            cost_daily(store, days.first, days.last, days.tz, days.tz_name, days.filters, breakdown)
        )

    if cache is None:
        return build()
    key = ("cost_daily", days.first, days.last, days.tz_name, days.filters, breakdown)
    return cache.get(key, None, build)


def analytics_cost_daily(
    store: RecordReader,
    days: DayRange,
    breakdown: frozenset[str] = frozenset({"model"}),
    cache: ChangeValidatedCache | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(analytics_cost_daily_json(store, days, breakdown, cache))
    return data


def analytics_tools_json(
    store: RecordReader, days: DayRange, cache: ChangeValidatedCache | None = None
) -> bytes:
    def build() -> bytes:
        return orjson.dumps(tool_stats(store, days.first, days.last, days.tz, days.tz_name, days.filters))

    if cache is None:
        return build()
    return cache.get(("tools", days.first, days.last, days.tz_name, days.filters), None, build)


def analytics_outcomes_json(
    store: RecordReader, days: DayRange, cache: ChangeValidatedCache | None = None
) -> bytes:
    from dataclasses import replace

    from agent_trace.reports.outcomes import outcomes_report
    from agent_trace.reports.periods import days_range_ms

    def build() -> bytes:
        since_ms, until_ms = days_range_ms(days.first, days.last, days.tz)
        filters = replace(days.filters, since_ms=since_ms, until_ms=until_ms)
        report = outcomes_report(
            store, filters, days.tz, days.tz_name, days.first.isoformat(), days.last.isoformat()
        )
        return orjson.dumps(report)

    if cache is None:
        return build()
    return cache.get(("outcomes", days.first, days.last, days.tz_name, days.filters), None, build)


def analytics_tools(
    store: RecordReader, days: DayRange, cache: ChangeValidatedCache | None = None
) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(analytics_tools_json(store, days, cache))
    return data


def search(store: RecordReader, query: SearchQuery) -> dict[str, Any]:
    """Full-text hits, best first, each with its session's title, project and user, and the
    snippet as plain text plus the [start, end) character ranges of the matches."""
    hits = store.search(query)
    ids = tuple(dict.fromkeys(h.session_id for h in hits))
    sessions: dict[str, SessionSummary] = {}
    if ids:
        page = store.list_sessions(SessionQuery(session_ids=ids, limit=len(ids)))
        sessions = {s.session_id: s for s in page.sessions}
    out = []
    for h in hits:
        text, marks = split_marks(h.snippet)
        s = sessions.get(h.session_id)
        out.append(
            {
                "kind": h.kind,
                "session_id": h.session_id,
                "id": h.ref_id,
                "prompt_id": h.prompt_id,
                "agent_id": h.agent_id,
                "tool_name": h.tool_name,
                "field": h.field,
                "ts": ms_to_iso(h.ts_ms),
                "snippet": text,
                "marks": marks,
                "score": h.score,
                "session_title": None
                if s is None
                else (s.title or s.first_prompt or "")[:FIRST_PROMPT_CHARS],
                "project": None if s is None else s.project,
                "user": None if s is None else s.user_id,
            }
        )
    return {"query": query.text, "hits": out}
