"""The privacy tier applied to a hook payload on the developer's machine (stdlib only).

The same rule as `domain.privacy.sanitize_payload`, which the collector applies again (that
module imports orjson and the record types, which the hook handler must not load):

- tier 3 keeps everything;
- tier 2 drops what the model said (`last_assistant_message`, ...);
- tier 1 keeps only metadata keys: ids, names, states, numbers. `cwd` and `transcript_path` stay
  too, because the collector keeps a session's cwd and project at every tier.

Secrets are redacted afterwards, at every tier, by the caller. Both use the key lists of
domain/payload_keys.py; tests/hook/test_tiering.py checks that the two strip alike.
"""

from __future__ import annotations

from agent_trace.domain.payload_keys import PAYLOAD_METADATA_KEYS, PAYLOAD_RESPONSE_KEYS

TYPE_CHECKING = False  # `typing` costs the hook worker an import it does not need
if TYPE_CHECKING:
    from typing import Any

# The collector's lists, plus the two keys the client adds: the collector keeps a session's cwd
# at every tier.
METADATA_KEYS = PAYLOAD_METADATA_KEYS | {"cwd", "transcript_path"}
RESPONSE_KEYS = PAYLOAD_RESPONSE_KEYS


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
