"""What every record goes through before it is stored, without any I/O.

It checks ranges, prices LLM calls (per call, at list price), fills the developer's identity
where a source does not know it, applies the privacy tier and secret redaction, and caps
oversized texts. Pure and picklable: the collector's decoder processes and the import's parse
worker run it on their own copy, so the process that holds the store only writes SQL
(`ingest.writer.Writer` = a Preparation + the store write).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from agent_trace.domain.limits import repair
from agent_trace.domain.pricing import FAST, UNPRICED_NO_FAST_PRICE, PriceBook
from agent_trace.domain.privacy import apply_privacy
from agent_trace.domain.records import NO_MODEL_LABEL, RecordBatch
from agent_trace.domain.redaction import redact

# Generous, but bounded: a 40 MB minified bundle read by the agent should not become a 40 MB row.
MAX_TEXT_CHARS = 1_000_000

log = logging.getLogger("agent_trace.ingest")


def _cap(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT_CHARS:
        return text
    dropped = len(text) - MAX_TEXT_CHARS
    return text[:MAX_TEXT_CHARS] + f"\n…[agent-trace: {dropped} more characters not stored]"


def warn_repaired(repaired: list[str]) -> None:
    """Log what `repair` changed (in the process that reports, whichever process prepared)."""
    if repaired:
        log.warning("%d field(s) out of range were not stored, e.g. %s", len(repaired), repaired[0])


class Preparation:
    def __init__(
        self,
        prices: PriceBook,
        privacy_tier: int,
        default_user: str | None = None,
        redactor: Callable[[str], str] = redact,
    ) -> None:
        self.prices = prices
        self.privacy_tier = privacy_tier
        self.default_user = default_user
        self.redactor = redactor  # module-level functions pickle by name
        # What was unpriced and why: {model (or NO_MODEL_LABEL): reason}, for the import summary.
        self.unpriced: dict[str, str] = {}

    @property
    def unpriced_models(self) -> set[str]:
        return set(self.unpriced)

    def prepare(self, batch: RecordBatch) -> RecordBatch:
        """Check ranges, price, attribute, strip and redact, in place; returns the batch."""
        warn_repaired(self.prepare_quietly(batch))
        return batch

    def prepare_quietly(self, batch: RecordBatch) -> list[str]:
        """`prepare`, returning what was repaired instead of logging it (a worker process hands
        that to the importing process, which logs it)."""
        # The collector refuses out-of-range records at the edge (domain/limits.py); what other
        # paths bring (an imported line dated year 10000) is repaired here, so no stored value
        # can break a read or overflow a column.
        repaired = repair(batch)
        for call in batch.llm_calls:
            if call.usage is not None and call.cost_nusd is None:
                call.cost_nusd, reason = self.prices.quote(call.model, call.ts_ms, call.usage, call.speed)
                call.unpriced_reason = reason
                if reason is not None:
                    label = call.model or NO_MODEL_LABEL
                    if call.speed == FAST and reason == UNPRICED_NO_FAST_PRICE:
                        label += " (fast)"
                    self.unpriced[label] = reason
        if self.default_user:
            for session in batch.sessions:
                if session.user_id is None:
                    session.user_id = self.default_user
        apply_privacy(batch, self.privacy_tier, self.redactor)
        for prompt in batch.prompts:
            prompt.text = _cap(prompt.text)
        for call in batch.llm_calls:
            call.response_text = _cap(call.response_text)
            call.thinking = _cap(call.thinking)
        for tool in batch.tool_calls:
            tool.input_json = _cap(tool.input_json)
            tool.output_text = _cap(tool.output_text)
            tool.error = _cap(tool.error)
        return repaired
