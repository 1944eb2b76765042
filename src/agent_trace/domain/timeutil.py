"""Timestamps as integer epoch milliseconds (UTC), parsed from what agents write."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache


@lru_cache(maxsize=8192)
def _minute_start_ms(minute: str) -> int | None:
    """`2026-02-11T20:36` → epoch ms (cached: a transcript's lines share few minutes)."""
    try:
        return int(datetime.fromisoformat(minute).replace(tzinfo=UTC).timestamp()) * 1000
    except ValueError:
        return None


def parse_iso_ms(value: object) -> int | None:
    """`2026-02-11T20:36:45.618Z` (or any ISO 8601 form) → epoch ms; None for anything unusable."""
    if not isinstance(value, str) or not value:
        return None
    # Fast path for the exact shape Claude Code writes on every line (millions of lines on import).
    if len(value) == 24 and value[23] == "Z" and value[19] == "." and value[16] == ":":
        minute = _minute_start_ms(value[:16])
        rest = value[17:19] + value[20:23]
        if minute is not None and rest.isascii() and rest.isdigit() and rest[0] < "6":
            return minute + int(rest[:2]) * 1000 + int(rest[2:])
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


# Years 1..9999, the range of ISO 8601 text and of datetime.
_MIN_MS = -62_135_596_800_000
_MAX_MS = 253_402_300_800_000


@lru_cache(maxsize=16_384)
def _second_text(epoch_s: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_s))


def ms_to_iso(ms: int | None) -> str | None:
    """Epoch ms → `2026-02-11T20:36:45.618Z`; None when not a representable instant (a read
    must never fail on what a store holds: see domain/limits.py).

    Fast for views that format thousands of instants at once: a 2,000-tool-call replay formats
    ~5,000, mostly within a few hundred seconds, so the date-and-time part is cached per second
    (a dict lookup instead of ~4 µs of datetime work)."""
    if ms is None:
        return None
    ms = int(ms)
    if not _MIN_MS <= ms < _MAX_MS:
        return None
    return f"{_second_text(ms // 1000)}.{ms % 1000:03d}Z"


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
