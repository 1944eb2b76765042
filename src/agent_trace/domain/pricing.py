"""List-price cost of one LLM call, from genai-prices and a local override file (pure: the
override file is read by ingest/prices.py, which hands its text or entries here).

Rules (reference §5): price each request on its own, by the model and the date of its
timestamp; 5-minute and 1-hour cache writes and cache reads have their own rates; when a
request's total input (fresh + cache writes + cache reads) exceeds a long-context threshold,
*all* its tokens use the higher rates. A model with no known price is unpriced (None), never $0.

Money is integer nano-dollars. Rates are integer pico-dollars per token (a price of
$0.0375/MTok is 37,500 pico-dollars per token), so a call's cost is an exact integer sum rounded
once to nano-dollars.

Where the rates come from, first match wins: $AGENT_TRACE_HOME/prices.toml (the user's
override), then the bundled table `anthropic_rates.py` (list prices the genai-prices snapshot
lacks, from Anthropic's published pricing page: fast mode, Sonnet 4's long-context tier), then
genai-prices. Prices never fall back silently: a fast-mode request of a model with no known fast
price is unpriced (with that reason), never priced at the standard rate. `PriceBook.quote` gives
the reason of every unpriced call (`UNPRICED_*` below), which the import summary and reports show.

genai-prices is used only through its bundled snapshot: agent-trace never fetches prices from
the network (nothing leaves the machine).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal

from agent_trace.domain.anthropic_rates import BUNDLED_RATES_TOML
from agent_trace.domain.records import NO_MODEL_LABEL, Usage

PICO_PER_NANO = 1000
_DATE_SUFFIX = re.compile(r"[-@](\d{8})$")
SYNTHETIC_MODEL = "<synthetic>"
FAST = "fast"
STANDARD = "standard"
BUNDLED_RATES_NAME = "anthropic_rates.py"  # where a price-table error in the bundled rates points
# Web search is $10 per 1,000 requests on every Claude model (Anthropic's pricing page).
WEB_SEARCH_USD_PER_1K = 10

# Why a call is unpriced (shown by `import`, `report` and the API). Never a silent $0.
UNPRICED_NO_MODEL = "the record names no model (message.model missing)"
UNPRICED_UNKNOWN_MODEL = "no list price known for this model (add it to prices.toml)"
# usage.inference_geo values priced at the standard rates (absent, default, not reported).
GLOBAL_GEOS = frozenset({None, "", "global", "not_available"})
UNPRICED_UNKNOWN_GEO = (
    "data residency: no price multiplier known for this usage.inference_geo "
    "(add it under [inference_geo] in prices.toml)"
)
UNPRICED_NO_FAST_PRICE = (
    'fast mode (speed "fast"): no fast-mode list price known for this model '
    '(add one to prices.toml with speed = "fast")'
)


class PriceFileError(ValueError):
    """The override file is unusable; the message names the file, the model and the rule."""


@dataclass(frozen=True, slots=True)
class Rates:
    """Pico-dollars per token (and per web-search request)."""

    input: int
    output: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int
    web_search: int = 0


@dataclass(frozen=True, slots=True)
class ModelPricing:
    model_id: str  # the price entry that matched
    source: Literal["genai-prices", "override", "bundled"]
    base: Rates
    # (threshold, rates): when total input > threshold, every token of the request uses `rates`.
    tiers: tuple[tuple[int, Rates], ...] = ()

    def rates_for(self, total_input: int) -> Rates:
        chosen = self.base
        for threshold, rates in self.tiers:
            if total_input > threshold:
                chosen = rates
        return chosen

    def cost_nusd(self, usage: Usage, multiplier: Fraction = Fraction(1)) -> int:
        """`multiplier` scales the token prices (data residency), not web searches."""
        r = self.rates_for(usage.total_input)
        # Cache writes that carry no 5m/1h split are priced at the 5-minute rate, as Claude Code does.
        write_1h = min(usage.cache_1h_tokens, usage.cache_creation_tokens)
        write_5m = usage.cache_creation_tokens - write_1h
        tokens = (
            usage.input_tokens * r.input
            + usage.output_tokens * r.output
            + write_5m * r.cache_write_5m
            + write_1h * r.cache_write_1h
            + usage.cache_read_tokens * r.cache_read
        )
        # Exact: (tokens · n/d + searches) in pico-dollars, rounded half up to nano-dollars once.
        n, d = multiplier.numerator, multiplier.denominator
        scaled = tokens * n + usage.web_search_requests * r.web_search * d
        unit = PICO_PER_NANO * d
        return (scaled + unit // 2) // unit


def _pico_per_token(usd_per_mtok: Decimal | float | int | str) -> int:
    """USD per million tokens → integer pico-dollars per token (exact for ≤ 6 decimals)."""
    return int((Decimal(str(usd_per_mtok)) * 1_000_000).to_integral_value())


def strip_date_suffix(model: str) -> str:
    return _DATE_SUFFIX.sub("", model)


# --- the override file ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OverrideEntry:
    model: str
    since: date | None
    pricing: ModelPricing
    speed: str = STANDARD  # the requests these rates are for: "standard" or "fast"
    until: date | None = None  # exclusive

    def applies(self, day: date, speed: str) -> bool:
        return (
            self.speed == speed
            and (self.since is None or self.since <= day)
            and (self.until is None or day < self.until)
        )


def _rates_from_table(table: Mapping[str, Any], where: str, fallback_input: Any = None) -> Rates:
    def number(key: str, default: Any) -> Decimal:
        value = table.get(key, default)
        if value is None:
            raise PriceFileError(f"{where}: '{key}' is required (USD per million tokens)")
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise PriceFileError(f"{where}: '{key}' must be a number, got {value!r}")
        try:
            parsed = Decimal(str(value))
        except ArithmeticError:
            raise PriceFileError(f"{where}: '{key}' must be a number, got {value!r}") from None
        if parsed < 0:
            raise PriceFileError(f"{where}: '{key}' must not be negative")
        return parsed

    inp = number("input", fallback_input)
    out = number("output", None)
    # Anthropic's documented multipliers when the file gives only input and output.
    write_5m = number("cache_write_5m", inp * Decimal("1.25"))
    write_1h = number("cache_write_1h", inp * 2)
    read = number("cache_read", inp * Decimal("0.1"))
    web_per_1k = number("web_search_per_1k", WEB_SEARCH_USD_PER_1K)
    return Rates(
        input=_pico_per_token(inp),
        output=_pico_per_token(out),
        cache_write_5m=_pico_per_token(write_5m),
        cache_write_1h=_pico_per_token(write_1h),
        cache_read=_pico_per_token(read),
        # $ per 1,000 requests → pico-dollars per request
        web_search=int((web_per_1k * 1_000_000_000).to_integral_value()),
    )


def parse_override_text(
    text: str, where: str = "prices.toml", source: Literal["override", "bundled"] = "override"
) -> list[OverrideEntry]:
    """Parse the override file. Format (USD per million tokens)::

    [models."claude-opus-5-5"]
    input = 4
    output = 20
    cache_write_5m = 5          # default 1.25 × input
    cache_write_1h = 8          # default 2 × input
    cache_read = 0.2            # default 0.1 × input
    long_context_threshold = 200000          # optional
    long_context = { input = 8, output = 30 }  # optional, same keys
    since = 2026-01-01          # optional; use [[models."name"]] for several periods
    until = 2026-06-01          # optional, exclusive
    speed = "fast"              # optional: these are the rates of fast-mode requests
    model = "claude-opus-4-6"   # optional: the model, when the table name is only a label
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PriceFileError(f"{where}: not valid TOML ({exc})") from None
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise PriceFileError(f"{where}: 'models' must be a table of model names")
    entries: list[OverrideEntry] = []
    for name, spec in models.items():
        for index, table in enumerate(spec if isinstance(spec, list) else [spec]):
            label = f"{where}: models.{name}" + (f"[{index}]" if isinstance(spec, list) else "")
            if not isinstance(table, dict):
                raise PriceFileError(f"{label}: must be a table")
            base = _rates_from_table(table, label)
            tiers: tuple[tuple[int, Rates], ...] = ()
            if "long_context" in table or "long_context_threshold" in table:
                threshold = table.get("long_context_threshold", 200_000)
                lc = table.get("long_context")
                if not isinstance(threshold, int) or isinstance(threshold, bool) or threshold <= 0:
                    raise PriceFileError(f"{label}: long_context_threshold must be a positive integer")
                if not isinstance(lc, dict):
                    raise PriceFileError(f"{label}: long_context must be a table of rates")
                tiers = ((threshold, _rates_from_table(lc, f"{label}.long_context")),)
            since = _date_key(table, "since", label)
            until = _date_key(table, "until", label)
            speed = table.get("speed", STANDARD)
            if speed not in (STANDARD, FAST):
                raise PriceFileError(f'{label}: speed must be "standard" or "fast"')
            model = table.get("model", name)
            if not isinstance(model, str) or not model:
                raise PriceFileError(f"{label}: model must be a model name")
            pricing = ModelPricing(model_id=model, source=source, base=base, tiers=tiers)
            entries.append(OverrideEntry(model.lower(), since, pricing, speed, until))
    return entries


