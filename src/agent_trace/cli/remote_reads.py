"""The store reads of `sessions` and `report …`, answered by a server's API (cli/remote.py).

`RemoteReads` has the methods of the read store those commands call, so in remote mode they run
the same report code and the same renderers as locally, over what the server let this person
see: `/v1/sessions` rows (content already removed from rows the person may not read) become
`SessionSummary`s again, `/v1/analytics/rollups` the usage and activity buckets. Filters go as
epoch ms, so the server applies exactly the range the local path would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent_trace.cli.remote import Remote
from agent_trace.cli.render import usd_nusd
from agent_trace.domain.timeutil import parse_iso_ms
from agent_trace.server.api.params import MAX_LIMIT
from agent_trace.store.port import (
    ActivityBucket,
    Filters,
    SessionPage,
    SessionQuery,
    SessionSummary,
    UsageBucket,
)

Params = dict[str, str | list[str]]


def filter_params(filters: Filters) -> Params:
    """A store's Filters as the API's query parameters (instants as epoch ms: used as is)."""
    values: dict[str, object] = {
        "since": filters.since_ms,
        "until": filters.until_ms,
        "project": filters.project,
        "model": filters.model,
        "user": filters.user,
        "agent": filters.agent,
    }
    return {k: str(v) for k, v in values.items() if v is not None}


# SessionSummary fields the API's session row carries under the same name.
SAME_NAMED = (
    "session_id", "agent", "project", "cwd", "title", "version", "git_repo", "git_branch",
    "prompts", "llm_calls", "tool_calls", "tool_errors", "subagents", "input_tokens",
    "output_tokens", "cache_creation_tokens", "cache_read_tokens", "cost_nusd", "unpriced_calls",
    "first_prompt", "outcome", "outcome_score",
)  # fmt: skip


def summary_of_row(row: dict[str, Any]) -> SessionSummary:
    """An API session row (server/api/service.session_row) as the store's SessionSummary."""
    return SessionSummary(
        **{name: row[name] for name in SAME_NAMED},
        user_id=row.get("user"),
        started_ms=parse_iso_ms(row.get("started_at")),
        ended_ms=parse_iso_ms(row.get("ended_at")),
        last_activity_ms=parse_iso_ms(row.get("last_activity_at")),
        updated_ms=parse_iso_ms(row.get("updated_at")) or 0,
        cache_5m_tokens=row["cache_creation_5m_tokens"],
        cache_1h_tokens=row["cache_creation_1h_tokens"],
        models=tuple(row.get("models") or ()),
        reported_cost_nusd=usd_nusd(row.get("reported_cost_usd")),
        unpriced_models=tuple(row.get("unpriced_models") or ()),
        commits=row.get("commits") or 0,
    )


class RemoteReads:
    """What `sessions` and `report` read, from the API (the caller closes it like a store)."""

    def __init__(self, remote: Remote) -> None:
        self.remote = remote
        # period reports ask for usage, then activity, with the same filters: one request.
        self._rollups_of: tuple[Params, dict[str, list[dict[str, Any]]]] | None = None

    def list_sessions(self, query: SessionQuery) -> SessionPage:
        params = filter_params(query.filters)
        params.update(sort=query.sort, limit=str(min(query.limit, MAX_LIMIT)))
        if query.text:
            params["q"] = query.text
        if query.cursor:
            params["cursor"] = query.cursor
        if query.session_ids:
            params["session_id"] = list(query.session_ids)
        page = self.remote.get_json("/v1/sessions", params)
        return SessionPage([summary_of_row(r) for r in page["sessions"]], page.get("next_cursor"))

    def usage_buckets(self, filters: Filters) -> list[UsageBucket]:
        return [UsageBucket(**b) for b in self._rollups(filters)["usage"]]

    def activity_buckets(self, filters: Filters) -> list[ActivityBucket]:
        return [ActivityBucket(**b) for b in self._rollups(filters)["activity"]]

    def _rollups(self, filters: Filters) -> dict[str, list[dict[str, Any]]]:
        params = filter_params(filters)
        if self._rollups_of is None or self._rollups_of[0] != params:
            self._rollups_of = (params, self.remote.get_json("/v1/analytics/rollups", params))
        return self._rollups_of[1]

    def reported_calls(self, session_ids: Sequence[str]) -> list[dict[str, Any]]:
        calls: list[dict[str, Any]] = []
        for start in range(0, len(session_ids), 200):
            chunk = list(session_ids[start : start + 200])
            calls.extend(self.remote.get_json("/v1/analytics/reported-calls", {"session_id": chunk})["calls"])
        return calls

    def close(self) -> None:
        return None
