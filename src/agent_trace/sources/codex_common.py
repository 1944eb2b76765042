"""What Codex CLI's rollout files and its OpenTelemetry logs share: natural keys and usage rules.

Both channels must land on one record per fact, so every key is built from what BOTH carry:

* An LLM call is keyed by its thread and its exact billed counts (sources/usage_keys.py): Codex's
  OTel `codex.sse_event` (kind `response.completed`) carries the counts and the conversation id
  but not the response id, which only the rollout's `token_usage_record` has.
* A tool call is keyed by Codex's own `call_id`, present in both.
* A prompt is keyed by its session and the digest of its text (the OTel `codex.user_prompt` log
  has no turn id).

Counting rules, from codex-rs `protocol::TokenUsage` (`non_cached_input = input - cached`):
`input_tokens` INCLUDES `cached_input_tokens` (and `cache_write_input_tokens`), and
`output_tokens` INCLUDES `reasoning_output_tokens` (the OpenAI Responses convention). The
canonical Usage keeps Anthropic's convention (input excludes cache reads and writes), so the
cached part is moved out of input, and reasoning stays inside output, where it is billed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from agent_trace.domain.records import AGENT_CODEX, Usage
from agent_trace.sources.usage_keys import as_count, text_prompt_key, usage_call_key

# Codex reports a command's exit code in the tool output: `Process exited with code N` (unified
# exec) or a first line `Exit code: N` (shell, apply_patch).
_EXIT_CODE = re.compile(r"(?:Process exited with code |^Exit code: )(-?\d+)", re.MULTILINE)


def counts(raw: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    """(input incl. cache, cached, cache writes, output incl. reasoning, reasoning) of a usage map."""
    return (
        as_count(raw.get("input_tokens")),
        as_count(raw.get("cached_input_tokens")),
        as_count(raw.get("cache_write_input_tokens")),
        as_count(raw.get("output_tokens")),
        as_count(raw.get("reasoning_output_tokens")),
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
    return usage_call_key(AGENT_CODEX, thread_id, values)


def prompt_key(session_id: str, text: str) -> str:
    return text_prompt_key(AGENT_CODEX, session_id, text)


def exit_code_in(output: str | None) -> int | None:
    """The exit code Codex reports inside a shell tool's output text, if any."""
    if not output:
        return None
    found = _EXIT_CODE.search(output[:400])
    return int(found.group(1)) if found else None
