"""The budget service beside the collector: refresh the guard's snapshot, record threshold
crossings, send due alert deliveries, about once a second (AGENT_TRACE_BUDGET_REFRESH_SECONDS).

One thread; every step logs and survives its own errors (a failing database or SMTP server must
not stop the collector or the next attempt).
"""

from __future__ import annotations

import logging
import threading
import time

from agent_trace.server.budgets.alerts import AlertSender, record_crossings
from agent_trace.server.budgets.guard import BudgetGuard

log = logging.getLogger("agent_trace.budgets")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class BudgetService:
    def __init__(self, guard: BudgetGuard, sender: AlertSender, interval_s: float) -> None:
        self.guard = guard
        self.sender = sender
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self, now: int | None = None) -> None:
        """One round: snapshot, crossings, deliveries (tests call it directly)."""
        at = now_ms() if now is None else now
        state = self.guard.refresh(at)
        if state.snap.budgets:
            record_crossings(
                self.guard.store, self.guard.statuses(state), self.sender.settings, self.guard.contact, at
            )
        self.sender.run_due(at)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="agent-trace-budgets", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as exc:  # logged; the next round tries again
                log.warning("budgets: %s: %s", type(exc).__name__, exc)
            self._stop.wait(self.interval_s)
