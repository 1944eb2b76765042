"""Transcript deltas: the whole lines appended since the last shipped offset, made safe to send.

At Stop and SessionEnd the handler ships, for the session's transcript and each of its subagent
transcripts, the complete lines past the offset it shipped last (`hook-state/<session>.json`), so
a remote collector gets the full replay and the exact per-request usage without reading the
developer's disk.

Length-preserving sanitising. The collector tracks each file by BYTE offsets (a re-delivered
delta is recognised by its offset, a gap is remembered as a hole), so a sanitised line must take
exactly the bytes the original took. Each line is rewritten to the privacy tier and redacted,
and then padded with spaces (JSON allows trailing whitespace) to its original length. A line can
only grow when a redaction marker is longer than the secret it replaces; then every string that
held a secret is emptied, and as a last resort the line is reduced to its metadata skeleton.

What each tier removes from a line (the collector strips the same again from the records):
- tier 3: nothing; secrets are redacted.
- tier 2: what the model wrote: assistant `text` / `thinking` blocks and compaction summaries.
- tier 1: every string except ids, names, times, models and other metadata. A typed prompt
  becomes a placeholder that classifies the same way (a slash command stays a command), so the
  collector still counts the prompt; its text never leaves the machine.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

from agent_trace.domain.jsonl import is_complete_record
from agent_trace.domain.prompts import COMMAND_PREFIXES, NOT_A_TURN_PREFIXES, TASK_NOTIFICATION_PREFIX

TYPE_CHECKING = False  # `typing` costs the hook worker an import it does not need
if TYPE_CHECKING:
    from typing import Any

# Per hook call, at most this much transcript is read and sent; the rest goes with a later call
# (bounded work per call; the collector accepts 16 MiB bodies).
MAX_DELTA_BYTES = 4 * 1024 * 1024

# String values a tier-1 line keeps: identifiers, names, times, models, states.
TIER1_STRING_KEYS = frozenset(
    {
        "type",
        "subtype",
        "uuid",
        "parentUuid",
        "logicalParentUuid",
        "sessionId",
        "cwd",
        "version",
        "gitBranch",
        "timestamp",
        "entrypoint",
        "slug",
        "agentId",
        "agentType",
        "userType",
        "requestId",
        "requestRef",
        "requestedModel",
        "promptId",
        "sourceToolAssistantUUID",
        "sourceToolUseID",
        "toolUseID",
        "parentToolUseID",
        "permissionMode",
        "level",
        "id",
        "model",
        "role",
        "stop_reason",
        "name",
        "tool_use_id",
        "status",
        "speed",
        "service_tier",
        "trigger",
        "effort",
    }
)
# User text Claude Code writes itself, or that starts a slash command / task notification: a
# tier-1 placeholder keeps the prefix so the collector classifies the line as before
# (the prefixes of domain/prompts.py).
PROMPT_PREFIXES = (*NOT_A_TURN_PREFIXES, TASK_NOTIFICATION_PREFIX, *COMMAND_PREFIXES)
WITHHELD = "[withheld: privacy tier 1]"
_ERROR_KIND = re.compile(r"[a-z_]{1,40}")


def prompt_placeholder(text: str) -> str:
    stripped = text.lstrip()
    if not stripped:
        return ""
    for prefix in PROMPT_PREFIXES:
        if stripped.startswith(prefix):
            return prefix
    # Never longer than the text it replaces: the line must not grow (see the module docstring).
    return WITHHELD[: len(stripped)]


# -- tiers -----------------------------------------------------------------------------------


def _blank_strings(value: Any, keep: frozenset[str], key: str | None = None) -> Any:
    if isinstance(value, str):
        return value if key in keep else ""
    if isinstance(value, dict):
        return {k: _blank_strings(v, keep, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank_strings(v, keep, key) for v in value]
    return value


def _strip_model_output(record: dict[str, Any]) -> None:
    """Tier < 3: assistant text and thinking, and compaction summaries, become empty strings."""
    message = record.get("message")
    if not isinstance(message, dict):
        return
    content = message.get("content")
    if record.get("type") == "assistant" and isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            for field in ("text", "thinking", "data", "signature"):
                if isinstance(block.get(field), str):
                    block[field] = ""
    elif record.get("isCompactSummary") is True:
        if isinstance(content, str):
            message["content"] = ""
        elif isinstance(content, list):
            message["content"] = _blank_strings(content, TIER1_STRING_KEYS)


def _tier1(record: dict[str, Any]) -> dict[str, Any]:
    prompt: str | None = None
    # A top-level `error` is an API error kind ("server_error", "rate_limit"); elsewhere an
    # `error` is free text (a tool's message), so only this one survives.
    error = record.get("error")
    message = record.get("message")
    if record.get("type") == "user" and isinstance(message, dict):
        content = message.get("content")
        if isinstance(content, str):
            prompt = prompt_placeholder(content)
        elif isinstance(content, list):
            texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
            first = next((t for t in texts if isinstance(t, str)), None)
            if first is not None:
                prompt = prompt_placeholder(first)
    out: dict[str, Any] = _blank_strings(record, TIER1_STRING_KEYS)
    if prompt is not None:
        out_message = out["message"]
        if isinstance(out_message.get("content"), str):
            out_message["content"] = prompt
        else:
            for block in out_message["content"]:
                if isinstance(block, dict) and block.get("type") == "text":
                    block["text"] = prompt
                    break
    if isinstance(error, str) and _ERROR_KIND.fullmatch(error):
        out["error"] = error
    return out


def strip_record(record: dict[str, Any], tier: int) -> dict[str, Any]:
    """`record` with what `tier` does not allow removed (tier 2 changes it in place)."""
    if tier <= 1:
        return _tier1(record)
    if tier < 3:
        _strip_model_output(record)  # in place: the caller parsed this record for us
    return record


# -- one line --------------------------------------------------------------------------------


def _dump(value: Any) -> bytes:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a \ud8xx escape: keep it escaped
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def _blank_redacted(value: Any) -> Any:
    """Every string that had a secret redacted becomes empty: it can then only shrink."""
    if isinstance(value, str):
        return "" if "[REDACTED:" in value else value
    if isinstance(value, dict):
        return {k: _blank_redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_blank_redacted(v) for v in value]
    return value


class LineSanitizer:
    """Sanitises one JSONL line (without its newline) to the tier, keeping its byte length."""

    def __init__(self, tier: int) -> None:
        from agent_trace.domain.redaction import redact, redact_json_value

        self.tier = tier
        self.redact = redact
        self.redact_json_value = redact_json_value

    def __call__(self, raw: bytes) -> bytes:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return b" " * len(raw)  # not a JSON line either: ship blanks, keep the offsets
        untouched_by_tier = self.tier >= 3 or (self.tier == 2 and not _may_hold_model_output(raw))
        if untouched_by_tier and self.redact(text) is text:
            return raw  # the common case: nothing to change, the original bytes go
        try:
            record = json.loads(text)
        except ValueError:
            return b" " * len(raw)
        if not isinstance(record, dict):
            return self._fit(raw, [self.redact_json_value(record)])
        stripped = strip_record(record, self.tier)
        redacted = self.redact_json_value(stripped)
        return self._fit(raw, [redacted, _blank_redacted(redacted)], stripped)

    def _fit(self, raw: bytes, candidates: list[Any], stripped: Any = None) -> bytes:
        size = len(raw)
        for candidate in candidates:
            out = _dump(candidate)
            if len(out) <= size:
                return out + b" " * (size - len(out))
        if isinstance(stripped, dict):  # last resort: the metadata skeleton, which only shrinks
            out = _dump(_blank_redacted(self.redact_json_value(_tier1(stripped))))
            if len(out) <= size:
                return out + b" " * (size - len(out))
        return b" " * size


_MODEL_OUTPUT = re.compile(rb'"type"\s*:\s*"assistant"|"isCompactSummary"\s*:\s*true')


def _may_hold_model_output(raw: bytes) -> bool:
    return _MODEL_OUTPUT.search(raw) is not None


# -- deltas ----------------------------------------------------------------------------------


def transcript_files(transcript_path: str, session_id: str) -> list[Path]:
    """The session's main transcript and its subagent transcripts (that exist)."""
    main = Path(transcript_path)
    files = [main] if main.is_file() else []
    subagents = main.parent / session_id / "subagents"
    try:
        files += sorted(p for p in subagents.glob("agent-*.jsonl") if p.is_file())
    except OSError:
        pass
    return files


