"""Usage and cost sums: THE tally behind every report, the replay, the API and the dashboard (pure).

One home for what a usage sum means and how it reads in JSON:
- the token kinds, under the store's names inside (`cache_5m_tokens`) and ONE public name each
  outside (`cache_creation_5m_tokens`, `cache_creation_1h_tokens`), `PUBLIC_TOKEN_NAMES`;
- `total_tokens` = input + output + cache writes + cache reads;
- `cost_usd` is null when every call is of an unpriced model (never 0: 0 would read as free).

Views differ only in what they add around `usage_json()`'s block (counts, breakdowns, reported
cost); the token names, the total and the cost rule are rendered here and nowhere else.
Stdlib only (the CLI's lean report path imports it).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol

from agent_trace.domain.records import NANO_PER_USD

# Store / record names of the token kinds → their one public (JSON) name.
PUBLIC_TOKEN_NAMES = {
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "cache_creation_tokens": "cache_creation_tokens",
    "cache_5m_tokens": "cache_creation_5m_tokens",
    "cache_1h_tokens": "cache_creation_1h_tokens",
    "cache_read_tokens": "cache_read_tokens",
}
TOKEN_KINDS = tuple(PUBLIC_TOKEN_NAMES)
# The same names as constants, for renderings that build their dict in one expression (fast).
_IN, _OUT, _WRITE, _WRITE_5M, _WRITE_1H, _READ = PUBLIC_TOKEN_NAMES.values()


class BilledTokens(Protocol):
    """What `total_tokens` adds up (cache writes as one count)."""

    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cache_creation_tokens(self) -> int: ...
    @property
    def cache_read_tokens(self) -> int: ...


class TokenCounts(BilledTokens, Protocol):
    """Every token kind (Usage, UsageBucket, SessionSummary, a tally)."""

    @property
    def cache_5m_tokens(self) -> int: ...
    @property
    def cache_1h_tokens(self) -> int: ...


def total_tokens(t: BilledTokens) -> int:
    """Every billed token: input + output + cache writes (5m + 1h) + cache reads."""
    return t.input_tokens + t.output_tokens + t.cache_creation_tokens + t.cache_read_tokens


def all_unpriced(calls: int, unpriced_calls: int) -> bool:
    """No call of the sum has a price: its cost is unknown, not zero."""
    return bool(unpriced_calls) and unpriced_calls == calls


def cost_usd(cost_nusd: int, calls: int, unpriced_calls: int) -> float | None:
    """The priced calls' cost in dollars; None when every call is unpriced."""
    return None if all_unpriced(calls, unpriced_calls) else cost_nusd / NANO_PER_USD


def tokens_json(t: TokenCounts, calls: int, cost_nusd: int, unpriced_calls: int) -> dict[str, Any]:
    """The token kinds under their public names, `total_tokens`, `cost_usd`: the block every
    usage object in every answer shares, in this order. Takes any token carrier (a session row
    renders straight from its summary: no tally built per row of a 1,000-row page)."""
    return {
        _IN: t.input_tokens,
        _OUT: t.output_tokens,
        _WRITE: t.cache_creation_tokens,
        _WRITE_5M: t.cache_5m_tokens,
        _WRITE_1H: t.cache_1h_tokens,
        _READ: t.cache_read_tokens,
        "total_tokens": total_tokens(t),
        "cost_usd": cost_usd(cost_nusd, calls, unpriced_calls),
    }


@dataclass(slots=True)
class UsageTally:
    """Sums of LLM calls: counts, token kinds, cost of the priced ones, Claude Code's own figure."""

    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_tokens: int = 0
    cache_5m_tokens: int = 0
    cache_1h_tokens: int = 0
    cache_read_tokens: int = 0
    cost_nusd: int = 0
    unpriced_calls: int = 0
    reported_cost_nusd: int = 0

    @classmethod
    def from_values(cls, values: dict[str, int]) -> UsageTally:
        """From a usage rollup's sums (store.port.ROLLUP_METRICS["usage"]: `calls`, …)."""
        get = values.get
        return cls(
            get("calls", 0),
            get("input_tokens", 0),
            get("output_tokens", 0),
            get("cache_creation_tokens", 0),
            get("cache_5m_tokens", 0),
            get("cache_1h_tokens", 0),
            get("cache_read_tokens", 0),
            get("cost_nusd", 0),
            get("unpriced_calls", 0),
            get("reported_cost_nusd", 0),
        )

    def add_tokens(self, t: TokenCounts) -> None:
        """Add the token kinds of `t` (a Usage, UsageBucket, SessionSummary or tally)."""
        self.input_tokens += t.input_tokens
        self.output_tokens += t.output_tokens
        self.cache_creation_tokens += t.cache_creation_tokens
        self.cache_5m_tokens += t.cache_5m_tokens
        self.cache_1h_tokens += t.cache_1h_tokens
        self.cache_read_tokens += t.cache_read_tokens

    def add_usage(self, t: TokenCounts, calls: int, cost_nusd: int, unpriced_calls: int) -> None:
        self.add_tokens(t)
        self.llm_calls += calls
        self.cost_nusd += cost_nusd
        self.unpriced_calls += unpriced_calls

    def add_call(self, call: dict[str, Any]) -> None:
        """One stored LLM call row (store.port.SessionDetail.llm_calls); calls with no usage
        (a hook saw the call, no channel reported its tokens) count nothing."""
        if not call.get("has_usage"):
            return
        self.llm_calls += 1
        for kind in TOKEN_KINDS:
            setattr(self, kind, getattr(self, kind) + int(call.get(kind) or 0))
        if call.get("cost_nusd") is None:
            self.unpriced_calls += 1
        else:
            self.cost_nusd += int(call["cost_nusd"])
        self.reported_cost_nusd += int(call.get("reported_cost_nusd") or 0)

    def add(self, other: UsageTally) -> None:
        for f in fields(UsageTally):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def total_tokens(self) -> int:
        return total_tokens(self)

    def cost_usd(self) -> float | None:
        return cost_usd(self.cost_nusd, self.llm_calls, self.unpriced_calls)

    def tokens_json(self) -> dict[str, Any]:
        return tokens_json(self, self.llm_calls, self.cost_nusd, self.unpriced_calls)

    def usage_json(self, *, with_nusd: bool = True) -> dict[str, Any]:
        """A range's or a prompt's usage (API models.Usage): calls, the token block, cost in
        nano-dollars too (`with_nusd`), unpriced calls, Claude Code's reported cost (null when none)."""
        out: dict[str, Any] = {"llm_calls": self.llm_calls, **self.tokens_json()}
        if with_nusd:
            out["cost_nusd"] = self.cost_nusd
        out["unpriced_calls"] = self.unpriced_calls
        out["reported_cost_usd"] = self.reported_cost_nusd / NANO_PER_USD if self.reported_cost_nusd else None
        return out


def step_usage_json(call: dict[str, Any]) -> dict[str, int]:
    """One LLM call's token kinds under their public names (a replay step's `usage`)."""
    return {public: int(call.get(kind) or 0) for kind, public in PUBLIC_TOKEN_NAMES.items()}


def step_total_tokens(usage: dict[str, int]) -> int:
    """`total_tokens` of a step's `usage` as rendered (the dashboard shows it per step)."""
    return total_tokens(
        UsageTally(
            input_tokens=usage[_IN],
            output_tokens=usage[_OUT],
            cache_creation_tokens=usage[_WRITE],
            cache_read_tokens=usage[_READ],
        )
    )
