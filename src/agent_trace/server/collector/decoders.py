"""OTLP decoding on worker processes, sharded by session, so the collector uses more than one core.

Decoding an OTLP export and preparing its records (privacy tier, secret redaction of every raw
payload) is pure Python and costs about 50 µs per log record: under the GIL one process tops out
near 13,000 records/s on this project's 2-core reference machine. Here each export is decoded
and prepared by one of `workers` processes; the collector process keeps HTTP, gRPC and the
writer, and receives prepared records.

The OTLP source joins halves of a fact that arrive in different requests (an interaction span and
its user_prompt log; a subagent and the Agent call that started it) in an `OtlpCorrelator`, which
must see both halves. Both halves carry the same `session.id`, so exports are routed by the
session id found in their body (a byte search, no decoding): all of a session's exports meet the
same worker and its correlator. An export without one goes to the first worker.

Workers are forked from a forkserver (a clean process: the collector's own threads are never
forked), each holds a Preparation (ingest/preparation.py; no store). A worker that dies is
replaced; the request that was on it gets 503 and is retried by its client.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import threading
import zlib
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from pathlib import Path

from agent_trace.domain.records import RecordBatch

log = logging.getLogger("agent_trace.collector")

# forkserver_preload first: the forkserver dies with the server (kill -9 included).
_PRELOAD = [
    "agent_trace.server.collector.forkserver_preload",
    "agent_trace.sources.otlp",
    "agent_trace.ingest.preparation",
    "agent_trace.domain.pricing",
    "agent_trace.ingest.prices",
]


@dataclass(frozen=True, slots=True)
class DecoderSetup:
    privacy_tier: int
    price_override_file: str


class _WorkerState:
    """What one worker process keeps between exports: its correlator shard and a Preparation."""

    def __init__(self, setup: DecoderSetup) -> None:
        from agent_trace.ingest.preparation import Preparation
        from agent_trace.ingest.prices import price_book
        from agent_trace.sources.otlp import OtlpCorrelator

        prices = price_book(Path(setup.price_override_file))
        self.preparation = Preparation(prices, setup.privacy_tier)
        self.correlator = OtlpCorrelator()


# The one piece of state of a worker process, set by its initializer (ProcessPoolExecutor's
# way of giving a worker long-lived state); never set in the collector process itself.
_worker: _WorkerState | None = None


def _init_worker(setup: DecoderSetup, collector_pid: int | None = None) -> None:
    global _worker
    from agent_trace.server.collector.forkserver_preload import die_with

    die_with()  # with the forkserver, which dies with the server
    _worker = _WorkerState(setup)
    if collector_pid is not None:
        # A worker holds the forkserver's "alive" pipe and its own call queue open: left alone it
        # would outlive a killed collector and keep the forkserver and resource tracker running.
        die_with(collector_pid)
    # As in the collector process (services.GcTuning): decoding allocates many short-lived
    # objects; keep full collections over the start-up heap out of the way.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def _decode(signal: str, content_type: str, body: bytes, received_ms: int) -> tuple[RecordBatch, list[str]]:
    """In a worker: decode, screen (domain/limits.py), normalise and prepare one export
    (OtlpDecodeError on a bad body); returns the records and the rules refused ones broke."""
    from agent_trace.domain.limits import drop_invalid
    from agent_trace.sources.otlp import parse_request

    assert _worker is not None, "the decoder worker was not initialised"
    result = parse_request(signal, content_type, body, received_ms=received_ms, correlator=_worker.correlator)
    refused = drop_invalid(result.batch)
    return _worker.preparation.prepare(result.batch), refused


def _ping() -> bool:
    return _worker is not None


class DecoderUnavailable(Exception):
    """The worker handling this export died (it is replaced); the client should retry."""


def session_shard(body: bytes, shards: int) -> int:
    """The worker for an export: by the first `session.id` in its (decompressed) body."""
    if shards <= 1:
        return 0
    session = _json_session(body) or _protobuf_session(body)
    return zlib.crc32(session) % shards if session else 0


def _json_session(body: bytes) -> bytes | None:
    at = body.find(b'"session.id"')
    if at < 0:
        return None
    value = body.find(b'"stringValue"', at, at + 80)
    if value < 0:
        return None
    start = body.find(b'"', value + 13, value + 20)
    end = body.find(b'"', start + 1, start + 200) if start >= 0 else -1
    return body[start + 1 : end] if end > start >= 0 else None


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while at < len(data) and shift < 35:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    return -1, at


def _protobuf_session(body: bytes) -> bytes | None:
    # KeyValue{key: "session.id" (field 1), value: AnyValue{string_value (field 1)} (field 2)}
    at = body.find(b"\x0a\x0asession.id\x12")
    if at < 0:
        return None
    _length, at = _varint(body, at + 13)
    if at >= len(body) or body[at] != 0x0A:
        return None
    size, at = _varint(body, at + 1)
    return body[at : at + size] if 0 < size <= 200 else None


class OtlpDecoders:
    """A Service (start/stop): `workers` single-process pools, one per session shard."""

    def __init__(self, setup: DecoderSetup, workers: int) -> None:
        if workers < 1:
            raise ValueError("OtlpDecoders needs at least one worker")
        self.setup = setup
        self.workers = workers
        self._pools: list[ProcessPoolExecutor | None] = [None] * workers
        self._lock = threading.Lock()

    def start(self) -> None:
        # Start the workers now (in parallel), not on the first export.
        warm = [self._pool(i).submit(_ping) for i in range(self.workers)]
        for future in warm:
            future.result(timeout=120)

    def stop(self) -> None:
        with self._lock:
            pools, self._pools = self._pools, [None] * self.workers
        for pool in pools:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _pool(self, shard: int) -> ProcessPoolExecutor:
        with self._lock:
            pool = self._pools[shard]
            if pool is None:
                context: BaseContext
                if "forkserver" in multiprocessing.get_all_start_methods():
                    forkserver = multiprocessing.get_context("forkserver")
                    forkserver.set_forkserver_preload(_PRELOAD)
                    context = forkserver
                else:  # Windows: no fork at all
                    context = multiprocessing.get_context("spawn")
                pool = ProcessPoolExecutor(
                    max_workers=1,
                    mp_context=context,
                    initializer=_init_worker,
                    initargs=(self.setup, os.getpid()),
                )
                self._pools[shard] = pool
            return pool

    def submit(
        self, signal: str, content_type: str, body: bytes, received_ms: int
    ) -> Future[tuple[RecordBatch, list[str]]]:
        """Decode and prepare on the export's worker; the future raises OtlpDecodeError for a bad body,
        DecoderUnavailable when the worker died."""
        shard = session_shard(body, self.workers)
        pool = self._pool(shard)
        outer: Future[tuple[RecordBatch, list[str]]] = Future()
        try:
            inner = pool.submit(_decode, signal, content_type, body, received_ms)
        except (BrokenProcessPool, RuntimeError) as exc:
            self._replace(shard, pool)
            outer.set_exception(DecoderUnavailable(f"OTLP decoder worker unavailable: {exc}"))
            return outer

        def relay(done: Future[tuple[RecordBatch, list[str]]]) -> None:
            error = done.exception()
            if isinstance(error, BrokenProcessPool):
                self._replace(shard, pool)
                outer.set_exception(DecoderUnavailable("the OTLP decoder worker died; it was replaced"))
            elif error is not None:
                outer.set_exception(error)
            else:
                outer.set_result(done.result())

        inner.add_done_callback(relay)
        return outer

    def _replace(self, shard: int, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pools[shard] is broken:
                self._pools[shard] = None
        log.error("OTLP decoder worker %d died; a new one starts with the next export", shard)
        broken.shutdown(wait=False, cancel_futures=True)
