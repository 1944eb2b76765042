"""Timestamps as integer epoch milliseconds (UTC), parsed from what agents write."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_iso_ms(value: object) -> int | None:
    """`2026-02-11T20:36:45.618Z` (or any ISO 8601 form) → epoch ms; None for anything unusable."""
    if not isinstance(value, str) or not value:
        return None
    text = value
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    # Whole seconds plus truncated milliseconds: exact, unlike float arithmetic on timestamp().
    return int(parsed.replace(microsecond=0).timestamp()) * 1000 + parsed.microsecond // 1000


def ms_to_iso(ms: int | None) -> str | None:
    """Epoch ms → `2026-02-11T20:36:45.618Z`."""
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def unix_nano_to_ms(value: object) -> int | None:
    """OTLP `timeUnixNano` (a number or a decimal string) → epoch ms."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value // 1_000_000 if value > 0 else None
    if isinstance(value, str) and value.isdigit():
        nanos = int(value)
        return nanos // 1_000_000 if nanos > 0 else None
    return None
