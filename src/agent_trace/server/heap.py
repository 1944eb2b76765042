"""Garbage-collector settings for the read-heavy HTTP roles, applied once the app has started.

A big replay or cost query allocates ~10^5 short-lived objects. With CPython's defaults that
triggers hundreds of young-generation passes and, now and then, a full pass over everything the
process holds (framework, templates, price tables): tens of milliseconds in the middle of a
request, which is what made the slowest 5 % of replays several times slower than the median.
Freezing what exists after start-up takes those long-lived objects out of every future pass, and
a larger young generation makes passes rarer; reference counting still frees almost everything
at once, so memory use barely changes.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    if gc.get_threshold()[0] < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)