def _date_key(table: Mapping[str, Any], key: str, label: str) -> date | None:
    value = table.get(key)
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise PriceFileError(f"{label}: {key} must be a date like 2026-01-01") from None


def load_bundled_rates() -> list[OverrideEntry]:
    """The bundled table of list prices genai-prices lacks (domain/anthropic_rates.py)."""
    return parse_override_text(BUNDLED_RATES_TOML, where=BUNDLED_RATES_NAME, source="bundled")


def parse_geo_multipliers(text: str, where: str) -> dict[str, Fraction]:
    """`[inference_geo]` of a price file: usage.inference_geo value → price multiplier."""
    try:
        table = tomllib.loads(text).get("inference_geo", {})
    except tomllib.TOMLDecodeError as exc:
        raise PriceFileError(f"{where}: not valid TOML ({exc})") from None
    if not isinstance(table, dict):
        raise PriceFileError(f"{where}: inference_geo must be a table of multipliers")
    out: dict[str, Fraction] = {}
    for geo, value in table.items():
        if isinstance(value, bool) or not isinstance(value, int | float | str) or Decimal(str(value)) < 0:
            raise PriceFileError(f"{where}: inference_geo.{geo} must be a non-negative number")
        out[str(geo)] = Fraction(Decimal(str(value)))
    return out


