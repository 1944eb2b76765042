"""The small services the collector runs beside its queue (built by server/wiring.py)."""

from __future__ import annotations

import gc

from agent_trace.store.port import Store


class StoreCloser:
    """Closes the writer thread's store once the services before it have stopped."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def start(self) -> None:
        pass

    def stop(self) -> None:
        self.store.close()


class GcTuning:
    """Keeps Python's cyclic garbage collector out of the ingest path.

    Decoding one OTLP export allocates tens of thousands of short-lived objects (freed by
    reference counting; they form no cycles). With the default thresholds they trigger frequent
    collections, and every full one walks the whole heap of the server: measured, that tripled
    the cost of `orjson.loads` on a 200-record export. Freezing the start-up heap takes it out
    of every later collection, and a higher young-generation threshold makes collections rarer.
    """

    YOUNG_THRESHOLD = 20_000

    def __init__(self) -> None:
        self._previous: tuple[int, int, int] | None = None

    def start(self) -> None:
        self._previous = gc.get_threshold()
        gc.collect()
        gc.freeze()
        gc.set_threshold(self.YOUNG_THRESHOLD, 20, 20)

    def stop(self) -> None:
        if self._previous is not None:
            gc.set_threshold(*self._previous)
            gc.unfreeze()
