"""The Store port: what the rest of agent-trace may ask of a backend.

Nothing here assumes SQL. A backend stores canonical records with idempotent merges (the same
fact written twice, or from several sources, is one record holding the union of the details),
keeps derived rollups exact, and answers the queries below. Adapters: `store.sql` (SQLite,
PostgreSQL) and `store.clickhouse` (PostgreSQL + ClickHouse).

The port is split by role, so each caller depends on what it uses: `RecordWriter` (the ingest
writer), `RecordReader` (the API, the dashboard, the CLI's reports), `BudgetStore` (budgets and
their alerts), `StoreAdmin` (schema, health: `db` commands, /health, start-up checks); `Store` is
all of them, what `store.factory` opens. The identity part is `store.identity.IdentityStore`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from agent_trace.domain.budgets import AlertDelivery, Budget, BudgetAlert
from agent_trace.domain.records import DAY_MS as DAY_MS  # re-exported: the day daily_totals divides by
from agent_trace.domain.records import RecordBatch


class InvalidQuery(ValueError):
    """A query parameter the store cannot use: `field` names it, `rule` says what it must be.

    The message is `field: rule`, or `field=given: rule` when the refused value is shown."""

    def __init__(self, field: str, rule: str, *, given: str | None = None) -> None:
        self.field = field
        self.rule = rule
        super().__init__(f"{field}={given}: {rule}" if given is not None else f"{field}: {rule}")


@dataclass(frozen=True, slots=True)
class FileState:
    """How far a transcript file has been imported."""

    path: str
    size: int
    mtime_ns: int
    safe_offset: int  # re-read from here when the file grows
    parser_state: str | None  # JSON of sources.claude_transcript_lines.ParseState


@dataclass(frozen=True, slots=True)
class TranscriptCursor:
    """How far the collector has parsed a transcript that a hook handler ships in deltas."""

    session_id: str
    path: str  # the path on the developer's machine, as the hook handler named it
    end_offset: int  # byte offset just past the last byte received
    state: str  # JSON owned by ingest.deltas (parser state, tail to re-read, missing ranges)


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
    outcome: str | None = None  # shipped | committed | no-commit | spun (domain.outcomes)
    outcome_score: int | None = None
    commits: int = 0


@dataclass(frozen=True, slots=True)
class SessionQuery:
    filters: Filters = field(default_factory=Filters)
    text: str | None = None  # free text over title, project, prompts
    sort: str = "-started"  # started | cost | tokens | prompts | updated, '-' = descending
    limit: int = 50
    cursor: str | None = None  # opaque, from SessionPage.next_cursor
    # Only these sessions (empty = no restriction). Live views use it to re-read exactly the
    # sessions a change touched, with the same filters as the list they show.
    session_ids: tuple[str, ...] = ()


SEARCH_KINDS = ("prompt", "tool_call", "response")


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """Full-text search (domain/search_text.py says what a term matches)."""

    text: str
    filters: Filters = field(default_factory=Filters)  # time = the record's; model is ignored
    kinds: frozenset[str] = frozenset(SEARCH_KINDS)
    limit: int = 50


@dataclass(frozen=True, slots=True)
class SearchHit:
    kind: str  # prompt | tool_call | response (an LLM call's text)
    session_id: str
    ref_id: str  # prompt_id, tool_use_id or call_id
    prompt_id: str | None
    field: str  # prompt | input | output | error | response: where the snippet is from
    snippet: str  # search_text.MARK_START/MARK_END around the matches
    score: float  # higher is better; comparable within one answer only
    ts_ms: int | None = None
    tool_name: str | None = None
    agent_id: str | None = None


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
    pull_requests: list[dict[str, object]] = field(default_factory=list)  # those holding its commits


# Rollups `daily_totals` can sum, with the dimensions each may be grouped by and the metric
# columns it sums (the same names as the fields of UsageBucket / ActivityBucket / ToolBucket).
ROLLUP_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "usage": ("project", "user_id", "agent", "model"),
    "activity": ("project", "user_id", "agent"),
    "tool": ("project", "user_id", "agent", "tool_name"),
}
# What a set of LLM calls sums to: the token kinds, the cost and the unpriced count (a session
# summary and a usage rollup alike).
USAGE_SUMS: tuple[str, ...] = (
    "input_tokens",
    "output_tokens",
    "cache_creation_tokens",
    "cache_5m_tokens",
    "cache_1h_tokens",
    "cache_read_tokens",
    "cost_nusd",
    "unpriced_calls",
)
ROLLUP_METRICS: dict[str, tuple[str, ...]] = {
    "usage": (
        "calls",
        *USAGE_SUMS,
        "reported_cost_nusd",
    ),
    "activity": ("prompts", "tool_calls", "tool_errors", "sessions"),
    "tool": ("calls", "errors", "duration_ms"),
}


@dataclass(frozen=True, slots=True)
class DayTotal:
    """Sums of one rollup's metrics for one local calendar day and one group."""

    day: int  # local calendar day as days since 1970-01-01 (date(1970, 1, 1) + timedelta(day))
    key: tuple[str, ...]  # the group_by dimensions' values, in group_by order ('' = unknown)
    values: dict[str, int]  # ROLLUP_METRICS[rollup] → sum


