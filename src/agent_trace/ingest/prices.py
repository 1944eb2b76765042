"""The user's price file ($AGENT_TRACE_HOME/prices.toml) read into a PriceBook.

The file I/O of pricing lives here; domain/pricing.py parses the text and prices calls.
"""

from __future__ import annotations

from pathlib import Path

from agent_trace.domain.pricing import OverrideEntry, PriceBook, geo_multipliers, parse_override_text


def _text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def load_override_file(path: Path) -> list[OverrideEntry]:
    """The model entries of a price file; none when there is no file."""
    text = _text(path)
    return [] if text is None else parse_override_text(text, where=str(path))


def price_book(override_file: Path) -> PriceBook:
    """Prices from the override file (when present), the bundled rates and genai-prices."""
    text = _text(override_file)
    overrides = [] if text is None else parse_override_text(text, where=str(override_file))
    return PriceBook(overrides, geo=geo_multipliers(text, str(override_file)))
