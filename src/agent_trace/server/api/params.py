"""Query parameters → store queries, with 400s that name the parameter and the rule.

Routes declare their parameters for OpenAPI, then hand them here as plain strings: the dashboard's
in-process client parses the very same vocabulary through the very same functions, so the two
ways of reading data cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent_trace.domain.search_text import query_terms
from agent_trace.server.errors import ApiError
from agent_trace.store.port import SEARCH_KINDS, Filters, SearchQuery, SessionQuery

# The orders every Store backend supports for list_sessions (see SessionQuery.sort).
SORT_KEYS = (
    "started",
    "updated",
    "activity",
    "cost",
    "tokens",
    "prompts",
    "tool_calls",
    "duration",
    "user",
    "repo",
)

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
DEFAULT_DAYS = 30
MAX_DAYS = 366 * 3
UTC = ZoneInfo("UTC")


def bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_parameter", f"{field}: {message}", field)


def _text(params: Mapping[str, str], name: str, max_len: int = 500) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if len(value) > max_len:
        raise bad(name, f"at most {max_len} characters")
    return value


def parse_tz(name: str | None, default: str | None) -> tuple[tzinfo, str]:
    """An IANA zone (`Europe/Berlin`, `UTC`); the server's default zone, else UTC."""
    chosen = (name or "").strip() or default or "UTC"
    try:
        return ZoneInfo(chosen), chosen
    except (ZoneInfoNotFoundError, ValueError):
        field = "tz" if name else "settings.timezone"
        raise bad(field, f"{chosen!r} is not a known IANA time zone (e.g. UTC, Europe/Berlin)") from None


def _day(text: str) -> date | None:
    cleaned = text.strip()
    try:
        if len(cleaned) == 8 and cleaned.isdigit():
            return date(int(cleaned[:4]), int(cleaned[4:6]), int(cleaned[6:]))
        if len(cleaned) == 10 and cleaned[4] == "-":
            return date.fromisoformat(cleaned)
    except ValueError:
        return None
    return None


