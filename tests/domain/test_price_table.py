"""The price table: every Claude model of the price source and the bundled rates, priced from list
prices written here (USD per million tokens, Anthropic's pricing page; the genai-prices-only
models as in its snapshot), never from the code under test.

Each model is priced one request at and one above each long-context threshold, standard and
fast, with 5-minute and with 1-hour cache writes, and with web searches, on a date before and
after 2026-03-13 (when Opus 4.6 and Sonnet 4.6 dropped their long-context tier).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from agent_trace.domain.pricing import UNPRICED_NO_FAST_PRICE, PriceBook
from agent_trace.domain.records import Usage

Rates = tuple[str, str, str, str, str]  # input, cache write 5m, cache write 1h, cache read, output


def scaled(rates: Rates, factor: str) -> Rates:
    f = Decimal(factor)
    return tuple(str(Decimal(r) * f) for r in rates)  # type: ignore[return-value]


# Standard list prices.
STANDARD: dict[str, Rates] = {
    "claude-v1": ("8", "10", "16", "0.8", "24"),  # no cache prices listed: Anthropic's multipliers
    "claude-2": ("8", "10", "16", "0.8", "24"),
    "claude-3-haiku-20240307": ("0.25", "0.30", "0.50", "0.03", "1.25"),
    "claude-3-sonnet-20240229": ("3", "3.75", "6", "0.30", "15"),
    "claude-3-opus-20240229": ("15", "18.75", "30", "1.50", "75"),
    "claude-3-5-haiku-20241022": ("0.80", "1", "1.6", "0.08", "4"),
    "claude-3-5-sonnet-20241022": ("3", "3.75", "6", "0.30", "15"),
    "claude-3-7-sonnet-20250219": ("3", "3.75", "6", "0.30", "15"),
    "claude-opus-4-20250514": ("15", "18.75", "30", "1.50", "75"),
    "claude-opus-4-1-20250805": ("15", "18.75", "30", "1.50", "75"),
    "claude-sonnet-4-20250514": ("3", "3.75", "6", "0.30", "15"),
    "claude-sonnet-4-5-20250929": ("3", "3.75", "6", "0.30", "15"),
    "claude-haiku-4-5-20251001": ("1", "1.25", "2", "0.10", "5"),
    "claude-opus-4-5-20251101": ("5", "6.25", "10", "0.50", "25"),
    "claude-opus-4-6": ("5", "6.25", "10", "0.50", "25"),
    "claude-sonnet-4-6": ("3", "3.75", "6", "0.30", "15"),
    "claude-opus-4-7": ("5", "6.25", "10", "0.50", "25"),
    "claude-opus-4-8": ("5", "6.25", "10", "0.50", "25"),
    "claude-opus-5": ("5", "6.25", "10", "0.50", "25"),
    "claude-opus-5-5": ("4", "5", "8", "0.20", "20"),
    "claude-sonnet-5": ("2", "2.50", "4", "0.20", "10"),
    "claude-sonnet-5-5": ("2", "2.50", "4", "0.10", "10"),
    "claude-haiku-5-5": ("0.10", "0.125", "0.20", "0.01", "0.50"),
    "claude-fable-5": ("10", "12.5", "20", "1", "50"),
    "claude-fable-5-1": ("10", "12.5", "20", "0.25", "50"),
    "claude-fable-5-2": ("8", "10", "16", "0.20", "40"),
    "claude-mythos-5-2": ("8", "10", "16", "0.20", "40"),
}

# Long-context tiers: (threshold on total input, rates for every token of the request, last day).
LONG = ("6", "7.50", "12", "0.60", "22.50")
TIERS: dict[str, tuple[int, Rates, date | None]] = {
    "claude-sonnet-4-20250514": (200_000, LONG, None),  # bundled: genai-prices lacks it
    "claude-sonnet-4-5-20250929": (200_000, LONG, None),
    "claude-sonnet-4-6": (200_000, LONG, date(2026, 3, 13)),
    "claude-opus-4-6": (200_000, ("10", "12.50", "20", "1", "37.50"), date(2026, 3, 13)),
    "claude-haiku-5-5": (100_000, ("0.50", "0.625", "1", "0.05", "2.50"), None),
}

# Fast mode: one rate across the full context window, prompt-caching multipliers on top.
FAST: dict[str, Rates] = {
    "claude-opus-4-6": ("30", "37.50", "60", "3", "150"),  # bundled (6x)
    "claude-opus-4-7": ("30", "37.50", "60", "3", "150"),  # bundled (6x)
    "claude-opus-4-8": scaled(STANDARD["claude-opus-4-8"], "2"),
    "claude-opus-5": scaled(STANDARD["claude-opus-5"], "2"),
    "claude-opus-5-5": scaled(STANDARD["claude-opus-5-5"], "2"),
    "claude-fable-5-2": scaled(STANDARD["claude-fable-5-2"], "2"),
    "claude-mythos-5-2": scaled(STANDARD["claude-mythos-5-2"], "2"),
}
WEB_SEARCH_PER_1K = Decimal(10)

DAYS = {"2026-02-11": date(2026, 2, 11), "2026-04-01": date(2026, 4, 1)}


def ms(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 12, tzinfo=UTC).timestamp() * 1000)


def expected_nusd(rates: Rates, u: Usage) -> int:
    inp, w5, w1, read, out = (Decimal(r) for r in rates)
    usd = (
        u.input_tokens * inp
        + u.cache_5m_tokens * w5
        + u.cache_1h_tokens * w1
        + u.cache_read_tokens * read
        + u.output_tokens * out
    ) / 1_000_000 + u.web_search_requests * WEB_SEARCH_PER_1K / 1000
    return int((usd * 1_000_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def request(total_input: int, write: str, searches: int) -> Usage:
    """1,234 fresh input, 3,000 cache writes of one lifetime, the rest cache reads."""
    writes = 3000
    return Usage(
        input_tokens=1234,
        output_tokens=4321,
        cache_creation_tokens=writes,
        cache_5m_tokens=writes if write == "5m" else 0,
        cache_1h_tokens=writes if write == "1h" else 0,
        cache_read_tokens=total_input - 1234 - writes,
        web_search_requests=searches,
    )


def cases() -> list[tuple[str, str, str, int, str, int]]:
    out = []
    for model in STANDARD:
        thresholds = {TIERS[model][0]} if model in TIERS else {200_000}
        for day in DAYS:
            for speed in ("standard", "fast"):
                for threshold in sorted(thresholds):
                    for size in (threshold, threshold + 1):  # at the threshold, and above it
                        for write in ("5m", "1h"):
                            out.append((model, day, speed, size, write, 0))
                out.append((model, day, speed, 50_000, "5m", 3))  # web search
    return out


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


@pytest.mark.parametrize(("model", "day", "speed", "total_input", "write", "searches"), cases())
def test_list_price(
    book: PriceBook, model: str, day: str, speed: str, total_input: int, write: str, searches: int
) -> None:
    when = DAYS[day]
    u = request(total_input, write, searches)
    assert u.total_input == total_input
    cost, reason = book.quote(model, ms(when), u, speed)
    if speed == "fast":
        if model not in FAST:
            assert (cost, reason) == (None, UNPRICED_NO_FAST_PRICE)
            return
        rates = FAST[model]
    else:
        rates = STANDARD[model]
        tier = TIERS.get(model)
        if tier is not None and total_input > tier[0] and (tier[2] is None or when < tier[2]):
            rates = tier[1]
    assert reason is None
    assert cost == expected_nusd(rates, u)


def test_every_claude_model_of_the_price_source_is_in_the_table() -> None:
    import genai_prices.data_snapshot as snapshot_mod

    snapshot = snapshot_mod.get_snapshot()
    provider = next(p for p in snapshot.providers if p.id == "anthropic")
    book = PriceBook()
    covered = {book.pricing_for(m, ms(DAYS["2026-04-01"])).model_id for m in STANDARD}  # type: ignore[union-attr]
    claude = {m.id for m in provider.models if m.id.startswith("claude")}
    assert claude <= covered


def test_the_issue_examples() -> None:
    book = PriceBook()
    # Fast Opus 4.6, 100k input + 10k output: $4.50, not the standard $0.75.
    fast = Usage(input_tokens=100_000, output_tokens=10_000)
    assert book.cost_nusd("claude-opus-4-6", ms(date(2026, 2, 11)), fast, "fast") == 4_500_000_000
    # Sonnet 4 over 200k input: every token at the long-context rate.
    big = Usage(input_tokens=250_000, output_tokens=10_000)
    assert (
        book.cost_nusd("claude-sonnet-4-20250514", ms(date(2025, 9, 1)), big)
        == (250_000 * 6 + 10_000 * 22_500_000 // 1_000_000) * 1000
    )


@pytest.mark.parametrize("model", ["claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-5-5"])
def test_us_only_inference_costs_a_tenth_more_on_tokens_not_searches(book: PriceBook, model: str) -> None:
    u = request(50_000, "1h", 3)
    us = Usage(**{**{f: getattr(u, f) for f in u.__slots__}, "inference_geo": "us"})  # type: ignore[attr-defined]
    inp, _w5, w1, read, out = (Decimal(r) for r in STANDARD[model])
    tokens_usd = (
        u.input_tokens * inp + u.cache_1h_tokens * w1 + u.cache_read_tokens * read + u.output_tokens * out
    ) / 1_000_000
    usd = tokens_usd * Decimal("1.1") + 3 * WEB_SEARCH_PER_1K / 1000
    expected = int((usd * 1_000_000_000).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert book.quote(model, ms(DAYS["2026-04-01"]), us) == (expected, None)
    global_ = Usage(**{**{f: getattr(u, f) for f in u.__slots__}, "inference_geo": "global"})  # type: ignore[attr-defined]
    assert book.quote(model, ms(DAYS["2026-04-01"]), global_) == (expected_nusd(STANDARD[model], u), None)


def test_an_unknown_inference_geo_is_unpriced_with_its_reason(book: PriceBook) -> None:
    from agent_trace.domain.pricing import UNPRICED_UNKNOWN_GEO

    u = Usage(input_tokens=10, inference_geo="mars")
    assert book.quote("claude-opus-4-6", ms(DAYS["2026-04-01"]), u) == (None, UNPRICED_UNKNOWN_GEO)
