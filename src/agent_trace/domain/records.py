"""Canonical records: what every ingest path (transcripts, hooks, OTLP) is turned into.

Each record has a natural key (DESIGN.md §2). A field left as None means "this source does not
know", so a store merging the same fact from several sources keeps the union of the details.
Times are integer milliseconds since the Unix epoch (UTC); money is integer nano-dollars
(1e-9 USD) so that any grouping of calls sums exactly, on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, Literal, TypeVar

_Record = TypeVar("_Record")

AGENT_CLAUDE_CODE = "claude-code"
AGENT_CODEX = "codex"
AGENT_GEMINI = "gemini-cli"
AGENT_QWEN = "qwen-code"
AGENT_OPENCODE = "opencode"
# What a user may type for an agent (`--agent gemini`) → the name sessions are stored under.
AGENT_ALIASES = {
    "claude": AGENT_CLAUDE_CODE,
    "claude-code": AGENT_CLAUDE_CODE,
    "codex": AGENT_CODEX,
    "gemini": AGENT_GEMINI,
    "gemini-cli": AGENT_GEMINI,
    "qwen": AGENT_QWEN,
    "qwen-code": AGENT_QWEN,
    "opencode": AGENT_OPENCODE,
}


def canonical_agent(name: str | None) -> str | None:
    """The stored agent name for what a user typed (unknown names pass through unchanged)."""
    if name is None:
        return None
    return AGENT_ALIASES.get(name.strip().lower(), name.strip())


# A 15-minute bucket: every real time zone offset is a multiple of 15 minutes, so per-bucket
# rollups can be regrouped into local days, weeks and months exactly.
BUCKET_MS = 15 * 60 * 1000
DAY_MS = 24 * 60 * 60 * 1000  # a day of UTC; local days are offset from it (reports/periods.py)

NANO_PER_USD = 1_000_000_000

# Subagent ids the transcript parser makes up for pre-2.0 sidechains in the main file (no agentId).
# The same lines copied into subagents/agent-<id>.jsonl name the real id, which wins in every merge.
SIDECHAIN_AGENT = "sidechain"

# How reports name the calls whose record names no model (they are unpriced, with that reason).
NO_MODEL_LABEL = "(no model)"

PromptKind = Literal["prompt", "command", "task_notification"]
ToolStatus = Literal["success", "error", "denied", "interrupted"]
FileOp = Literal["read", "write"]


def bucket_of(ts_ms: int) -> int:
    """Start (epoch ms) of the 15-minute bucket holding `ts_ms`."""
    return ts_ms - ts_ms % BUCKET_MS


def _pickled_by_fields(cls: type[_Record]) -> type[_Record]:
    """Pickle a record as (its class, its field values), unpickled by one constructor call. The
    default for a slots dataclass sets the fields one by one in a Python loop on unpickling,
    three times slower; the import's parse worker sends ~300,000 records per GB to the process
    that writes them, where that time is on the import's critical path."""
    values = attrgetter(*(f.name for f in fields(cls)))  # type: ignore[arg-type]

    def __reduce__(self: Any) -> tuple[Any, tuple[Any, ...]]:
        return cls, values(self)

    setattr(cls, "__reduce__", __reduce__)  # noqa: B010 - assigned after the class is built
    return cls


@_pickled_by_fields
@dataclass(slots=True)
class Session:
    session_id: str
    agent: str | None = None
    project: str | None = None  # the start cwd, which names the project
    cwd: str | None = None  # latest cwd seen
    user_id: str | None = None
    version: str | None = None
    entrypoint: str | None = None
    title: str | None = None
    started_ms: int | None = None  # merged with min()
    ended_ms: int | None = None  # merged with max()
    end_reason: str | None = None
    permission_mode: str | None = None
    git_repo: str | None = None
    git_branch: str | None = None
    git_head: str | None = None
    git_base_sha: str | None = None
    git_lines_added: int | None = None
    git_lines_removed: int | None = None
    git_files_changed: int | None = None
    reported_cost_nusd: int | None = None  # Claude Code's own running total (cost-state / OTLP)
    compactions: int | None = None  # merged with max()


