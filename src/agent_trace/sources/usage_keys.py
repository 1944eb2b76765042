"""Natural keys that two channels of one agent can both build (its session files and its live
telemetry), for agents whose telemetry carries no response id the files also have.

* An LLM call: its thread (session) and its exact billed counts. Each request of a coding agent
  sends the whole conversation so far, so within one thread the input count grows with every
  request, and two different requests with equal counts do not occur in practice; copies of one
  request (an archived copy, a fork replaying its parent, a message re-appended when updated)
  share the key and merge.
* A prompt: its session and a digest of its text (the telemetry has no id the files share); the
  same text typed twice in one session is one prompt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def usage_call_key(agent: str, thread_id: str, counts: Iterable[int]) -> str:
    # "." between the counts: ids are limited to URL-safe characters (domain/limits.py).
    return f"{agent}:{thread_id}:" + ".".join(str(n) for n in counts)


def text_prompt_key(agent: str, session_id: str, text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:20]
    return f"{agent}:{session_id}:{digest}"


def as_count(value: object) -> int:
    """A token count as an agent wrote it (int, or a numeric string in telemetry); else 0."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and value.is_integer():
        return max(int(value), 0)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return 0
