"""What every collector entry point shares: decode → canonical records → the ingest queue.

HTTP routes and the gRPC servicers both call into one `CollectorPipeline` per process, so they
share one ingest queue (one writer) and the OTLP joins that span requests: one `OtlpCorrelator`
here, or, with decoder workers (decoders.py), the correlator of each session's worker.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from agent_trace.config import Settings
from agent_trace.domain.limits import LimitError, check, drop_invalid
from agent_trace.domain.records import RecordBatch
from agent_trace.hook.transcript import LineSanitizer
from agent_trace.ingest.deltas import Delta
from agent_trace.ingest.queue import IngestQueue
from agent_trace.server.collector.auth import TokenCheck, UserTokenCheck
from agent_trace.server.collector.decoders import OtlpDecoders
from agent_trace.sources.claude_hook_context import transcript_deltas
from agent_trace.sources.claude_hooks import records_from_hook
from agent_trace.sources.hook_fields import HookPayloadError
from agent_trace.sources.otlp import OtlpCorrelator, OtlpDecodeError, parse_message, parse_request

# How long a request waits for its commit before answering 503 (the write may still land; the
# client's retry then merges into the same records).
COMMIT_TIMEOUT_S = 30.0
PROTOBUF_CONTENT_TYPE = "application/x-protobuf"
# Prepared OTLP records, and the rules the refused records broke (domain/limits.py).
Screened = tuple[RecordBatch, list[str]]


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class HookRejection:
    index: int
    message: str


@dataclass(slots=True)
class HookRecords:
    batch: RecordBatch = field(default_factory=RecordBatch)
    deltas: list[Delta] = field(default_factory=list)
    accepted: int = 0
    rejected: list[HookRejection] = field(default_factory=list)


class CollectorPipeline:
    def __init__(
        self,
        settings: Settings,
        queue: IngestQueue,
        correlator: OtlpCorrelator,
        decoders: OtlpDecoders | None = None,
        user_tokens: UserTokenCheck | None = None,
    ) -> None:
        self.settings = settings
        self.queue = queue
        # Without decoder workers, OTLP is decoded in this process with this correlator; with
        # them, every OTLP export (HTTP and gRPC) goes to the workers, which hold the correlators.
        self.correlator = correlator
        self.decoders = decoders
        # Auth on: personal tokens, and every record is stored as the token's user.
        self.token: TokenCheck | UserTokenCheck = user_tokens or TokenCheck(settings.ingest_token)
        self.max_body_bytes = settings.ingest_max_body_bytes
        self.commit_timeout_s = COMMIT_TIMEOUT_S
        self._line_sanitizer = LineSanitizer(settings.privacy_tier)

    # -- hooks -------------------------------------------------------------------------------

    def hook_records(
        self, payloads: Sequence[Any], received_ms: int, unparsable: Mapping[int, str] | None = None
    ) -> HookRecords:
        """Prepared records of every valid payload; each invalid one is reported by its index.

        `unparsable` names payloads that were not even JSON (NDJSON lines), by index.
        """
        out = HookRecords()
        for index, payload in enumerate(payloads):
            if unparsable and index in unparsable:
                out.rejected.append(HookRejection(index, unparsable[index]))
                continue
            try:
                batch = records_from_hook(payload, received_ms)
                check(batch)
                deltas = transcript_deltas(payload)
            except (HookPayloadError, LimitError) as exc:
                out.rejected.append(HookRejection(index, str(exc)))
                continue
            session_id = payload.get("session_id")
            if deltas and not (isinstance(session_id, str) and session_id):
                # The cursor of a shipped transcript is kept per session.
                out.rejected.append(
                    HookRejection(index, "session_id: required with agent_trace.transcript_delta")
                )
                continue
            out.batch.extend(batch)
            out.deltas.extend(
                Delta(str(session_id), d.path, d.offset, self._sanitize(d.text)) for d in deltas
            )
            out.accepted += 1
        self.queue.prepare(out.batch)
        return out

    def _sanitize(self, text: str) -> str:
        """A shipped transcript delta, each line stripped to the collector's tier and redacted,
        byte length kept (cursors count bytes). The hook handler did this already; a client
        that did not must not get raw transcript bytes into the store, where the parser's
        cursor keeps its carried lines (problem 3 of issue 9)."""
        data = text.encode("utf-8")
        lines = data.split(b"\n")
        clean = [self._line_sanitizer(line) if line.strip() else line for line in lines]
        return b"\n".join(clean).decode("utf-8", errors="replace")

    # -- OTLP --------------------------------------------------------------------------------

    def otlp_batch(self, signal: str, content_type: str, body: bytes, received_ms: int) -> Screened:
        """The prepared records of an OTLP/HTTP body, and the rules the refused ones broke.
        Raises OtlpDecodeError."""
        result = parse_request(
            signal, content_type, body, received_ms=received_ms, correlator=self.correlator
        )
        # Metric points are aggregates over the same calls the logs and spans describe: they are
        # kept as raw events only (see sources/otlp.py), never as extra calls or tokens.
        refused = drop_invalid(result.batch)
        return self.queue.prepare(result.batch), refused

    def otlp_prepared(
        self, signal: str, content_type: str, body: bytes, received_ms: int
    ) -> Future[Screened]:
        """The prepared records of an OTLP body, from a decoder worker (see decoders.py).

        Only with workers; the future raises OtlpDecodeError or DecoderUnavailable."""
        assert self.decoders is not None
        return self.decoders.submit(signal, content_type, body, received_ms)

    def otlp_message(
        self, signal: str, message: Any, received_ms: int, user_id: str | None = None
    ) -> Future[None]:
        """Queue the records of a gRPC Export*ServiceRequest (waits for a decoder worker when
        there are workers), as `user_id`'s when given. Raises OtlpDecodeError, DecoderUnavailable,
        QueueFull, …"""
        if self.decoders is not None:
            body = message.SerializeToString()
            prepared = self.otlp_prepared(signal, PROTOBUF_CONTENT_TYPE, body, received_ms)
            batch, refused = prepared.result(timeout=self.commit_timeout_s)
        else:
            result = parse_message(signal, message, received_ms=received_ms, correlator=self.correlator)
            refused = drop_invalid(result.batch)
            batch = self.queue.prepare(result.batch)
        if refused and not len(batch):
            raise OtlpDecodeError(refused[0])
        if user_id is not None:
            self.token.claim(batch, user_id)
        return self.queue.submit(batch, prepared=True)