def geo_multipliers(override_text: str | None = None, where: str = "prices.toml") -> dict[str, Fraction]:
    """The bundled multipliers, then those of an override file's text (which win)."""
    out = parse_geo_multipliers(BUNDLED_RATES_TOML, BUNDLED_RATES_NAME)
    if override_text is not None:
        out.update(parse_geo_multipliers(override_text, where))
    return out


# --- genai-prices -----------------------------------------------------------------------------


# The first-party provider of other agents' models, told by the model name (Codex CLI: OpenAI;
# Gemini CLI: Google). A model of no first-party provider in genai-prices (Qwen's own API) stays
# unpriced rather than taking a reseller's price.
_FIRST_PARTY = (
    (("gpt-", "o1", "o3", "o4", "codex-", "chatgpt-"), "openai"),
    (("gemini-", "gemma-"), "google"),
)


def _genai_model(model: str) -> Any:
    """genai-prices' entry for a model name (matching scans every model: cache it): Anthropic's
    first, then the model's first-party provider."""
    import genai_prices.data_snapshot as snapshot_mod  # heavy (~0.2 s): imported only when pricing

    snapshot = snapshot_mod.get_snapshot()
    provider_ids = ["anthropic"]
    bare = model.lower().rsplit("/", 1)[-1]
    provider_ids += [pid for prefixes, pid in _FIRST_PARTY if bare.startswith(prefixes)]
    for provider_id in provider_ids:
        provider = next((p for p in snapshot.providers if p.id == provider_id), None)
        if provider is None:
            continue
        found = provider.find_model(
            bare if provider_id != "anthropic" else model, all_providers=snapshot.providers
        )
        if found is not None:
            return found
    return None