def parse_instant(value: str | None, field: str, tz: tzinfo, *, end: bool) -> int | None:
    """A point in time as epoch ms.

    `2026-02-11` / `20260211` is a local calendar day in `tz`: as `since` it means the start of that
    day, as `until` the end of it (so `since=D&until=D` is the whole day D). An ISO 8601 date-time
    (`2026-02-11T09:30:00Z`, `…+01:00`; without an offset it is read in `tz`) or epoch milliseconds
    (an integer of 11 or more digits) is used as is.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    day = _day(text)
    if day is not None:
        if end:
            day += timedelta(days=1)
        return int(datetime(day.year, day.month, day.day, tzinfo=tz).timestamp() * 1000)
    if text.isdigit() and len(text) >= 11:
        return int(text)
    iso = text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        raise bad(
            field,
            f"{text[:40]!r} is not a date (2026-02-11), an ISO 8601 date-time (2026-02-11T09:30:00Z) "
            "or epoch milliseconds",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return int(moment.timestamp() * 1000)


def parse_filters(params: Mapping[str, str], tz: tzinfo) -> Filters:
    since_ms = parse_instant(params.get("since"), "since", tz, end=False)
    until_ms = parse_instant(params.get("until"), "until", tz, end=True)
    if since_ms is not None and until_ms is not None and until_ms <= since_ms:
        raise bad("until", "must be later than since")
    return Filters(
        since_ms=since_ms,
        until_ms=until_ms,
        project=_text(params, "project"),
        model=_text(params, "model"),
        user=_text(params, "user"),
        agent=_text(params, "agent"),
    )


def parse_limit(value: str | None, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    if value is None or not value.strip():
        return default
    try:
        limit = int(value)
    except ValueError:
        raise bad("limit", f"{value[:20]!r} is not an integer") from None
    if not 1 <= limit <= maximum:
        raise bad("limit", f"must be between 1 and {maximum}")
    return limit


def parse_sort(value: str | None) -> str:
    if value is None or not value.strip():
        return "-started"
    sort = value.strip()
    if sort.lstrip("+-") not in SORT_KEYS or sort.count("-") + sort.count("+") > 1:
        raise bad("sort", f"{sort[:40]!r}: must be one of {', '.join(SORT_KEYS)}, '-' prefix = descending")
    return sort


def parse_session_ids(values: list[str] | None) -> tuple[str, ...]:
    """Repeated `session_id=` parameters, each possibly a comma-separated list."""
    ids: list[str] = []
    for value in values or []:
        ids.extend(part.strip() for part in value.split(",") if part.strip())
    if len(ids) > 1000:
        raise bad("session_id", "at most 1000 session ids")
    if any(len(i) > 200 for i in ids):
        raise bad("session_id", "a session id is at most 200 characters")
    return tuple(dict.fromkeys(ids))


@dataclass(frozen=True, slots=True)
class SessionListParams:
    query: SessionQuery
    tz_name: str


def parse_session_query(
    params: Mapping[str, str], session_ids: list[str] | None, default_tz: str | None
) -> SessionListParams:
    tz, tz_name = parse_tz(params.get("tz"), default_tz)
    cursor = _text(params, "cursor", max_len=2000)
    return SessionListParams(
        SessionQuery(
            filters=parse_filters(params, tz),
            text=_text(params, "q"),
            sort=parse_sort(params.get("sort")),
            limit=parse_limit(params.get("limit")),
            cursor=cursor,
            session_ids=parse_session_ids(session_ids),
        ),
        tz_name,
    )


SEARCH_MAX_LIMIT = 200


def parse_search_query(params: Mapping[str, str], default_tz: str | None) -> SearchQuery:
    """`q` (required, at most 500 characters), `kind` (comma-separated), filters, `limit`."""
    tz, _ = parse_tz(params.get("tz"), default_tz)
    text = _text(params, "q", max_len=500)
    if not text or not query_terms(text):
        raise bad("q", "required: words to search for (letters or digits)")
    kinds = {k.strip() for k in params.get("kind", "").split(",") if k.strip()} or set(SEARCH_KINDS)
    unknown = sorted(kinds - set(SEARCH_KINDS))
    if unknown:
        raise bad("kind", f"{', '.join(unknown)}: must be among {', '.join(SEARCH_KINDS)}")
    return SearchQuery(
        text=text,
        filters=parse_filters({k: v for k, v in params.items() if k != "model"}, tz),
        kinds=frozenset(kinds),
        limit=parse_limit(params.get("limit"), default=50, maximum=SEARCH_MAX_LIMIT),
    )


@dataclass(frozen=True, slots=True)
class DayRange:
    """Whole local days [first, last] in a zone, plus the non-time filters."""

    first: date
    last: date
    tz: tzinfo
    tz_name: str
    filters: Filters  # project / user / agent / model only: the days bound the time


def parse_day_range(params: Mapping[str, str], default_tz: str | None, today: date | None = None) -> DayRange:
    """`since`/`until` as local days (default: the 30 days up to today in `tz`)."""
    tz, tz_name = parse_tz(params.get("tz"), default_tz)
    today = today or datetime.now(tz).date()
    last = today
    if params.get("until"):
        parsed = _day(params["until"])
        if parsed is None:
            raise bad("until", f"{params['until'][:40]!r} is not a date like 2026-02-11")
        last = parsed
    first = last - timedelta(days=DEFAULT_DAYS - 1)
    if params.get("since"):
        parsed = _day(params["since"])
        if parsed is None:
            raise bad("since", f"{params['since'][:40]!r} is not a date like 2026-02-11")
        first = parsed
    if first > last:
        raise bad("until", "must not be before since")
    if (last - first).days + 1 > MAX_DAYS:
        raise bad("since", f"a range covers at most {MAX_DAYS} days")
    base = parse_filters({k: v for k, v in params.items() if k not in ("since", "until")}, tz)
    return DayRange(first, last, tz, tz_name, base)


BREAKDOWNS = ("model", "project", "user")


def parse_breakdown(values: list[str] | None) -> frozenset[str]:
    """`breakdown=project,user` (or repeated): per-day splits beyond the model split."""
    chosen = {"model"}
    for value in values or []:
        chosen.update(part.strip() for part in value.split(",") if part.strip())
    unknown = sorted(chosen - set(BREAKDOWNS))
    if unknown:
        raise bad("breakdown", f"{', '.join(unknown)}: must be among {', '.join(BREAKDOWNS)}")
    return frozenset(chosen)


def parse_last_event_id(value: str | None) -> int | None:
    if value is None or not value.strip():
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 18:
        raise bad("Last-Event-ID", f"{text[:30]!r} is not an event id this stream sent (a change sequence)")
    return int(text)
