"""The privacy tier applied to a hook payload on the developer's machine (stdlib only).

The same rule as `domain.privacy.sanitize_payload`, which the collector applies again (that
module imports orjson and the record types, which the hook handler must not load):

- tier 3 keeps everything;
- tier 2 drops what the model said (`last_assistant_message`, ...);
- tier 1 keeps only metadata keys: ids, names, states, numbers. `cwd` and `transcript_path` stay
  too, because the collector keeps a session's cwd and project at every tier.

Secrets are redacted afterwards, at every tier, by the caller. tests/hook/test_tiering.py checks
that this agrees with domain.privacy, so the two lists cannot drift apart unnoticed.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs the hook worker an import it does not need
if TYPE_CHECKING:
    from typing import Any


METADATA_KEYS = frozenset(
    {
        "session_id",
        "session.id",
        "hook_event_name",
        "event.name",
        "event.timestamp",
        "event.sequence",
        "tool_name",
        "tool_use_id",
        "prompt_id",
        "prompt.id",
        "agent_id",
        "agent_type",
        "agent.name",
        "permission_mode",
        "source",
        "reason",
        "trigger",
        "duration_ms",
        "ttft_ms",
        "model",
        "request_id",
        "message.uuid",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_creation_tokens",
        "cache_creation_5m_tokens",
        "cache_creation_1h_tokens",
        "cost_usd",
        "speed",
        "query_source",
        "success",
        "decision",
        "error_type",
        "status_code",
        "attempt",
        "is_interrupt",
        "stop_hook_active",
        "prompt_length",
        "user.id",
        "terminal.type",
        "service.name",
        "memory_type",
        "load_reason",
        "index",
        "final",
        "turn_id",
        "message_id",
        "effort",
        "level",
        "total_tokens",
        "pre_tokens",
        "post_tokens",
        "name",
        "kind",
        "trace_id",
        "span_id",
        "parent_span_id",
        "start_ms",
        "end_ms",
        "status",
        "agent_trace",
        "ts_ms",
        "user",
        "git",
        "repo",
        "branch",
        "head",
        "base_sha",
        "lines_added",
        "lines_removed",
        "files_changed",
        "commits",
        "sha",
        "author",
        "insertions",
        "deletions",
        "attributes",
        "resource",
        "value",
        "unit",
        "temporality",
        "count",
        "sum",
        # The client adds these two: the collector keeps a session's cwd at every tier.
        "cwd",
        "transcript_path",
    }
)
RESPONSE_KEYS = frozenset(
    {"last_assistant_message", "response", "delta", "thinking", "assistant_response", "compact_summary"}
)


def strip_payload(value: Any, tier: int) -> Any:
    """`value` without the keys `tier` does not allow, recursively (a new object; input untouched)."""
    if tier >= 3:
        return value
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, inner in value.items():
            if key in RESPONSE_KEYS:
                continue
            if tier < 2 and key not in METADATA_KEYS:
                continue
            kept[key] = strip_payload(inner, tier)
        return kept
    if isinstance(value, list):
        return [strip_payload(item, tier) for item in value]
    return value