@_pickled_by_fields
@dataclass(slots=True)
class Prompt:
    """A user turn: what a person (or a background task's notification) asked."""

    prompt_id: str  # promptId / hook prompt_id / OTLP prompt.id, or the user line's uuid
    session_id: str
    ts_ms: int | None = None
    kind: PromptKind | None = None
    text: str | None = None  # tier >= 2
    line_uuid: str | None = None  # transcript uuid of the typed user record (OTLP message.uuid)
    duration_ms: int | None = None
    interrupted: bool | None = None
    api_errors: int | None = None  # merged with max()


@_pickled_by_fields
@dataclass(slots=True)
class Usage:
    input_tokens: int = 0  # excludes cache reads and writes (Anthropic's convention)
    output_tokens: int = 0
    cache_creation_tokens: int = 0  # = cache_5m_tokens + cache_1h_tokens
    cache_5m_tokens: int = 0
    cache_1h_tokens: int = 0
    cache_read_tokens: int = 0
    web_search_requests: int = 0
    # Where inference ran (usage.inference_geo): "us" costs more (data residency). Used for
    # pricing only, not stored.
    inference_geo: str | None = None

    @property
    def total(self) -> int:
        """What the streaming-duplicate rule compares: the largest copy of a request wins."""
        return self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens

    @property
    def total_input(self) -> int:
        """Input that decides long-context tiers: fresh input plus cache writes and reads."""
        return self.input_tokens + self.cache_creation_tokens + self.cache_read_tokens


@_pickled_by_fields
@dataclass(slots=True)
class LlmCall:
    """One API request; streaming duplicates, copies in other files and other channels merge here."""

    call_id: str  # "msg:" + message.id when known, else requestId (see `llm_call_id`)
    session_id: str
    message_id: str | None = None
    request_id: str | None = None
    agent_id: str | None = None  # None = main thread, else the subagent
    prompt_id: str | None = None
    model: str | None = None
    ts_ms: int | None = None
    usage: Usage | None = None  # None when this source carries no usage (hooks)
    is_sidechain: bool = False
    cost_nusd: int | None = None  # computed at list price; None = unpriced
    unpriced_reason: str | None = None  # why cost_nusd is None (domain.pricing UNPRICED_*)
    reported_cost_nusd: int | None = None  # Claude Code's own figure (OTLP cost_usd)
    speed: str | None = None
    stop_reason: str | None = None
    query_source: str | None = None
    duration_ms: int | None = None
    ttft_ms: int | None = None
    response_text: str | None = None  # tier 3
    thinking: str | None = None  # tier 3
    tool_use_ids: tuple[str, ...] = ()


MESSAGE_KEY_PREFIX = "msg:"


def llm_call_id(message_id: str | None, request_id: str | None) -> str | None:
    """The natural key of an API response: "msg:" + message.id, or the request id when the source
    knows no message id (OTLP api_request events and llm_request spans carry only request_id).

    The rule (docs/ARCHITECTURE.md "LLM call key"): two records are one call when their message
    ids are equal, or, when one of them has no message id, when their request ids are equal.
    So two messages that share a requestId stay two calls, and a record keyed by its request id
    alone is resolved by the store to the call holding that request id (store/sql/call_keys.py):
    the one with the smallest key if several do.
    """
    if message_id:
        return MESSAGE_KEY_PREFIX + message_id
    if request_id:
        return request_id
    return None


@_pickled_by_fields
@dataclass(slots=True)
class ToolCall:
    tool_use_id: str
    session_id: str
    tool_name: str | None = None
    agent_id: str | None = None
    prompt_id: str | None = None
    call_id: str | None = None  # the LLM call that asked for it
    started_ms: int | None = None
    ended_ms: int | None = None
    duration_ms: int | None = None
    status: ToolStatus | None = None
    error: str | None = None  # tier >= 2 (error text can quote inputs)
    input_json: str | None = None  # tier >= 2, JSON text
    output_text: str | None = None  # tier >= 2
    subagent_id: str | None = None  # for Agent/Task: the agent it spawned


@_pickled_by_fields
@dataclass(slots=True)
class FileTouch:
    """A file a tool call read or wrote (tier >= 2: paths can be telling)."""

    tool_use_id: str
    path: str
    op: FileOp
    session_id: str
    ts_ms: int | None = None


@_pickled_by_fields
@dataclass(slots=True)
class Subagent:
    session_id: str
    agent_id: str
    agent_type: str | None = None
    description: str | None = None
    parent_tool_use_id: str | None = None
    prompt_id: str | None = None
    model: str | None = None
    started_ms: int | None = None  # min()
    ended_ms: int | None = None  # max()
    is_compaction: bool | None = None


