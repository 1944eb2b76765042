"""Parse transcript files in a second process while the importing process writes.

Parsing is pure Python and holds the GIL, so a thread cannot overlap it with the writer's
pricing, redaction and row building; a process can, and the import then uses both cores. One
worker keeps the chunks in file order (a file's progress is written with its last records), and
a short result queue bounds memory.
"""

from __future__ import annotations

import multiprocessing
import queue
import traceback
from collections.abc import Iterator, Sequence
from typing import Any

from agent_trace.ingest.transcript_files import Chunk, FileTask, parse_file

_RESULTS_IN_FLIGHT = 4
_DONE = "done"
_FATAL = "fatal"


def _work(tasks: Sequence[FileTask], results: Any) -> None:
    try:
        for task in tasks:
            for chunk in parse_file(task):
                results.put(chunk)
        results.put(_DONE)
    except BaseException:
        results.put((_FATAL, traceback.format_exc()))


class ParseWorkerError(RuntimeError):
    """The parse worker stopped on a bug; the message carries its traceback."""


def parse_in_worker(tasks: Sequence[FileTask]) -> Iterator[Chunk]:
    """The chunks of `tasks` in order, parsed by one worker process."""
    # spawn, not fork: the importing process holds a database engine and threads, which a
    # forked child must not inherit.
    context = multiprocessing.get_context("spawn")
    results: Any = context.Queue(maxsize=_RESULTS_IN_FLIGHT)
    worker = context.Process(target=_work, args=(list(tasks), results), name="agent-trace-parse", daemon=True)
    worker.start()
    try:
        while True:
            try:
                item = results.get(timeout=1.0)
            except queue.Empty:
                if not worker.is_alive():
                    raise ParseWorkerError(f"the parse worker exited with code {worker.exitcode}") from None
                continue
            if item == _DONE:
                return
            if isinstance(item, tuple) and item and item[0] == _FATAL:
                raise ParseWorkerError(item[1])
            yield item
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join(timeout=5)
        results.close()
