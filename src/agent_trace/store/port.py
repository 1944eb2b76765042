"""The Store port: what the rest of agent-trace may ask of a backend.

Nothing here assumes SQL. A backend stores canonical records with idempotent merges (the same
fact written twice, or from several sources, is one record holding the union of the details),
keeps derived rollups exact, and answers the queries below. Adapters: `store.sql` (SQLite,
PostgreSQL) and `store.clickhouse`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from agent_trace.domain.records import RecordBatch


@dataclass(frozen=True, slots=True)
class FileState:
    """How far a transcript file has been imported."""

    path: str
    size: int
    mtime_ns: int
    safe_offset: int  # re-read from here when the file grows
    parser_state: str | None  # JSON of sources.claude_transcript.ParseState


@dataclass(frozen=True, slots=True)
class Filters:
    """Common filters; times are epoch ms, [since_ms, until_ms)."""

    since_ms: int | None = None
    until_ms: int | None = None
    project: str | None = None  # full path, or its last component
    model: str | None = None  # substring
    user: str | None = None
    agent: str | None = None


@dataclass(frozen=True, slots=True)
class UsageBucket:
    bucket_ms: int
    project: str
    user_id: str
    agent: str
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_5m_tokens: int
    cache_1h_tokens: int
    cache_read_tokens: int
    cost_nusd: int
    unpriced_calls: int
    reported_cost_nusd: int


@dataclass(frozen=True, slots=True)
class ActivityBucket:
    bucket_ms: int
    project: str
    user_id: str
    agent: str
    prompts: int
    tool_calls: int
    tool_errors: int
    sessions: int


@dataclass(frozen=True, slots=True)
class ToolBucket:
    bucket_ms: int
    project: str
    user_id: str
    agent: str
    tool_name: str
    calls: int
    errors: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class SessionSummary:
    session_id: str
    agent: str | None
    project: str | None
    cwd: str | None
    user_id: str | None
    title: str | None
    version: str | None
    started_ms: int | None
    ended_ms: int | None
    last_activity_ms: int | None
    updated_ms: int
    git_repo: str | None
    git_branch: str | None
    prompts: int
    llm_calls: int
    tool_calls: int
    tool_errors: int
    subagents: int
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_5m_tokens: int
    cache_1h_tokens: int
    cache_read_tokens: int
    cost_nusd: int
    unpriced_calls: int
    models: tuple[str, ...]
    reported_cost_nusd: int | None = None
    unpriced_models: tuple[str, ...] = ()
    first_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class SessionQuery:
    filters: Filters = field(default_factory=Filters)
    text: str | None = None  # free text over title, project, prompts
    sort: str = "-started"  # started | cost | tokens | prompts | updated, '-' = descending
    limit: int = 50
    cursor: str | None = None  # opaque, from SessionPage.next_cursor


@dataclass(frozen=True, slots=True)
class SessionPage:
    sessions: list[SessionSummary]
    next_cursor: str | None


@dataclass(slots=True)
class SessionDetail:
    """Everything a replay needs, as plain rows (dicts keyed by the canonical field names)."""

    session: dict[str, object]
    prompts: list[dict[str, object]]
    llm_calls: list[dict[str, object]]
    tool_calls: list[dict[str, object]]
    file_touches: list[dict[str, object]]
    subagents: list[dict[str, object]]
    commits: list[dict[str, object]]


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    session_id: str
    changed_ms: int


@runtime_checkable
class Store(Protocol):
    """A backend for canonical records. Writes are idempotent upserts."""

    def migrate(self) -> None:
        """Bring the schema up to date (idempotent)."""

    def write(self, batch: RecordBatch, file_states: list[FileState] | None = None) -> None:
        """Merge `batch` (and record import progress) in one transaction."""

    def refresh_derived(self) -> None:
        """Bring rollups and session summaries up to date with everything written."""

    def file_states(self) -> dict[str, FileState]:
        """Import progress of every transcript file seen."""

    def usage_buckets(self, filters: Filters) -> list[UsageBucket]: ...

    def activity_buckets(self, filters: Filters) -> list[ActivityBucket]: ...

    def tool_buckets(self, filters: Filters) -> list[ToolBucket]: ...

    def list_sessions(self, query: SessionQuery) -> SessionPage: ...

    def session_detail(self, session_id: str) -> SessionDetail | None: ...

    def find_session_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Session ids starting with `prefix` (for commands that accept a short id)."""

    def changes_since(self, seq: int, limit: int = 1000) -> list[Change]: ...

    def last_change_seq(self) -> int: ...

    def counts(self) -> dict[str, int]:
        """Row counts per record kind (status, tests)."""

    def close(self) -> None: ...
