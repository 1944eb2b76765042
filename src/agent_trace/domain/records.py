"""Canonical records: what every ingest path (transcripts, hooks, OTLP) is turned into.

Each record has a natural key (DESIGN.md §2). A field left as None means "this source does not
know", so a store merging the same fact from several sources keeps the union of the details.
Times are integer milliseconds since the Unix epoch (UTC); money is integer nano-dollars
(1e-9 USD) so that any grouping of calls sums exactly, on every backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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

NANO_PER_USD = 1_000_000_000

PromptKind = Literal["prompt", "command", "task_notification"]
ToolStatus = Literal["success", "error", "denied", "interrupted"]
FileOp = Literal["read", "write"]


def bucket_of(ts_ms: int) -> int:
    """Start (epoch ms) of the 15-minute bucket holding `ts_ms`."""
    return ts_ms - ts_ms % BUCKET_MS


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


@dataclass(slots=True)
class Usage:
    input_tokens: int = 0  # excludes cache reads and writes (Anthropic's convention)
    output_tokens: int = 0
    cache_creation_tokens: int = 0  # = cache_5m_tokens + cache_1h_tokens
    cache_5m_tokens: int = 0
    cache_1h_tokens: int = 0
    cache_read_tokens: int = 0
    web_search_requests: int = 0

    @property
    def total(self) -> int:
        """What the streaming-duplicate rule compares: the largest copy of a request wins."""
        return self.input_tokens + self.output_tokens + self.cache_creation_tokens + self.cache_read_tokens

    @property
    def total_input(self) -> int:
        """Input that decides long-context tiers: fresh input plus cache writes and reads."""
        return self.input_tokens + self.cache_creation_tokens + self.cache_read_tokens


@dataclass(slots=True)
class LlmCall:
    """One API request; streaming duplicates, copies in other files and other channels merge here."""

    call_id: str  # requestId when known, else "msg:" + message.id (see `llm_call_id`)
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
    reported_cost_nusd: int | None = None  # Claude Code's own figure (OTLP cost_usd)
    speed: str | None = None
    stop_reason: str | None = None
    query_source: str | None = None
    duration_ms: int | None = None
    ttft_ms: int | None = None
    response_text: str | None = None  # tier 3
    thinking: str | None = None  # tier 3
    tool_use_ids: tuple[str, ...] = ()


def llm_call_id(message_id: str | None, request_id: str | None) -> str | None:
    """The natural key of an API request: the request id, or the message id when there is none."""
    if request_id:
        return request_id
    if message_id:
        return "msg:" + message_id
    return None


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


@dataclass(slots=True)
class FileTouch:
    """A file a tool call read or wrote (tier >= 2: paths can be telling)."""

    tool_use_id: str
    path: str
    op: FileOp
    session_id: str
    ts_ms: int | None = None


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

    def extend(self, other: RecordBatch) -> None:
        self.sessions.extend(other.sessions)
        self.prompts.extend(other.prompts)
        self.llm_calls.extend(other.llm_calls)
        self.tool_calls.extend(other.tool_calls)
        self.file_touches.extend(other.file_touches)
        self.subagents.extend(other.subagents)
        self.commits.extend(other.commits)
        self.raw_events.extend(other.raw_events)

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
        ):
            part.clear()
