"""The cost engine: per-request tiers, cache write lifetimes, dates, overrides, unpriced models."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent_trace.domain.pricing import PriceBook, PriceFileError, parse_override_text
from agent_trace.domain.records import Usage
from agent_trace.ingest.prices import load_override_file


def ms(year: int, month: int, day: int) -> int:
    return int(datetime(year, month, day, 12, tzinfo=UTC).timestamp() * 1000)


FEB_2026 = ms(2026, 2, 11)
APR_2026 = ms(2026, 4, 1)


@pytest.fixture(scope="module")
def book() -> PriceBook:
    return PriceBook()


def test_list_prices_per_token_kind(book: PriceBook) -> None:
    # Opus 4.6: input 5, write 5m 6.25, write 1h 10, read 0.5, output 25 (USD per MTok).
    u = Usage(
        input_tokens=1_000_000,
        output_tokens=1_000_000,
        cache_creation_tokens=2_000_000,
        cache_5m_tokens=1_000_000,
        cache_1h_tokens=1_000_000,
        cache_read_tokens=0,
    )
    # Over 200k input → long-context rates before 2026-03-13; so price a small request instead.
    small = Usage(
        input_tokens=1000,
        output_tokens=1000,
        cache_creation_tokens=2000,
        cache_5m_tokens=1000,
        cache_1h_tokens=1000,
        cache_read_tokens=10_000,
    )
    expected = 1000 * 5 + 1000 * 25 + 1000 * 6.25 + 1000 * 10 + 10_000 * 0.5  # micro-dollars
    assert book.cost_nusd("claude-opus-4-6", FEB_2026, small) == int(expected * 1000)
    assert book.cost_nusd("claude-opus-4-6", APR_2026, u) == (5 + 25 + 6.25 + 10) * 1_000_000_000


def test_long_context_applies_to_the_whole_request_and_only_per_request(book: PriceBook) -> None:
    big = Usage(input_tokens=10, output_tokens=1000, cache_read_tokens=250_000)
    small = Usage(input_tokens=10, output_tokens=1000, cache_read_tokens=150_000)
    # Before 2026-03-13 Opus 4.6 over 200k input: 2x input side, 1.5x output for ALL tokens.
    assert book.cost_nusd("claude-opus-4-6", FEB_2026, big) == (10 * 10 + 1000 * 37.5 + 250_000 * 1) * 1000
    assert book.cost_nusd("claude-opus-4-6", FEB_2026, small) == (10 * 5 + 1000 * 25 + 150_000 * 0.5) * 1000
    # Summing first would put both requests over the threshold: per-call pricing is required.
    summed = Usage(input_tokens=20, output_tokens=2000, cache_read_tokens=400_000)
    per_call = book.cost_nusd("claude-opus-4-6", FEB_2026, big) + book.cost_nusd(
        "claude-opus-4-6", FEB_2026, small
    )  # type: ignore[operator]
    assert book.cost_nusd("claude-opus-4-6", FEB_2026, summed) != per_call
    # From 2026-03-13 the 1M context is flat-priced.
    assert book.cost_nusd("claude-opus-4-6", APR_2026, big) == (10 * 5 + 1000 * 25 + 250_000 * 0.5) * 1000


def test_cache_writes_without_a_split_are_five_minute(book: PriceBook) -> None:
    u = Usage(cache_creation_tokens=1000)
    assert book.cost_nusd("claude-sonnet-4-5-20250929", FEB_2026, u) == 1000 * 3.75 * 1000


def test_dated_model_names_and_unknown_models(book: PriceBook) -> None:
    assert book.pricing_for("claude-haiku-4-5-20251001", FEB_2026) is not None
    assert book.cost_nusd("claude-imaginary-9", FEB_2026, Usage(input_tokens=5)) is None
    assert book.cost_nusd("<synthetic>", FEB_2026, Usage()) is None
    assert book.cost_nusd(None, FEB_2026, Usage()) is None


def test_web_search_requests_cost_ten_dollars_per_thousand(book: PriceBook) -> None:
    assert book.cost_nusd("claude-opus-4-6", APR_2026, Usage(web_search_requests=3)) == 30_000_000


def test_fast_speed_uses_the_fast_variant(book: PriceBook) -> None:
    normal = book.cost_nusd("claude-opus-4-8", APR_2026, Usage(input_tokens=1_000_000))
    fast = book.cost_nusd("claude-opus-4-8", APR_2026, Usage(input_tokens=1_000_000), speed="fast")
    assert normal == 5_000_000_000 and fast == 10_000_000_000


def test_override_file_prices_unknown_and_negotiated_models(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(
        """
[models."claude-imaginary-9"]
input = 2
output = 10

[[models."claude-opus-4-6"]]
input = 4
output = 20
since = 2026-03-01
long_context_threshold = 200000
long_context = { input = 8, output = 30 }
"""
    )
    book = PriceBook(load_override_file(path))
    # Defaults: write 5m 1.25x, write 1h 2x, read 0.1x input.
    u = Usage(
        input_tokens=1000,
        cache_creation_tokens=2000,
        cache_5m_tokens=1000,
        cache_1h_tokens=1000,
        cache_read_tokens=1000,
    )
    assert (
        book.cost_nusd("claude-imaginary-9-20260101", FEB_2026, u)
        == (1000 * 2 + 1000 * 2.5 + 1000 * 4 + 1000 * 0.2) * 1000
    )
    # The negotiated price applies from its date; before it, genai-prices' list price.
    assert book.pricing_for("claude-opus-4-6", APR_2026).source == "override"  # type: ignore[union-attr]
    assert book.pricing_for("claude-opus-4-6", FEB_2026).source == "genai-prices"  # type: ignore[union-attr]
    big = Usage(input_tokens=250_000)
    assert book.cost_nusd("claude-opus-4-6", APR_2026, big) == 250_000 * 8 * 1000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[models.x]\noutput = 1\n", "'input' is required"),
        ("[models.x]\ninput = 'a'\noutput = 1\n", "must be a number"),
        ("[models.x]\ninput = -1\noutput = 1\n", "must not be negative"),
        ("[models.x]\ninput = 1\noutput = 1\nsince = 'soon'\n", "since must be a date"),
        ("[models.x\n", "not valid TOML"),
        ("[models.x]\ninput = 1\noutput = 1\nlong_context_threshold = 5\n", "long_context must be a table"),
    ],
)
def test_override_file_errors_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(PriceFileError, match=message):
        parse_override_text(text)


def test_spotter_total_at_list_prices(corpus: Path) -> None:
    """$51.70 for all 20 files (the reference's oracle), priced call by call."""
    from tests.sources.test_claude_transcript import merged_calls, parse_files

    files = sorted(str(p) for p in (corpus / "spotter").rglob("*.jsonl"))
    calls = merged_calls(parse_files(files))
    book = PriceBook()
    total = sum(book.cost_nusd(c.model, c.ts_ms, c.usage, c.speed) or 0 for c in calls.values())
    assert round(total / 1e9, 2) == 51.70
