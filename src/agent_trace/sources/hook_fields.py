"""Reading fields of a hook payload strictly (pure): each accessor returns the value or None, and
raises HookPayloadError naming the field and the rule for a value of the wrong JSON type; and the
two JSON forms claude_hooks.py stores (faithful key order, and canonical for equality)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class HookPayloadError(ValueError):
    """A hook payload agent-trace cannot use; the message names the field and the rule."""


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _wrong(where: str, key: str, expected: str, value: object) -> HookPayloadError:
    return HookPayloadError(f"{where}{key}: expected {expected}, got {json_type(value)}")


def field_str(data: Mapping[str, Any], key: str, where: str = "") -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise _wrong(where, key, "a string", value)


def field_int(data: Mapping[str, Any], key: str, where: str = "") -> int | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise _wrong(where, key, "a number", value)
    return int(value)


def field_count(data: Mapping[str, Any], key: str, where: str = "") -> int | None:
    value = field_int(data, key, where)
    if value is not None and value < 0:
        raise HookPayloadError(f"{where}{key}: expected a number >= 0, got {value}")
    return value


def field_bool(data: Mapping[str, Any], key: str, where: str = "") -> bool | None:
    value = data.get(key)
    if value is None or isinstance(value, bool):
        return value
    raise _wrong(where, key, "a boolean", value)


def field_mapping(data: Mapping[str, Any], key: str, where: str = "") -> Mapping[str, Any] | None:
    value = data.get(key)
    if value is None or isinstance(value, Mapping):
        return value
    raise _wrong(where, key, "an object", value)


def field_list(data: Mapping[str, Any], key: str, where: str = "") -> list[Any] | None:
    value = data.get(key)
    if value is None or isinstance(value, list):
        return value
    raise _wrong(where, key, "an array", value)


def _plain(value: object) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return list(value)
    raise HookPayloadError(f"payload: {type(value).__name__} is not a JSON value")


def compact_json(value: Any) -> str:
    """Compact JSON in the payload's own key order (faithful to what the tool got)."""
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_plain)
    except (TypeError, ValueError) as exc:
        raise HookPayloadError(f"payload: not JSON-serialisable ({exc})") from exc


def canonical_json(value: Mapping[str, Any]) -> str:
    """Sorted-keys compact JSON: equal payloads give equal text, whatever the key order."""
    try:
        return json.dumps(
            dict(value),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_plain,
        )
    except (TypeError, ValueError) as exc:
        raise HookPayloadError(f"payload: not JSON-serialisable ({exc})") from exc
