"""The one writer: every ingest path hands its records here before they reach a Store.

A Writer is a Preparation (ingest/preparation.py: range checks, prices, identity, privacy tier,
redaction, caps; no I/O) plus the Store's idempotent upserts. The collector's queue and the
importer both end here, so the same record gets the same treatment whichever way it arrived.
Where another process already prepared a batch (the collector's decoders, the import's parse
worker), `write_prepared` only writes.
"""

from __future__ import annotations

from collections.abc import Callable

from agent_trace.domain.pricing import PriceBook
from agent_trace.domain.records import RecordBatch
from agent_trace.domain.redaction import redact
from agent_trace.ingest.preparation import Preparation
from agent_trace.store.port import FileState, RecordWriter


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
        self.preparation = Preparation(prices, privacy_tier, default_user, redactor)

    @property
    def unpriced(self) -> dict[str, str]:
        return self.preparation.unpriced

    @property
    def unpriced_models(self) -> set[str]:
        return self.preparation.unpriced_models

    def prepare(self, batch: RecordBatch) -> RecordBatch:
        return self.preparation.prepare(batch)

    def write(self, batch: RecordBatch, file_states: list[FileState] | None = None) -> None:
        self.store.write(self.preparation.prepare(batch), file_states)

    def write_prepared(self, batch: RecordBatch, file_states: list[FileState] | None = None) -> None:
        """Write a batch a Preparation equal to this one's already went through."""
        self.store.write(batch, file_states)

    def refresh(self) -> None:
        self.store.refresh_derived()
