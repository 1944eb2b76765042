"""The one writer: every ingest path hands its records here before they reach a Store.

It prices LLM calls (per call, at list price), fills the developer's identity where a source
does not know it, applies the privacy tier and secret redaction, caps oversized texts, and
writes through the Store's idempotent upserts. The collector's queue and the importer both end
here, so the same record gets the same treatment whichever way it arrived.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from agent_trace.domain.limits import repair
from agent_trace.domain.pricing import FAST, UNPRICED_NO_FAST_PRICE, PriceBook
from agent_trace.domain.privacy import apply_privacy
from agent_trace.domain.records import NO_MODEL_LABEL, RecordBatch
from agent_trace.domain.redaction import redact
from agent_trace.store.port import FileState, RecordWriter

# Generous, but bounded: a 40 MB minified bundle read by the agent should not become a 40 MB row.
MAX_TEXT_CHARS = 1_000_000

log = logging.getLogger("agent_trace.ingest")


def _cap(text: str | None) -> str | None:
    if text is None or len(text) <= MAX_TEXT_CHARS:
        return text
    dropped = len(text) - MAX_TEXT_CHARS
    return text[:MAX_TEXT_CHARS] + f"\n…[agent-trace: {dropped} more characters not stored]"


class Writer:
    def __init__(
        self,
        store: RecordWriter,
        prices: PriceBook,
        privacy_tier: int,
        default_user: str | None = None,
        redactor: Callable[[str], str] = redact,
    ) -> None:
        self.store = store
        self.prices = prices
        self.privacy_tier = privacy_tier
        self.default_user = default_user
        self.redactor = redactor
        # What was unpriced and why: {model (or NO_MODEL_LABEL): reason}, for the import summary.
        self.unpriced: dict[str, str] = {}

    @property
    def unpriced_models(self) -> set[str]:
        return set(self.unpriced)

    def prepare(self, batch: RecordBatch) -> RecordBatch:
        """Check ranges, price, attribute, strip and redact, in place; returns the batch."""
        # The collector refuses out-of-range records at the edge (domain/limits.py); what other
        # paths bring (an imported line dated year 10000) is repaired here, so no stored value
        # can break a read or overflow a column.
        repaired = repair(batch)
        if repaired:
            log.warning("%d field(s) out of range were not stored, e.g. %s", len(repaired), repaired[0])
        for call in batch.llm_calls:
            if call.speed == "normal":
                call.speed = "standard"  # OTLP's word for what transcripts call standard
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
        return batch

    def write(self, batch: RecordBatch, file_states: list[FileState] | None = None) -> None:
        self.store.write(self.prepare(batch), file_states)

    def refresh(self) -> None:
        self.store.refresh_derived()
