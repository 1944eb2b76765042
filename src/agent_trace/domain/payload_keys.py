"""Which keys of a raw hook/OTLP payload each privacy tier keeps, and the one function that
strips a payload to a tier (standard library only).

Used by both places that strip payloads: the collector (domain/privacy.py, which then redacts)
and the hook handler on the developer's machine (hook/worker.py), which must not import orjson
or records:

- tier 3 keeps everything;
- tier 2 drops what the model said (`last_assistant_message`, ...);
- tier 1 keeps only metadata keys: ids, names, states, numbers.
"""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` costs the hook worker an import it does not need
if TYPE_CHECKING:
    from typing import Any

# Raw payload keys that are safe at tier 1: identifiers, names, numbers, states.
PAYLOAD_METADATA_KEYS = frozenset(
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
    }
)
# Raw payload keys holding what the model said: kept only at tier 3.
PAYLOAD_RESPONSE_KEYS = frozenset(
    {
        "last_assistant_message",
        "response",
        "delta",
        "thinking",
        "assistant_response",
        "compact_summary",
        "opencode.response_parts",  # an OpenCode assistant's text and reasoning (sources/opencode_otel.py)
    }
)
# What the hook client keeps at tier 1 besides the metadata: the collector reads a session's cwd
# and project from them (kept at every tier) before it strips the payload again.
CLIENT_METADATA_KEYS = frozenset({"cwd", "transcript_path"})


def strip_payload(value: Any, tier: int, also_metadata: frozenset[str] = frozenset()) -> Any:
    """`value` without the keys `tier` does not allow, recursively (new containers below tier
    3; the input is never changed). `also_metadata`: keys kept at tier 1 too."""
    if tier >= 3:
        return value
    if isinstance(value, dict):
        kept: dict[str, Any] = {}
        for key, inner in value.items():
            if key in PAYLOAD_RESPONSE_KEYS:
                continue
            if tier < 2 and key not in PAYLOAD_METADATA_KEYS and key not in also_metadata:
                continue
            kept[key] = strip_payload(inner, tier, also_metadata)
        return kept
    if isinstance(value, list):
        return [strip_payload(item, tier, also_metadata) for item in value]
    return value