@_pickled_by_fields
@dataclass(slots=True)
class Commit:
    sha: str
    session_id: str | None = None
    repo: str | None = None
    branch: str | None = None
    message: str | None = None  # tier >= 2
    author: str | None = None
    ts_ms: int | None = None
    files_changed: int | None = None
    insertions: int | None = None
    deletions: int | None = None
    parent_sha: str | None = None
    patch_id: str | None = None  # `git patch-id --stable`: finds the commit again after a rebase/squash
    # {"repo/relative/path": [domain.provenance.line_key of each added line]}: lets the store
    # count the agent-authored lines without the code itself leaving the machine (tier >= 2).
    files_json: str | None = None
    co_authored: bool | None = None  # a `Co-Authored-By: Claude` trailer (a signal, never required)
    # Fates found by `agent-trace git scan` (outcomes): on the default branch, reverted, rewritten.
    on_default: bool | None = None
    reverted_by: str | None = None
    rewritten_as: str | None = None  # the sha with the same patch-id that reached the default branch


PrState = Literal["open", "closed", "merged"]


@_pickled_by_fields
@dataclass(slots=True)
class PullRequest:
    """A GitHub pull request or GitLab merge request, from webhooks (natural key: pr_id)."""

    pr_id: str  # "<provider>:<repo>#<number>", see `pr_key`
    provider: str  # github | gitlab
    repo: str  # host/owner/name, as domain.provenance.normalize_remote names a remote
    number: int
    state: PrState | None = None
    title: str | None = None  # tier >= 2
    url: str | None = None
    author: str | None = None
    head_ref: str | None = None
    head_sha: str | None = None
    base_ref: str | None = None
    merge_sha: str | None = None
    opened_ms: int | None = None
    closed_ms: int | None = None
    merged_ms: int | None = None
    updated_ms: int | None = None


def pr_key(provider: str, repo: str, number: int) -> str:
    return f"{provider}:{repo}#{number}"


@_pickled_by_fields
@dataclass(slots=True)
class PushedCommit:
    """A commit a push event delivered to a branch (links pull requests to commits)."""

    repo: str
    ref: str  # branch name, without refs/heads/
    sha: str
    ts_ms: int | None = None


@_pickled_by_fields
@dataclass(slots=True)
class RawEvent:
    """What arrived, for audit and dedup: key = sha256(source, natural key, payload)."""

    event_id: str
    source: str
    session_id: str | None
    received_ms: int
    ts_ms: int | None = None
    kind: str | None = None
    payload: str | None = None  # JSON text after privacy tier and redaction


@dataclass(slots=True)
class RecordBatch:
    """Everything one parse step produced; the writer stores it in one transaction."""

    sessions: list[Session] = field(default_factory=list)
    prompts: list[Prompt] = field(default_factory=list)
    llm_calls: list[LlmCall] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    file_touches: list[FileTouch] = field(default_factory=list)
    subagents: list[Subagent] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    raw_events: list[RawEvent] = field(default_factory=list)
    pull_requests: list[PullRequest] = field(default_factory=list)
    pushed_commits: list[PushedCommit] = field(default_factory=list)

    def extend(self, other: RecordBatch) -> None:
        self.sessions.extend(other.sessions)
        self.prompts.extend(other.prompts)
        self.llm_calls.extend(other.llm_calls)
        self.tool_calls.extend(other.tool_calls)
        self.file_touches.extend(other.file_touches)
        self.subagents.extend(other.subagents)
        self.commits.extend(other.commits)
        self.raw_events.extend(other.raw_events)
        self.pull_requests.extend(other.pull_requests)
        self.pushed_commits.extend(other.pushed_commits)

    def __len__(self) -> int:
        return (
            len(self.sessions)
            + len(self.prompts)
            + len(self.llm_calls)
            + len(self.tool_calls)
            + len(self.file_touches)
            + len(self.subagents)
            + len(self.commits)
            + len(self.raw_events)
            + len(self.pull_requests)
            + len(self.pushed_commits)
        )

    def clear(self) -> None:
        for part in (
            self.sessions,
            self.prompts,
            self.llm_calls,
            self.tool_calls,
            self.file_touches,
            self.subagents,
            self.commits,
            self.raw_events,
            self.pull_requests,
            self.pushed_commits,
        ):
            part.clear()
