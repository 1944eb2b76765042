"""Parse transcript files in a second process while the importing process writes.

Parsing is pure Python and holds the GIL, so a thread cannot overlap it with the writer's row
building; a process can, and the import then uses both cores. The worker also runs the
Preparation (pricing, tier, redaction: ingest/preparation.py) on each chunk, so the importing
process only writes SQL; what it repaired comes back with each chunk, what it left unpriced with
the end. One worker keeps the chunks in file order (a file's progress is written with its last
records), and a short result queue bounds memory.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from agent_trace.ingest.preparation import Preparation, warn_repaired
from agent_trace.ingest.transcript_files import Chunk, FileTask, parse_file

_RESULTS_IN_FLIGHT = 4
_DONE = "done"
_FATAL = "fatal"


def _work(tasks: Sequence[FileTask], preparation: Preparation, results: Any) -> None:
    try:
        for task in tasks:
            for chunk in parse_file(task):
                chunk.repaired = preparation.prepare_quietly(chunk.batch)
                results.put(chunk)
        results.put((_DONE, preparation.unpriced))
    except BaseException:
        results.put((_FATAL, traceback.format_exc()))


class ParseWorkerError(RuntimeError):
    """The parse worker stopped on a bug; the message carries its traceback."""


def parse_in_worker(tasks: Sequence[FileTask], preparation: Preparation) -> Iterator[Chunk]:
    """The chunks of `tasks` in order, parsed and prepared by one worker process (on its copy of
    `preparation`; what the copy left unpriced is added to `preparation` at the end). The
    repairs of each chunk are logged here, in the importing process."""
    # spawn, not fork: the importing process holds a database engine and threads, which a
    # forked child must not inherit.
    context = multiprocessing.get_context("spawn")
    results: Any = context.Queue(maxsize=_RESULTS_IN_FLIGHT)
    worker = context.Process(
        target=_work, args=(list(tasks), preparation, results), name="agent-trace-parse", daemon=True
    )
    worker.start()
    try:
        while True:
            try:
                item = results.get(timeout=1.0)
            except queue.Empty:
                if not worker.is_alive():
                    raise ParseWorkerError(f"the parse worker exited with code {worker.exitcode}") from None
                continue
            if isinstance(item, tuple) and item and item[0] == _DONE:
                preparation.unpriced.update(item[1])
                return
            if isinstance(item, tuple) and item and item[0] == _FATAL:
                raise ParseWorkerError(item[1])
            warn_repaired(item.repaired)
            yield item
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join(timeout=5)
        results.close()