def read_deltas(
    files: list[Path],
    offsets: dict[str, int],
    sanitize: Callable[[bytes], bytes],
    budget: int = MAX_DELTA_BYTES,
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Deltas for `files` past `offsets`, and the offsets after them (only what was read)."""
    deltas: list[dict[str, Any]] = []
    new_offsets: dict[str, int] = {}
    for path in files:
        if budget <= 0:
            break
        key = str(path)
        start = offsets.get(key, 0)
        try:
            with open(path, "rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                if size < start:
                    # The file was rewritten shorter: the collector has seen this range already.
                    continue
                if size == start:
                    continue
                handle.seek(start)
                chunk = handle.read(min(size - start, budget))
                if b"\n" not in chunk and len(chunk) == budget and size - start > budget:
                    # One line longer than the whole budget: skip it (the collector notes a gap).
                    end = _skip_line(handle, start + len(chunk))
                    if end is not None:
                        new_offsets[key] = end
                    continue
        except OSError:
            continue
        cut = chunk.rfind(b"\n") + 1
        if start + len(chunk) == size and cut < len(chunk) and is_complete_record(chunk[cut:]):
            # The file's last line is whole JSON without its newline: ship it now (it may never
            # get one); the newline, when it comes, ships as an empty line.
            cut = len(chunk)
        if cut == 0:
            continue  # an unfinished line: wait until it is complete
        chunk = chunk[:cut]
        lines = chunk.split(b"\n")
        tail = lines.pop()  # b"" after a final newline, else the whole last record
        text = b"".join(sanitize(line) + b"\n" for line in lines) + (sanitize(tail) if tail else b"")
        deltas.append({"path": key, "offset": start, "text": text.decode("utf-8")})
        new_offsets[key] = start + cut
        budget -= cut
    return deltas, new_offsets


def _skip_line(handle: Any, position: int) -> int | None:
    """The offset just past the line `position` is inside, or None when it is not finished yet."""
    handle.seek(position)
    while True:
        block = handle.read(1 << 20)
        if not block:
            return None
        at = block.find(b"\n")
        if at >= 0:
            return int(position + at + 1)
        position += len(block)
