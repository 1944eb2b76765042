"""Spend per budget, from the same exact per-call costs as every report.

Calendar periods (day, week, month) are summed by the store from its 15-minute usage rollups per
local day of the configured time zone (`Store.daily_totals`, as `report` and the dashboard do), so
"this month" here is the month `agent-trace report --monthly` shows. Per-session periods read the
session's summary (its LLM calls, subagents included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, tzinfo

from agent_trace.domain.budgets import Budget
from agent_trace.hook.budget import project_matches
from agent_trace.server.api.analytics import utc_offsets
from agent_trace.store.port import Filters, SessionQuery, SessionSummary, Store

# Who is in a team. Teams (issue 15) are not on this branch yet: until their store function is
# wired in here, a team has no members and its budgets match nobody (status says so).
TeamMembers = Callable[[Store, str], frozenset[str]]


def team_members(store: Store, team: str) -> frozenset[str]:
    """The user ids of `team`; the one place budgets ask who belongs to a team."""
    from agent_trace.store.identity import IdentityStore

    if not isinstance(store, IdentityStore):  # a store that keeps no accounts has no teams
        return frozenset()
    return frozenset(str(u) for u in store.team_members(team))


def local_zone(tz: tzinfo | None) -> tzinfo:
    """The configured zone, or the system's (reports use the C library's local time for None)."""
    if tz is not None:
        return tz
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local


def period_bounds(period: str, now_ms: int, tz: tzinfo | None, week_start: int = 0) -> tuple[int, int, str]:
    """[start_ms, end_ms) of the calendar period holding `now_ms`, and its key (as `report` labels it)."""
    zone = local_zone(tz)
    today = datetime.fromtimestamp(now_ms / 1000, zone).date()
    if period == "day":
        first, after, key = today, today + timedelta(days=1), today.isoformat()
    elif period == "week":
        first = today - timedelta(days=(today.weekday() - week_start) % 7)
        after, key = first + timedelta(days=7), first.isoformat()
    elif period == "month":
        first = today.replace(day=1)
        after = (first + timedelta(days=32)).replace(day=1)
        key = f"{first.year:04d}-{first.month:02d}"
    else:
        raise ValueError(f"period {period!r} has no calendar bounds")
    return _midnight(first, zone), _midnight(after, zone), key


def _midnight(day: date, zone: tzinfo) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=zone).timestamp() * 1000)


def amount(unit: str, values: dict[str, int]) -> int:
    """What a budget counts: nano-USD, or tokens (input + output + cache writes + cache reads)."""
    if unit == "usd":
        return values.get("cost_nusd", 0)
    return (
        values.get("input_tokens", 0)
        + values.get("output_tokens", 0)
        + values.get("cache_creation_tokens", 0)
        + values.get("cache_read_tokens", 0)
    )


def session_amount(unit: str, s: SessionSummary) -> int:
    if unit == "usd":
        return s.cost_nusd
    return s.input_tokens + s.output_tokens + s.cache_creation_tokens + s.cache_read_tokens


@dataclass
class PeriodSpend:
    """One calendar period's usage sums per (project, user_id)."""

    start_ms: int
    end_ms: int
    key: str
    groups: dict[tuple[str, ...], dict[str, int]] = field(default_factory=dict)


@dataclass
class Snapshot:
    """Everything a budget decision needs, read in one go (the guard answers hooks from it)."""

    computed_ms: int
    budgets: list[Budget]
    periods: dict[str, PeriodSpend]
    members: dict[str, frozenset[str]]  # team name → user ids
    allowed: set[str]  # sessions an admin let through
    seq: int = 0  # the store's last change when the spend was read
    # period_spent per budget id: summed once per snapshot, not on every hook call.
    _spent: dict[str, int] = field(default_factory=dict, repr=False)

    def applies(self, budget: Budget, user: str | None, project: str | None) -> bool:
        kind, name = budget.scope_kind, budget.scope_name
        if kind in ("all", "session"):
            return True
        if kind == "user":
            return user == name
        if kind == "team":
            return user is not None and user in self.members.get(name, frozenset())
        return project_matches(name, project)

    def period_spent(self, budget: Budget) -> int:
        """Spend of a calendar-period budget over its whole scope (every matching group summed)."""
        known = self._spent.get(budget.budget_id)
        if known is not None:
            return known
        spend = self.periods[budget.period]
        total = 0
        for (project, user), values in spend.groups.items():
            if self.applies(budget, user or None, project or None):
                total += amount(budget.unit, values)
        self._spent[budget.budget_id] = total
        return total


