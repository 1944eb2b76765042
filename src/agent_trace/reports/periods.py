"""Local calendar periods (day, week, month) for epoch-ms instants, in a chosen time zone.

Rollups are kept per 15-minute UTC bucket; every real UTC offset is a multiple of 15 minutes,
so a bucket never straddles a local midnight and regrouping buckets into local periods is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Period = Literal["daily", "weekly", "monthly"]
PERIOD_KEY = {"daily": "date", "weekly": "week", "monthly": "month"}


class PeriodError(ValueError):
    """A date, time zone or period option that cannot be used; the message names it."""


def resolve_timezone(name: str | None, source: str = "--timezone") -> tzinfo | None:
    """An IANA zone, or None for the system's local time (which the C library resolves, DST included).
    `source` names where the name came from in the error (an option, or a setting)."""
    if not name or name.lower() == "local":
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PeriodError(
            f"{source} {name!r}: not a known IANA time zone (e.g. UTC, Europe/Berlin)"
        ) from None


# Instants datetime can show in any zone (years 1..9999, a day in from each end).
_MIN_MS = -62_135_596_800_000 + 86_400_000
_MAX_MS = 253_402_300_800_000 - 86_400_000


def local_datetime(ms: int, tz: tzinfo | None) -> datetime:
    """`ms` in zone `tz` (local time when None). An instant outside datetime's range is clamped
    to its edge: a read must never fail on what a store holds (see domain/limits.py)."""
    ms = min(max(ms, _MIN_MS), _MAX_MS)
    return datetime.fromtimestamp(ms / 1000, tz) if tz is not None else datetime.fromtimestamp(ms / 1000)


def parse_day(text: str, option: str) -> date:
    """`2026-02-11` or `20260211` (ccusage's form)."""
    cleaned = text.strip()
    try:
        if len(cleaned) == 8 and cleaned.isdigit():
            return date(int(cleaned[:4]), int(cleaned[4:6]), int(cleaned[6:]))
        return date.fromisoformat(cleaned)
    except ValueError:
        raise PeriodError(f"{option} {text!r}: expected a date like 2026-02-11 or 20260211") from None


def day_start_ms(day: date, tz: tzinfo | None) -> int:
    """Epoch ms of local midnight starting `day`."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
    return int(midnight.timestamp() * 1000)


def period_keyer(period: Period, tz: tzinfo | None, week_start: int = 0) -> Callable[[int], str]:
    """A function mapping epoch ms to the period's label; cached per 15-minute bucket by callers.

    Labels: daily `2026-02-11`; weekly the first day of the week (Monday by default,
    `week_start` 6 = Sunday); monthly `2026-02`.
    """

    def label(ms: int) -> str:
        local = local_datetime(ms, tz).date()
        if period == "daily":
            return local.isoformat()
        if period == "monthly":
            return f"{local.year:04d}-{local.month:02d}"
        offset = (local.weekday() - week_start) % 7
        return (local - timedelta(days=offset)).isoformat()

    return label
