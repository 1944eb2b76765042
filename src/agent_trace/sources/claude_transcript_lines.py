"""The vocabulary of a Claude Code transcript line (pure): record types, what a file's path says,
usage, message text, and the state and statistics a parse carries (reference §3).

The line-by-line rules that turn these into canonical records live in claude_transcript.py.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from agent_trace.domain.records import Usage, llm_call_id

SYNTHETIC_MODEL = "<synthetic>"
# ParseStats.unknown_types key for JSON objects without a string `type`: not transcript lines
# (a hooks or OTLP log someone pointed the import at, say).
NO_TYPE = "(no type)"

# Record types that carry nothing we model (bookkeeping); seen, so not "unknown".
BOOKKEEPING_TYPES = frozenset(
    {
        "file-history-snapshot",
        "queue-operation",
        "last-prompt",
        "tools-used",
        "mode",
        "api-request",
        "api-request-shape",
        "api-request-blob",
        "atis-latch",
        "attachment",
        "permission-mode",
        "agent-name",
        "pr-link",
        "worktree-state",
        "content-replacement",
        "marble-origami-commit",
        "marble-origami-snapshot",
        "speculation-accept",
        "tag",
    }
)
TITLE_TYPES = frozenset({"summary", "custom-title", "ai-title", "title"})

# Envelope and record fields this parser knows; anything else is counted as an unknown field.
KNOWN_FIELDS = frozenset(
    {
        "type",
        "uuid",
        "parentUuid",
        "logicalParentUuid",
        "isSidechain",
        "sessionId",
        "cwd",
        "version",
        "gitBranch",
        "timestamp",
        "entrypoint",
        "slug",
        "agentId",
        "userType",
        "message",
        "requestId",
        "promptId",
        "toolUseResult",
        "sourceToolAssistantUUID",
        "sourceToolUseID",
        "isMeta",
        "isCompactSummary",
        "isVisibleInTranscriptOnly",
        "permissionMode",
        "thinkingMetadata",
        "todos",
        "isApiErrorMessage",
        "error",
        "apiErrorStatus",
        "apiBlockIndex",
        "requestRef",
        "requestedModel",
        "promptCacheRequested",
        "effort",
        "perTurnEffort",
        "madeBy",
        "toolInputStreamMs",
        "subtype",
        "content",
        "level",
        "compactMetadata",
        "durationMs",
        "hookCount",
        "hookInfos",
        "hookErrors",
        "preventedContinuation",
        "stopReason",
        "hasOutput",
        "toolUseID",
        "parentToolUseID",
        "data",
        "retryAttempt",
        "retryInMs",
        "maxRetries",
        "cause",
        "promptSource",
        "rowSource",
        "turnOrigin",
        "turnPosition",
        "permissionDecision",
        "failedHookErrorIndexes",
        "hookAdditionalContext",
        "imagePasteIds",
        "isCompactSummaryNote",
        "costUSD",
    }
)
PARSED_TYPES = frozenset({"user", "assistant", "system"})

_AGENT_FILE = re.compile(r"^agent-(?P<id>[A-Za-z0-9_-]+)\.jsonl$")
_UUIDISH = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True, slots=True)
class TranscriptFile:
    """What the path (and a subagent's .meta.json) says about a transcript file."""

    path: str
    session_hint: str | None = None
    agent_hint: str | None = None
    meta: Mapping[str, Any] | None = None
    # The file's modification time: the last resort for a call with no usable timestamp.
    mtime_ms: int | None = None


def describe_path(
    path: str, meta: Mapping[str, Any] | None = None, mtime_ms: int | None = None
) -> TranscriptFile:
    """Classify a transcript path: main session file, subagent file, or a flat agent file."""
    parts = path.replace("\\", "/").split("/")
    name = parts[-1]
    agent_match = _AGENT_FILE.match(name)
    if agent_match:
        session_hint = None
        if len(parts) >= 3 and parts[-2] == "subagents":
            session_hint = parts[-3]
        return TranscriptFile(path, session_hint, agent_match.group("id"), meta, mtime_ms)
    stem = name[:-6] if name.endswith(".jsonl") else name
    return TranscriptFile(path, stem if _UUIDISH.match(stem) else None, None, meta, mtime_ms)


@dataclass
class ParseState:
    """What a later chunk of the same file needs to know about the earlier ones (JSON-safe)."""

    session_id: str | None = None
    project: str | None = None
    current_prompt_id: str | None = None
    prompt_api_errors: int = 0
    compactions: int = 0
    sidechain_agent: str | None = None
    subagent_prompt_id: str | None = None
    last_ts: int | None = None  # the latest usable timestamp in file order (dates undated calls)
    # A `summary` line without its own sessionId titles the file's session only once the file
    # shows that session has content: a file holding nothing but summaries is no session.
    pending_title: str | None = None
    has_content: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> ParseState:
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class ParseStats:
    lines: int = 0
    records: int = 0
    malformed: int = 0
    incomplete_tail: int = 0
    api_errors: int = 0
    estimated_times: int = 0  # calls without a usable timestamp, dated from neighbours or mtime
    unknown_types: Counter[str] = field(default_factory=Counter)
    unknown_fields: Counter[str] = field(default_factory=Counter)

    def merge(self, other: ParseStats) -> None:
        self.lines += other.lines
        self.records += other.records
        self.malformed += other.malformed
        self.incomplete_tail += other.incomplete_tail
        self.api_errors += other.api_errors
        self.estimated_times += other.estimated_times
        self.unknown_types.update(other.unknown_types)
        self.unknown_fields.update(other.unknown_fields)


def parse_usage(raw: object) -> Usage | None:
    """Anthropic `usage` → Usage. A cache-write total without a 5m/1h split counts as 5m."""
    if not isinstance(raw, dict):
        return None

    def num(key: str, source: Mapping[str, Any] = raw) -> int:
        value = source.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

    creation = num("cache_creation_input_tokens")
    split = raw.get("cache_creation")
    one_hour = num("ephemeral_1h_input_tokens", split) if isinstance(split, dict) else 0
    five_min = num("ephemeral_5m_input_tokens", split) if isinstance(split, dict) else 0
    if creation == 0 and (one_hour or five_min):
        creation = one_hour + five_min
    one_hour = min(one_hour, creation)
    server = raw.get("server_tool_use")
    geo = raw.get("inference_geo")
    return Usage(
        input_tokens=num("input_tokens"),
        output_tokens=num("output_tokens"),
        cache_creation_tokens=creation,
        cache_5m_tokens=creation - one_hour,
        cache_1h_tokens=one_hour,
        cache_read_tokens=num("cache_read_input_tokens"),
        web_search_requests=num("web_search_requests", server) if isinstance(server, dict) else 0,
        inference_geo=geo if isinstance(geo, str) else None,
    )


def text_of(content: object) -> str:
    """Text of a message/tool_result content: a string, or the text blocks of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, dict):
                kind = block.get("type")
                if kind == "text" and isinstance(block.get("text"), str):
                    parts.append(block["text"])
                elif kind == "image":
                    parts.append("[image]")
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return ""


def response_key(record: Mapping[str, Any]) -> str | None:
    """The LLM call an assistant line belongs to (None for API-error and malformed lines)."""
    message = record.get("message")
    if (
        not isinstance(message, dict)
        or message.get("model") == SYNTHETIC_MODEL
        or record.get("isApiErrorMessage")
    ):
        return None
    message_id = message.get("id")
    request_id = record.get("requestId")
    return llm_call_id(
        message_id if isinstance(message_id, str) else None,
        request_id if isinstance(request_id, str) else None,
    )