def snapshot(
    store: Store,
    tz: tzinfo | None,
    now_ms: int,
    members_of: TeamMembers = team_members,
    previous: Snapshot | None = None,
) -> Snapshot:
    """Budgets and their spend now. A period whose sums cannot have changed since `previous`
    (no store change, same period) is reused, so an idle collector does not re-sum a month of
    rollups every second."""
    seq = store.last_change_seq()
    budgets = store.budgets()
    periods: dict[str, PeriodSpend] = {}
    wanted = {
        p: period_bounds(p, now_ms, tz) for p in sorted({b.period for b in budgets if b.period != "session"})
    }
    for period, (start, end, _key) in wanted.items():
        known = previous.periods.get(period) if previous is not None and previous.seq == seq else None
        if known is not None and (known.start_ms, known.end_ms) == (start, end):
            periods[period] = known
    missing = {p: bounds for p, bounds in wanted.items() if p not in periods}
    if missing:
        periods.update(_period_sums(store, local_zone(tz), missing))
    teams = {b.scope_name for b in budgets if b.scope_kind == "team"}
    return Snapshot(
        computed_ms=now_ms,
        budgets=budgets,
        periods=periods,
        members={t: members_of(store, t) for t in teams},
        allowed=store.allowed_sessions() if budgets else set(),
        seq=seq,
    )


def _period_sums(
    store: Store, zone: tzinfo, wanted: dict[str, tuple[int, int, str]]
) -> dict[str, PeriodSpend]:
    """Day, week and month from ONE store query: usage per local day and (project, user) over
    the span of all of them, summed here into each period (days never straddle a period)."""
    since = min(start for start, _end, _key in wanted.values())
    until = max(end for _start, end, _key in wanted.values())
    offsets = utc_offsets(since, until, zone)
    rows = store.daily_totals(
        "usage", Filters(since_ms=since, until_ms=until), offsets, ("project", "user_id")
    )
    out = {p: PeriodSpend(start, end, key) for p, (start, end, key) in wanted.items()}
    bounds = {p: (_local_day(start, zone), _local_day(end, zone)) for p, (start, end, _key) in wanted.items()}
    for row in rows:
        for period, (first, after) in bounds.items():
            if first <= row.day < after:
                into = out[period].groups.setdefault(row.key, {})
                for name, value in row.values.items():
                    into[name] = into.get(name, 0) + value
    return out


def _local_day(ms: int, zone: tzinfo) -> int:
    """The local day of an instant, numbered as `Store.daily_totals` numbers days."""
    return (datetime.fromtimestamp(ms / 1000, zone).date() - date(1970, 1, 1)).days


# How many of the most recently updated sessions the snapshot holds whatever they spent: a live
# session is among them (every record it sends updates it), and its hook call finds its user and
# project there. Sessions that matter to a per-session budget are held besides, however many and
# however old (`session_floors`).
RECENT_SESSIONS = 500
SESSION_PAGE = 500


def recent_sessions(store: Store, limit: int = RECENT_SESSIONS) -> list[SessionSummary]:
    """The sessions updated most recently."""
    return store.list_sessions(SessionQuery(sort="-updated", limit=limit)).sessions


def session_floors(budgets: list[Budget]) -> dict[str, int]:
    """Per unit, the least a session must have spent for a per-session budget of that unit to
    have crossed a threshold or be spent: below every floor, a session can neither alert nor be
    blocked, so the snapshot need not hold it."""
    floors: dict[str, int] = {}
    for b in budgets:
        if b.period == "session":
            least = min(b.limit, -(-min(b.thresholds) * b.limit // 100))  # crossed: spent*100 >= t*limit
            floors[b.unit] = min(floors.get(b.unit, least), least)
    return floors


def sessions_over(store: Store, unit: str, floor: int) -> list[SessionSummary]:
    """Every session that spent at least `floor` (the store sorts by spend; pages are read until
    one holds a session under the floor)."""
    query = SessionQuery(sort="-cost" if unit == "usd" else "-tokens", limit=SESSION_PAGE)
    out: list[SessionSummary] = []
    while True:
        page = store.list_sessions(query)
        for s in page.sessions:
            if session_amount(unit, s) < floor:
                return out
            out.append(s)
        if page.next_cursor is None:
            return out
        query = replace(query, cursor=page.next_cursor)


def budget_sessions(store: Store, floors: dict[str, int]) -> dict[str, SessionSummary]:
    """The sessions per-session budgets look at, read afresh: the recent ones and every one at
    or above a floor."""
    found = {s.session_id: s for s in recent_sessions(store)}
    for unit, floor in sorted(floors.items()):
        found.update((s.session_id, s) for s in sessions_over(store, unit, floor))
    return found


def keep_sessions(sessions: dict[str, SessionSummary], floors: dict[str, int]) -> dict[str, SessionSummary]:
    """`sessions` without those no budget needs: under every floor and not among the recent ones."""
    if len(sessions) <= RECENT_SESSIONS:
        return sessions
    over = {
        sid: s for sid, s in sessions.items() if any(session_amount(u, s) >= f for u, f in floors.items())
    }
    rest = sorted(
        (s for sid, s in sessions.items() if sid not in over), key=lambda s: s.updated_ms, reverse=True
    )
    return over | {s.session_id: s for s in rest[:RECENT_SESSIONS]}
