"""Budgets: a limit on spend (exact USD or tokens) for a scope and a period, and what crossing it means.

Pure values and parsing, no I/O. Spend itself is counted elsewhere (`budgets.spend`) from the same
per-call costs as every report.

    scope   all | user:NAME | team:NAME | project:NAME | session
    period  day | week | month | session     (calendar periods in the configured time zone)
    limit   USD (kept as nano-USD, like every cost) or tokens (input + output + cache writes + reads)
    mode    warn (default: a message, the agent goes on) | block (refuse prompts and tool calls)

A budget's id is `<scope>/<period>/<unit>`: setting the same scope, period and unit again replaces
the budget (raising a limit is `set` with a higher number). `scope session` means each session on
its own, so its period is always `session`; `period session` with another scope means each
session of that scope on its own (e.g. no single session of user:ana above $5).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from agent_trace.domain.records import NANO_PER_USD

PERIODS = ("day", "week", "month", "session")
MODES = ("warn", "block")
DEFAULT_THRESHOLDS = (50, 80, 100)

# Limits fit a signed 64-bit column with room to spare.
MAX_USD = 1_000_000_000
MAX_TOKENS = 10**15


class BudgetError(ValueError):
    """A budget field that cannot be used; the message names the field and the rule."""


@dataclass(frozen=True, slots=True)
class Budget:
    scope: str  # "all", "user:ana", "team:web", "project:api", "session"
    period: str
    unit: str  # "usd" | "tokens"
    limit: int  # nano-USD for usd, tokens for tokens
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS
    mode: str = "warn"
    updated_ms: int = 0

    @property
    def budget_id(self) -> str:
        return budget_id(self.scope, self.period, self.unit)

    @property
    def scope_kind(self) -> str:
        return self.scope.split(":", 1)[0]

    @property
    def scope_name(self) -> str:
        return self.scope.split(":", 1)[1] if ":" in self.scope else ""

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.budget_id,
            "scope": self.scope,
            "period": self.period,
            "unit": self.unit,
            "limit": format_amount(self.unit, self.limit, exact=True),
            "limit_raw": self.limit,
            "thresholds": list(self.thresholds),
            "mode": self.mode,
            "updated_ms": self.updated_ms,
        }


def budget_id(scope: str, period: str, unit: str) -> str:
    return f"{scope}/{period}/{unit}"


MAX_SCOPE_NAME = 1024  # a project path can be long; a user or team name is far shorter


def parse_scope(text: str) -> str:
    """`all`, `session`, or `user:|team:|project:` followed by a name; returns the normal form."""
    cleaned = text.strip()
    kind, sep, name = cleaned.partition(":")
    kind = kind.lower()
    if kind in ("all", "session") and not sep:
        return kind
    if kind in ("user", "team", "project") and sep and name.strip():
        # Names are echoed by the CLI, status and alert e-mails: no control characters or bidi
        # overrides (str.isprintable is False for both), and no more than an id's length.
        if not name.strip().isprintable() or len(name.strip()) > MAX_SCOPE_NAME:
            raise BudgetError(
                f"scope {text!r}: the name must be printable text of at most {MAX_SCOPE_NAME} characters"
            )
        return f"{kind}:{name.strip()}"
    raise BudgetError(f"scope {text!r}: expected all, session, user:NAME, team:NAME or project:NAME")


def parse_period(text: str, scope: str) -> str:
    period = text.strip().lower()
    if period not in PERIODS:
        raise BudgetError(f"period {text!r}: expected one of {', '.join(PERIODS)}")
    if scope == "session" and period != "session":
        raise BudgetError("scope session: each session is its own period, so --period must be session")
    return period


def parse_mode(text: str) -> str:
    mode = text.strip().lower()
    if mode not in MODES:
        raise BudgetError(f"mode {text!r}: expected warn or block")
    return mode


def parse_usd(text: str) -> int:
    """`12.50` or `$12.50` → nano-USD, exactly (no float)."""
    cleaned = text.strip().lstrip("$").strip()
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise BudgetError(f"--usd {text!r}: expected an amount like 25 or 12.50") from None
    if not value.is_finite() or value <= 0:
        raise BudgetError(f"--usd {text!r}: must be more than 0")
    if value > MAX_USD:
        raise BudgetError(f"--usd {text!r}: at most {MAX_USD:,}")
    nusd = value * NANO_PER_USD
    if nusd != nusd.to_integral_value():
        raise BudgetError(f"--usd {text!r}: at most 9 decimal places")
    return int(nusd)


def parse_tokens(text: str) -> int:
    """`2000000`, `2_000_000`, `2000k` or `2m` → tokens."""
    cleaned = text.strip().lower().replace("_", "").replace(",", "")
    factor = 1
    if cleaned.endswith(("k", "m")):
        factor = 1_000 if cleaned.endswith("k") else 1_000_000
        cleaned = cleaned[:-1]
    try:
        value = Decimal(cleaned) * factor
    except InvalidOperation:
        raise BudgetError(f"--tokens {text!r}: expected a count like 2000000 or 2m") from None
    if not value.is_finite() or value <= 0 or value != value.to_integral_value():
        raise BudgetError(f"--tokens {text!r}: must be a whole number more than 0")
    if value > MAX_TOKENS:
        raise BudgetError(f"--tokens {text!r}: at most {MAX_TOKENS:,}")
    return int(value)


def parse_thresholds(text: str) -> tuple[int, ...]:
    """`50,80,100` → (50, 80, 100): whole percentages, sorted, each once."""
    values: set[int] = set()
    for part in text.split(","):
        if not part.strip():
            continue
        try:
            value = int(part.strip().rstrip("%"))
        except ValueError:
            raise BudgetError(f"--thresholds {text!r}: expected percentages like 50,80,100") from None
        if not 1 <= value <= 1000:
            raise BudgetError(f"--thresholds {text!r}: each between 1 and 1000 (percent)")
        values.add(value)
    if not values:
        raise BudgetError(f"--thresholds {text!r}: at least one percentage")
    return tuple(sorted(values))


def make_budget(
    scope: str,
    period: str | None,
    *,
    usd: str | None = None,
    tokens: str | None = None,
    thresholds: str | None = None,
    mode: str | None = None,
    updated_ms: int = 0,
) -> Budget:
    """A budget from what a user typed (CLI flags or an API body); BudgetError names what is wrong."""
    normal_scope = parse_scope(scope)
    normal_period = parse_period(
        period or ("session" if normal_scope == "session" else "month"), normal_scope
    )
    if (usd is None) == (tokens is None):
        raise BudgetError("give exactly one limit: --usd N or --tokens N")
    unit, limit = ("usd", parse_usd(usd)) if usd is not None else ("tokens", parse_tokens(str(tokens)))
    return Budget(
        scope=normal_scope,
        period=normal_period,
        unit=unit,
        limit=limit,
        thresholds=parse_thresholds(thresholds) if thresholds else DEFAULT_THRESHOLDS,
        mode=parse_mode(mode) if mode else "warn",
        updated_ms=updated_ms,
    )


def format_amount(unit: str, value: int, *, exact: bool = False) -> str:
    """`$12.50` (cents; every digit with `exact` or under a cent) or `1,234,567 tokens`."""
    if unit == "tokens":
        return f"{value:,} tokens"
    usd = Decimal(value) / NANO_PER_USD
    if exact or 0 < value < NANO_PER_USD // 100:  # under a cent: every digit, not "$0.00"
        text = format(usd.normalize(), "f")
        whole, _, frac = text.partition(".")
        return f"${whole}.{(frac + '00')[: max(2, len(frac))]}"
    return f"${usd.quantize(Decimal('0.01')):,}"


def percent(spent: int, limit: int) -> int:
    """Whole percent of the limit spent, rounded down (100 only once the limit is reached)."""
    return spent * 100 // limit if limit > 0 else 0


def crossed_thresholds(budget: Budget, spent: int) -> tuple[int, ...]:
    return tuple(t for t in budget.thresholds if spent * 100 >= t * budget.limit)


def exhausted(budget: Budget, spent: int) -> bool:
    return spent >= budget.limit


def period_label(budget: Budget, period_key: str) -> str:
    """`this month (2026-12)`, `this session` … for messages."""
    if budget.period == "session":
        return "this session"
    return f"this {budget.period} ({period_key})"


def refusal_message(budget: Budget, spent: int, period_key: str, contact: str) -> str:
    """What the developer (and Claude) read when a budget stops or warns them."""
    verb = "is spent" if exhausted(budget, spent) else f"is at {percent(spent, budget.limit)}%"
    head = "blocked" if budget.mode == "block" and exhausted(budget, spent) else "warning"
    return (
        f"agent-trace budget {head}: {budget.scope} {budget.unit.upper()} budget for "
        f"{period_label(budget, period_key)} {verb}: {format_amount(budget.unit, spent)} of "
        f"{format_amount(budget.unit, budget.limit)}. To raise it: {contact}."
    )


# -- alerts ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BudgetAlert:
    """A threshold crossed: once per budget, period (its key, e.g. `2026-12`) and subject."""

    budget_id: str
    period_key: str  # `2026-12-04`, `2026-11-30` (week start), `2026-12`, or the session id
    subject: str  # the session id for per-session periods, else ''
    threshold: int  # percent
    spent: int
    limit: int
    message: str
    crossed_ms: int

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.budget_id, self.period_key, self.subject, self.threshold)


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """One alert sent (or being sent) through one channel."""

    budget_id: str
    period_key: str
    subject: str
    threshold: int
    channel: str
    status: str  # pending | sending | sent | failed
    attempts: int
    last_error: str | None
    next_attempt_ms: int
    updated_ms: int

    @property
    def alert_key(self) -> tuple[str, str, str, int]:
        return (self.budget_id, self.period_key, self.subject, self.threshold)
