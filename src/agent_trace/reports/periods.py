"""Local calendar periods (day, week, month) for epoch-ms instants, in a chosen time zone: THE
bucketing of `agent-trace report`, `/v1/analytics/*`, team analytics and budgets.

Rollups are kept per 15-minute UTC bucket; every real UTC offset is a multiple of 15 minutes,
so a bucket never straddles a local midnight and regrouping buckets into local periods is exact.
One rule places an instant on its local day: day = floor((ms + the zone's UTC offset at ms) /
DAY_MS), days counted from 1970-01-01 (`local_day`). Reports that read 15-minute buckets apply it
here; answers summed by the store (`Store.daily_totals`) apply the same formula in the query, with
the offsets of `utc_offsets`. Weeks and months are then labels of days (`period_label`).
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Callable
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent_trace.domain.records import BUCKET_MS, DAY_MS

EPOCH = date(1970, 1, 1)

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


def days_range_ms(first: date, last: date, tz: tzinfo | None) -> tuple[int, int]:
    """[start, end) in epoch ms of the whole local days `first` … `last`."""
    return day_start_ms(first, tz), day_start_ms(last + timedelta(days=1), tz)


class SystemZone(tzinfo):
    """The system's local time as a tzinfo (DST included, via the C library), for day arithmetic
    when no IANA zone is configured (None elsewhere means the same zone)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        if dt is None:
            return timedelta(0)
        stamp = time.mktime((dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, 0, 0, -1))
        return timedelta(seconds=time.localtime(stamp).tm_gmtoff)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "local"

    def fromutc(self, dt: datetime) -> datetime:
        stamp = (dt.replace(tzinfo=None) - datetime(1970, 1, 1)).total_seconds()
        return dt + timedelta(seconds=time.localtime(stamp).tm_gmtoff)


def utc_offset_ms(ms: int, tz: tzinfo | None) -> int:
    """The zone's UTC offset in force at instant `ms` (None or SystemZone: the system's)."""
    if tz is None or isinstance(tz, SystemZone):
        clamped = min(max(ms, _MIN_MS), _MAX_MS)
        return time.localtime(clamped // 1000).tm_gmtoff * 1000
    offset = local_datetime(ms, tz).utcoffset()
    return 0 if offset is None else int(offset.total_seconds() * 1000)


def local_day(ms: int, tz: tzinfo | None) -> int:
    """The local calendar day holding instant `ms`, as days since 1970-01-01."""
    return (min(max(ms, _MIN_MS), _MAX_MS) + utc_offset_ms(ms, tz)) // DAY_MS


def utc_offsets(since_ms: int, until_ms: int, tz: tzinfo | None) -> list[tuple[int, int]]:
    """[(from_ms, offset_ms), ...]: the zone's UTC offset over [since_ms, until_ms), per segment,
    for `Store.daily_totals` to apply `local_day`'s formula in its query.

    Checked once a day, and where a day's offset differs, the change is located to its 15-minute
    bucket by bisection: a year costs ~370 lookups, not one per bucket.
    """
    segments = [(since_ms, utc_offset_ms(since_ms, tz))]
    at = since_ms
    while at < until_ms:
        nxt = min(at + DAY_MS, until_ms)
        end_offset = utc_offset_ms(nxt, tz) if nxt < until_ms else utc_offset_ms(nxt - BUCKET_MS, tz)
        if end_offset != segments[-1][1]:
            lo, hi = at, nxt  # offset(lo) = current, offset(hi) differs: find the first bucket after
            while hi - lo > BUCKET_MS:
                mid = lo + max(1, (hi - lo) // 2 // BUCKET_MS) * BUCKET_MS
                if mid >= hi:
                    break
                if utc_offset_ms(mid, tz) == segments[-1][1]:
                    lo = mid
                else:
                    hi = mid
            segments.append((hi, utc_offset_ms(hi, tz)))
        at = nxt
    return segments


# Folding costs one CASE branch per day in the store's query; past this, sum daily rows instead.
FOLD_MAX_DAYS = 120


def fold_offsets(since_ms: int, until_ms: int) -> list[tuple[int, int]] | None:
    """Offsets that put every bucket of [since_ms, until_ms) on one "day" (index 0).

    `Store.daily_totals` places a bucket on day floor((bucket + offset) / DAY_MS); a segment per
    24 h, each shifting its own start to 0, keeps every bucket in [0, DAY_MS). The store then
    groups the whole range in one pass and returns one row per group — a month of 300 projects
    is 300 rows, not 9,000 — on any backend, through the port's documented formula.
    """
    days = -(-(until_ms - since_ms) // DAY_MS)
    if days > FOLD_MAX_DAYS:
        return None
    return [(since_ms + k * DAY_MS, -(since_ms + k * DAY_MS)) for k in range(days)]


def period_days(day: int, period: str, week_start: int = 0) -> tuple[date, date]:
    """The first local day of the period holding `day` (days since 1970-01-01) and the day after
    its last: the day itself; its week (from Monday by default, `week_start` 6 = Sunday); its month."""
    d = EPOCH + timedelta(days=day)
    if period == "weekly":
        first = d - timedelta(days=(d.weekday() - week_start) % 7)
        return first, first + timedelta(days=7)
    if period == "monthly":
        first = d.replace(day=1)
        return first, (first + timedelta(days=32)).replace(day=1)
    return d, d + timedelta(days=1)


def period_label(day: int, period: str, week_start: int = 0) -> str:
    """The label of the period holding `day`: daily `2026-02-11`; weekly its first day
    `2026-02-09`; monthly `2026-02`."""
    first, _after = period_days(day, period, week_start)
    return f"{first.year:04d}-{first.month:02d}" if period == "monthly" else first.isoformat()


def day_indexer(since_ms: int, until_ms: int, tz: tzinfo | None) -> Callable[[int], int]:
    """`local_day` for instants in [since_ms, until_ms), through the same `utc_offsets` segments
    `Store.daily_totals` is given: integer arithmetic per instant instead of a zone lookup."""
    segments = utc_offsets(since_ms, until_ms, tz)
    if len(segments) == 1:
        offset = segments[0][1]
        return lambda ms: (ms + offset) // DAY_MS
    starts = [start for start, _ in segments]
    offsets = [offset for _, offset in segments]
    return lambda ms: (ms + offsets[bisect_right(starts, ms) - 1]) // DAY_MS


def period_labeler(
    period: Period, tz: tzinfo | None, since_ms: int, until_ms: int, week_start: int = 0
) -> Callable[[int], str]:
    """Epoch ms in [since_ms, until_ms) → the label of its local period (`period_label`)."""
    day_of = day_indexer(since_ms, until_ms, tz)
    labels: dict[int, str] = {}

    def label(ms: int) -> str:
        day = day_of(ms)
        found = labels.get(day)
        if found is None:
            found = labels[day] = period_label(day, period, week_start)
        return found

    return label