def _genai_pricing(info: Any, when: datetime, fast: bool) -> ModelPricing | None:
    prices = info.get_prices(when, None)
    if fast:
        # genai-prices answers a fast request of a model without fast prices with the standard
        # prices: that is "no fast price known", never a price.
        fast_prices = info.get_prices(when, {"speed": FAST})
        if fast_prices == prices:
            return None
        prices = fast_prices

    def get(key: str) -> Any:
        return prices.__dict__.get(key)

    inp, out = get("input_mtok"), get("output_mtok")
    if inp is None or out is None:
        return None

    def at(value: Any, threshold: int | None) -> Decimal | None:
        """The rate of one price key once total input exceeds `threshold` (None = base rate)."""
        if value is None:
            return None
        if not hasattr(value, "tiers"):
            return Decimal(value)
        chosen = Decimal(value.base)
        if threshold is not None:
            for tier in value.tiers:
                if tier.start <= threshold:
                    chosen = Decimal(tier.price)
        return chosen

    def rates(threshold: int | None) -> Rates:
        i = at(inp, threshold)
        assert i is not None
        o = at(out, threshold)
        assert o is not None
        w5 = at(get("cache_write_mtok"), threshold)
        w1 = at(get("cache_write_1h_mtok"), threshold)
        rd = at(get("cache_read_mtok"), threshold)
        web = get("web_searches_kcount")
        return Rates(
            input=_pico_per_token(i),
            output=_pico_per_token(o),
            cache_write_5m=_pico_per_token(w5 if w5 is not None else i * Decimal("1.25")),
            cache_write_1h=_pico_per_token(w1 if w1 is not None else i * 2),
            cache_read=_pico_per_token(rd if rd is not None else i * Decimal("0.1")),
            web_search=int(
                (
                    Decimal(web if web is not None else WEB_SEARCH_USD_PER_1K) * 1_000_000_000
                ).to_integral_value()
            ),
        )

    thresholds = sorted(
        {tier.start for value in prices.__dict__.values() if hasattr(value, "tiers") for tier in value.tiers}
    )
    tiers = tuple((threshold, rates(threshold)) for threshold in thresholds)
    return ModelPricing(model_id=info.id, source="genai-prices", base=rates(None), tiers=tiers)


# --- the price book ---------------------------------------------------------------------------


