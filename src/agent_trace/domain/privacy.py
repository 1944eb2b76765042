"""Privacy tiers and secret redaction, applied to canonical records before anything is stored.

Tier 1 — metadata only: sessions, timings, token counts, costs, tool names and statuses.
Tier 2 — plus prompts, tool inputs and outputs, file paths, commit messages (the default).
Tier 3 — plus model responses and thinking.
Secrets are redacted from every text that is kept, at every tier.

The hook handler applies this on the developer's machine and the collector applies it again,
so a client cannot store more than the server allows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from agent_trace.domain.payload_keys import PAYLOAD_RESPONSE_KEYS, strip_payload
from agent_trace.domain.records import RecordBatch
from agent_trace.domain.redaction import redact, redact_json_value

_RESPONSE_MARKERS = tuple(f'"{key}"' for key in sorted(PAYLOAD_RESPONSE_KEYS))


def sanitize_payload(payload: Any, tier: int) -> Any:
    """A raw event payload as it may be stored at `tier`: keys stripped, secrets redacted."""
    return redact_json_value(strip_payload(payload, tier))


def _redact_opt(text: str | None, redactor: Callable[[str], str]) -> str | None:
    return None if text is None else redactor(text)


def apply_privacy(batch: RecordBatch, tier: int, redactor: Callable[[str], str] = redact) -> None:
    """Strip what `tier` does not allow and redact secrets in what stays, in place."""
    keep_details = tier >= 2
    keep_responses = tier >= 3
    for session in batch.sessions:
        session.title = _redact_opt(session.title, redactor) if keep_details else None
        # Metadata kept at every tier, and a place for credentials: a remote URL with a token
        # (`https://x-access-token:…@github.com/…`), a cwd named after one.
        session.git_repo = _redact_opt(session.git_repo, redactor)
        session.cwd = _redact_opt(session.cwd, redactor)
        session.project = _redact_opt(session.project, redactor)
    for prompt in batch.prompts:
        prompt.text = _redact_opt(prompt.text, redactor) if keep_details else None
    for call in batch.llm_calls:
        if keep_responses:
            call.response_text = _redact_opt(call.response_text, redactor)
            call.thinking = _redact_opt(call.thinking, redactor)
        else:
            call.response_text = None
            call.thinking = None
    for tool in batch.tool_calls:
        if keep_details:
            tool.input_json = _redact_opt(tool.input_json, redactor)
            tool.output_text = _redact_opt(tool.output_text, redactor)
            tool.error = _redact_opt(tool.error, redactor)
        else:
            tool.input_json = tool.output_text = tool.error = None
    if keep_details:
        for touch in batch.file_touches:
            touch.path = redactor(touch.path)
    else:
        batch.file_touches.clear()
    for subagent in batch.subagents:
        subagent.description = _redact_opt(subagent.description, redactor) if keep_details else None
    for commit in batch.commits:
        commit.message = _redact_opt(commit.message, redactor) if keep_details else None
        commit.repo = _redact_opt(commit.repo, redactor)
        if not keep_details:
            commit.files_json = None  # file paths are tier 2
    for event in batch.raw_events:
        if event.payload is None:
            continue
        if tier >= 3 or (tier == 2 and not any(marker in event.payload for marker in _RESPONSE_MARKERS)):
            # Nothing to strip: redact the JSON text as it is (redaction keeps JSON valid), which
            # spares a parse and a re-serialisation per event on the collector's hot path.
            event.payload = redactor(event.payload)
            continue
        try:
            parsed = orjson.loads(event.payload)
        except orjson.JSONDecodeError:
            event.payload = redactor(event.payload) if keep_details else None
            continue
        event.payload = orjson.dumps(sanitize_payload(parsed, tier)).decode()
