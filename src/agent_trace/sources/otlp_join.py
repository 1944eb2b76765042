"""Joins that OTLP splits across signals and requests, held in bounded memory.

Two facts arrive in halves, in either order, usually in different POSTs (logs and traces are
exported separately, and spans only when they end):

* an `interaction` span has no prompt id; the `user_prompt` log record that opened it carries the
  same (trace id, span id) and the prompt id;
* `subagent_completed` is logged inside the Agent tool's `tool.execution` span, which carries the
  Agent call's `tool_use_id` (the subagent's parent) but not the agent id.

Whichever half comes first waits here for the other. This is the only state in the OTLP source;
it does no I/O. One instance should be shared by every OTLP entry point of a collector (HTTP and
gRPC); it is thread-safe. Old halves are dropped first when `max_pending` is reached, which only
loses the join, never a record.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

_Key = tuple[str, str]


class OtlpCorrelator:
    def __init__(self, max_pending: int = 20_000) -> None:
        if max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {max_pending}")
        self._max = max_pending
        self._lock = threading.Lock()
        self._interactions: OrderedDict[_Key, tuple[int, Any]] = OrderedDict()
        self._executions: OrderedDict[_Key, tuple[int, Any]] = OrderedDict()

    def __len__(self) -> int:
        """Halves still waiting for their other half."""
        return len(self._interactions) + len(self._executions)

    def _meet(self, store: OrderedDict[_Key, tuple[int, Any]], key: _Key, side: int, value: Any) -> Any:
        with self._lock:
            found = store.get(key)
            if found is not None and found[0] != side:
                del store[key]
                return found[1]
            store[key] = (side, value)
            store.move_to_end(key)
            while len(store) > self._max:
                store.popitem(last=False)
            return None

    def user_prompt(self, trace_id: str, span_id: str, session_id: str, prompt_id: str) -> int | None:
        """The log half of an interaction: returns the interaction's duration once both are seen."""
        found: int | None = self._meet(self._interactions, (trace_id, span_id), 0, (session_id, prompt_id))
        return found

    def interaction(self, trace_id: str, span_id: str, duration_ms: int) -> tuple[str, str] | None:
        """The span half: returns (session id, prompt id) once the user_prompt log is seen."""
        found: tuple[str, str] | None = self._meet(self._interactions, (trace_id, span_id), 1, duration_ms)
        return found

    def subagent_completed(self, trace_id: str, span_id: str, agent_id: str) -> str | None:
        """The log half of a subagent: returns the parent Agent call's tool_use_id once seen."""
        found: str | None = self._meet(self._executions, (trace_id, span_id), 0, agent_id)
        return found

    def tool_execution(self, trace_id: str, span_id: str, tool_use_id: str) -> str | None:
        """The span half: returns the agent id when a subagent_completed log names this span."""
        found: str | None = self._meet(self._executions, (trace_id, span_id), 1, tool_use_id)
        return found
