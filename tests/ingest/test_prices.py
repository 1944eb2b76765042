"""ingest/prices.py reads $AGENT_TRACE_HOME/prices.toml into a PriceBook: its models and its
[inference_geo] multipliers; no file means the built-in prices."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_trace.domain.pricing import PriceBook, PriceFileError
from agent_trace.domain.records import Usage
from agent_trace.ingest.prices import price_book

FEB_2026 = 1_770_768_000_000


def test_models_and_geo_multipliers_come_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text('[models."claude-imaginary-9"]\ninput = 2\noutput = 10\n\n[inference_geo]\neu = 1.5\n')
    book = price_book(path)
    assert book.cost_nusd("claude-imaginary-9", FEB_2026, Usage(input_tokens=1000)) == 2000 * 1000
    cost, reason = book.quote("claude-imaginary-9", FEB_2026, Usage(input_tokens=1000, inference_geo="eu"))
    assert (cost, reason) == (3000 * 1000, None)


def test_no_file_is_the_built_in_prices(tmp_path: Path) -> None:
    usage = Usage(input_tokens=1000, output_tokens=10, inference_geo="us")
    missing = price_book(tmp_path / "prices.toml")
    assert missing.quote("claude-opus-4-6", FEB_2026, usage) == PriceBook().quote(
        "claude-opus-4-6", FEB_2026, usage
    )
    assert missing.quote("claude-imaginary-9", FEB_2026, usage)[0] is None


def test_a_bad_file_names_itself(tmp_path: Path) -> None:
    path = tmp_path / "prices.toml"
    path.write_text("[inference_geo]\neu = -1\n")
    with pytest.raises(PriceFileError, match=str(path)):
        price_book(path)