@dataclass(frozen=True, slots=True)
class OutcomeRow:
    """One session's cost and results (domain.outcomes), for the outcomes analytics."""

    session_id: str
    project: str | None
    user_id: str | None
    started_ms: int | None
    cost_nusd: int
    label: str | None  # None until the derived data is refreshed
    score: int | None
    commits: int
    merged_prs: int
    agent_lines: int  # agent-authored lines in commits not reverted
    lines_added: int
    model: str | None  # the model that cost the session most
    title: str | None


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A developer seen on at least one session; times from their sessions (epoch ms)."""

    user_id: str
    display_name: str | None
    email: str | None
    first_seen_ms: int | None
    last_seen_ms: int | None


@dataclass(frozen=True, slots=True)
class Change:
    seq: int
    session_id: str
    changed_ms: int


class StorePart(Protocol):
    """What every role shares: the store is closed by whoever opened it."""

    def counts(self) -> dict[str, int]:
        """Row counts per record kind (import summaries, status, tests)."""

    def close(self) -> None: ...


class RecordWriter(StorePart, Protocol):
    """Writing records (ingest.writer, the collector's queue, `import`)."""

    def write(self, batch: RecordBatch, file_states: list[FileState] | None = None) -> None:
        """Merge `batch` (and record import progress) in one transaction."""

    def refresh_derived(self) -> None:
        """Bring rollups and session summaries up to date with everything written."""

    def file_states(self) -> dict[str, FileState]:
        """Import progress of every transcript file seen."""

    def transcript_cursor(self, session_id: str, path: str) -> TranscriptCursor | None:
        """The collector's progress on one shipped transcript, or None if nothing was received."""

    def save_transcript_cursors(self, cursors: list[TranscriptCursor]) -> None:
        """Insert or replace cursors (one transaction)."""


class RecordReader(StorePart, Protocol):
    """Reading records, rollups and summaries (API, dashboard, CLI reports). Refused parameters
    raise InvalidQuery."""

    def usage_buckets(self, filters: Filters) -> list[UsageBucket]: ...

    def activity_buckets(self, filters: Filters) -> list[ActivityBucket]: ...

    def tool_buckets(self, filters: Filters) -> list[ToolBucket]: ...

    def daily_totals(
        self,
        rollup: str,
        filters: Filters,
        utc_offsets: Sequence[tuple[int, int]],
        group_by: tuple[str, ...] = (),
    ) -> list[DayTotal]:
        """A rollup ("usage" | "activity" | "tool") summed per local day and group, in the store.

        The dashboard's charts over a million records would otherwise move every 15-minute bucket
        row into Python. `utc_offsets` = [(from_ms, offset_ms), ...] sorted by from_ms: the zone's
        UTC offset from each instant on (the first entry covers everything before the second). A
        bucket's day is floor((bucket_ms + offset at bucket_ms) / DAY_MS); offsets are multiples of
        15 minutes, so buckets never straddle a local midnight and the grouping is exact, DST
        included. `filters.since_ms/until_ms` should be local midnights; `model` applies to "usage"
        only. Dimensions not in ROLLUP_DIMENSIONS[rollup] raise InvalidQuery naming them.
        Callers may also pass offsets that fold several days onto one day (one segment per 24 h,
        each shifting its start to 0) to total a range per group in one pass: the store only
        applies the formula (reports/periods.py: `utc_offsets`, `fold_offsets`, `local_day`).
        """

    def list_sessions(self, query: SessionQuery) -> SessionPage: ...

    def session_detail(self, session_id: str) -> SessionDetail | None: ...

    def reported_calls(self, session_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The LLM calls (with usage) of these sessions for which Claude Code reported its own
        cost (OTLP cost_usd): call_id, session_id, model, speed, ts_ms, the usage columns,
        cost_nusd, reported_cost_nusd; ordered by session, time, call id (reports/reconcile.py)."""

    def session_commits(self, session_ids: Sequence[str]) -> list[dict[str, object]]:
        """The stored commits of these sessions, as rows (`agent-trace git scan`)."""

    def outcome_rows(self, filters: Filters) -> list[OutcomeRow]:
        """Every session started in the filters' range, with its cost and outcome."""

    def find_session_ids(self, prefix: str, limit: int = 10) -> list[str]:
        """Session ids starting with `prefix` (for commands that accept a short id)."""

    def search(self, query: SearchQuery) -> list[SearchHit]:
        """Records whose stored (redacted) text matches every term, best first: prompts, tool
        calls (input, output, error) and, where the tier kept them, responses."""

    def changes_since(self, seq: int, limit: int = 1000) -> list[Change]: ...

    def last_change_seq(self) -> int: ...

    def users(self) -> list[UserInfo]:
        """Every user id seen on a session, by id."""

    def instance_settings(self) -> dict[str, str]:
        """Instance-wide settings (e.g. `instance_id`)."""


class BudgetStore(StorePart, Protocol):
    """Budgets and their alerts (store/sql/budgets.py documents the once-only rules)."""

    def budgets(self) -> list[Budget]: ...

    def save_budget(self, budget: Budget) -> None:
        """Insert or replace the budget with this scope, period and unit."""

    def delete_budget(self, budget_id: str) -> bool: ...

    def record_alert(self, alert: BudgetAlert, channels: Sequence[str]) -> bool:
        """Store a crossed threshold and a pending delivery per channel; False if already recorded."""

    def budget_alerts(self, since_ms: int = 0, limit: int = 200) -> list[BudgetAlert]: ...

    def alert_deliveries(self, limit: int = 200) -> list[AlertDelivery]: ...

    def claim_deliveries(self, now: int, limit: int = 20) -> list[tuple[AlertDelivery, BudgetAlert]]:
        """Deliveries due now, each claimed by this call so no other process sends it."""

    def finish_delivery(self, delivery: AlertDelivery) -> None: ...

    def allow_session(self, session_id: str) -> None:
        """Let a session run past blocking budgets (`agent-trace budgets allow`)."""

    def allowed_sessions(self) -> set[str]: ...


class StoreAdmin(StorePart, Protocol):
    """Schema and health (`db` commands, /health, the start-up schema check)."""

    def migrate(self) -> None:
        """Bring the schema up to date (idempotent), then the data fixes that need the write path."""

    def schema_revision(self) -> str | None:
        """The applied revision of the SQL schema, None on an empty database."""

    def downgrade_schema(self, revision: str) -> None:
        """Revert the SQL schema to `revision` ("base" = empty), dropping what it added."""

    def events_schema(self) -> tuple[int | None, int] | None:
        """(applied, newest known) versions of a separate events database; None without one."""

    def pending_events_migrations(self) -> list[str]:
        """Migrations of the events database not applied yet (none without one); raises
        RuntimeError (MigrationStateError) on a half-applied one."""

    def health(self) -> dict[str, str]:
        """ "ok" or "error: <kind>" per database (`database`, `events`); never raises."""

    def set_instance_setting(self, key: str, value: str) -> None: ...


@runtime_checkable
class Store(RecordWriter, RecordReader, BudgetStore, StoreAdmin, Protocol):
    """A whole backend for canonical records: every role. Writes are idempotent upserts."""