class PriceBook:
    """Resolves a model at a date and speed to its prices (or the reason there are none),
    caching per (model, UTC day, speed)."""

    def __init__(
        self,
        overrides: list[OverrideEntry] | None = None,
        use_genai_prices: bool = True,
        bundled: list[OverrideEntry] | None = None,
        geo: dict[str, Fraction] | None = None,
    ) -> None:
        self._overrides = list(overrides or [])
        self._bundled = load_bundled_rates() if bundled is None else bundled
        self._geo = geo_multipliers() if geo is None else geo
        self._use_genai = use_genai_prices
        self._cache: dict[tuple[str, int, str], ModelPricing | str] = {}
        self._models: dict[str, Any] = {}

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its caches (the import's parse worker gets a copy): they refill,
        and the resolved genai-prices models need not pickle."""
        return {**self.__dict__, "_cache": {}, "_models": {}}

    def _override_for(self, model: str, day: date, speed: str) -> ModelPricing | None:
        lowered = model.lower()
        bare = strip_date_suffix(lowered)
        best: OverrideEntry | None = None
        for entry in self._overrides:
            if lowered == entry.model or bare == entry.model or lowered.startswith(entry.model):
                if not entry.applies(day, speed):
                    continue
                if best is None or (len(entry.model), entry.since or date.min) > (
                    len(best.model),
                    best.since or date.min,
                ):
                    best = entry
        return best.pricing if best else None

    def _bundled_for(self, canonical: str, day: date, speed: str) -> ModelPricing | None:
        for entry in self._bundled:
            if entry.model == canonical and entry.applies(day, speed):
                return entry.pricing
        return None

    def _genai_info(self, model: str) -> Any:
        if not self._use_genai:
            return None
        if model not in self._models:
            self._models[model] = _genai_model(model)
        return self._models[model]

    def resolve(self, model: str | None, ts_ms: int | None, speed: str | None = None) -> ModelPricing | str:
        """The prices of a request, or why there are none (one of the UNPRICED_* reasons)."""
        if not model or model == SYNTHETIC_MODEL:
            return UNPRICED_NO_MODEL
        mode = FAST if speed == FAST else STANDARD
        day_index = (ts_ms if ts_ms is not None else 0) // 86_400_000
        key = (model, day_index, mode)
        found = self._cache.get(key)
        if found is None:
            found = self._cache[key] = self._resolve(model, day_index, mode)
        return found

    def _resolve(self, model: str, day_index: int, mode: str) -> ModelPricing | str:
        when = datetime.fromtimestamp(day_index * 86_400, tz=UTC)
        pricing = self._override_for(model, when.date(), mode)
        if pricing is not None:
            return pricing
        info = self._genai_info(model)
        canonical = info.id if info is not None else strip_date_suffix(model.lower())
        pricing = self._bundled_for(canonical, when.date(), mode)
        if pricing is not None:
            return pricing
        if info is not None:
            pricing = _genai_pricing(info, when, mode == FAST)
            if pricing is not None:
                return pricing
        if mode == FAST and not isinstance(self._resolve(model, day_index, STANDARD), str):
            return UNPRICED_NO_FAST_PRICE
        return UNPRICED_UNKNOWN_MODEL

    def pricing_for(
        self, model: str | None, ts_ms: int | None, speed: str | None = None
    ) -> ModelPricing | None:
        found = self.resolve(model, ts_ms, speed)
        return None if isinstance(found, str) else found

    def explain(self, model: str, ts_ms: int | None = None) -> str:
        """Why calls of `model` (a report's name for it: NO_MODEL_LABEL for none) are unpriced.

        Reports keep calls per model, not per speed: a model that has a standard price can only
        have unpriced calls through fast mode (see `_resolve`)."""
        if model in ("", NO_MODEL_LABEL):
            return UNPRICED_NO_MODEL
        when = ts_ms if ts_ms is not None else int(datetime.now(UTC).timestamp() * 1000)
        found = self.resolve(model, when)
        return found if isinstance(found, str) else UNPRICED_NO_FAST_PRICE

    def quote(
        self, model: str | None, ts_ms: int | None, usage: Usage, speed: str | None = None
    ) -> tuple[int | None, str | None]:
        """(cost in nano-dollars, None), or (None, the reason the call is unpriced)."""
        found = self.resolve(model, ts_ms, speed)
        if isinstance(found, str):
            return None, found
        multiplier = Fraction(1)
        if usage.inference_geo not in GLOBAL_GEOS:
            if usage.inference_geo not in self._geo:
                return None, UNPRICED_UNKNOWN_GEO
            multiplier = self._geo[usage.inference_geo]
        return found.cost_nusd(usage, multiplier), None

    def cost_nusd(
        self, model: str | None, ts_ms: int | None, usage: Usage, speed: str | None = None
    ) -> int | None:
        return self.quote(model, ts_ms, usage, speed)[0]
