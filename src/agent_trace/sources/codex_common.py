"""What Codex CLI's rollout files and its OpenTelemetry logs share: natural keys and usage rules.

Both channels must land on one record per fact, so every key is built from what BOTH carry:

* An LLM call is keyed by its thread and its exact billed counts. Codex's OTel
  `codex.sse_event` (kind `response.completed`) carries the counts and the conversation id but
  not the response id, which only the rollout's `token_usage_record` has. Within one thread the
  input of every request includes the whole history so far, so two different requests with the
  same five counts do not occur in practice; copies of a request (an archived copy, a forked
  file replaying the parent's history, a repeated `token_count` event) share the key and merge.
* A tool call is keyed by Codex's own `call_id`, present in both.
* A prompt is keyed by its session and the digest of its text (the OTel `codex.user_prompt` log
  has no turn id); the same text typed twice in one session is one prompt.

Counting rules, from codex-rs `protocol::TokenUsage` (`non_cached_input = input - cached`):
`input_tokens` INCLUDES `cached_input_tokens` (and `cache_write_input_tokens`), and
`output_tokens` INCLUDES `reasoning_output_tokens` (the OpenAI Responses convention). The
canonical Usage keeps Anthropic's convention (input excludes cache reads and writes), so the
cached part is moved out of input, and reasoning stays inside output, where it is billed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from agent_trace.domain.records import Usage

AGENT_CODEX = "codex"

_EXIT_CODE = re.compile(r"(?:Process exited with code|Exit code:) (-?\d+)")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return max(int(value), 0)
    if isinstance(value, float) and value.is_integer():
        return max(int(value), 0)
    return 0


def counts(raw: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    """(input incl. cache, cached, cache writes, output incl. reasoning, reasoning) of a usage map."""
    return (
        _int(raw.get("input_tokens")),
        _int(raw.get("cached_input_tokens")),
        _int(raw.get("cache_write_input_tokens")),
        _int(raw.get("output_tokens")),
        _int(raw.get("reasoning_output_tokens")),
    )


def usage_of(values: tuple[int, int, int, int, int]) -> Usage:
    """Canonical usage: cached input and cache writes moved out of input; reasoning stays output."""
    inp, cached, written, out, _reasoning = values
    cached = min(cached, inp)
    written = min(written, inp - cached)
    return Usage(
        input_tokens=inp - cached - written,
        output_tokens=out,
        cache_creation_tokens=written,
        cache_5m_tokens=written,
        cache_read_tokens=cached,
    )


def call_key(thread_id: str, values: tuple[int, int, int, int, int]) -> str:
    inp, cached, written, out, reasoning = values
    return f"codex:{thread_id}:{inp}/{cached}/{written}/{out}/{reasoning}"


def prompt_key(session_id: str, text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:20]
    return f"codex:{session_id}:{digest}"


def exit_code_in(output: str | None) -> int | None:
    """The exit code Codex reports inside a shell tool's output text, if any."""
    if not output:
        return None
    found = _EXIT_CODE.search(output[:400])
    return int(found.group(1)) if found else None
