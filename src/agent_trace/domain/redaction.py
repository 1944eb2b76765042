"""Secret redaction: credentials in free text become `[REDACTED:<kind>]` before anything is kept.

Runs on every prompt, command, tool input/output, file content and model response (DESIGN.md §2:
secrets are redacted at every privacy tier), on the developer's machine and again in the
collector. Pure and standard-library only, because the hook handler imports it on every tool call.

This module is the public side: screening short strings, merging overlapping findings, replacing
them, and walking JSON values. Where secrets are is found by secret_scan.py (anchors, then exact
regexes: its docstring explains the speed design), with secret_keywords.py (values after a
secret-naming name), secret_formats.py (vendor formats as data) and secret_values.py (is a value
a literal secret).

Where a keyword's value overlaps a token of a known format, the token's span and kind win
(`API_KEY=sk-ant-...` is an anthropic-key); other overlaps merge into one replacement.
Replacements never cut an escape sequence in half, so redacting JSON text keeps it valid JSON.
"""

from __future__ import annotations

import bisect
import functools
import re

from agent_trace.domain import secret_formats as _formats
from agent_trace.domain.secret_keywords import BASIC_VALUE, KEYWORD_KIND, rest_is_not_a_secret
from agent_trace.domain.secret_scan import LOWER_SCANS, find_secrets, lowered
from agent_trace.domain.secret_values import plausible_value

# `typing` and `dataclasses` would double this module's import time, and the hook handler pays
# it on every tool call; annotations are strings here (PEP 563), so type checkers alone need these.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

__all__ = ["KINDS", "Finding", "contains_secret", "redact", "redact_json_value", "redact_with_report"]

# Every kind a finding can have, most specific first (the order breaks ties when findings merge);
# a format may name one of ours (a PuTTY key file is a private-key).
_OWN_KINDS: Final = (
    "private-key",
    "aws-access-key",
    "aws-secret-key",
    "anthropic-key",
    "openai-key",
    "github-token",
    "slack-token",
    "slack-webhook",
    "discord-webhook",
    "stripe-key",
    "google-api-key",
    "google-oauth-secret",
    "huggingface-token",
    "jwt",
    "url-password",
    "bearer-token",
    "basic-auth",
    "password",
    "secret",
    "api-key",
    "token",
)
KINDS: Final = tuple(dict.fromkeys((*_OWN_KINDS, *_formats.KINDS)))
_RANK: Final = {kind: i for i, kind in enumerate(KINDS)}

# Nothing shorter can hold a secret we would recognise ("pwd=abcd" is the shortest).
_MIN_TEXT_LEN: Final = 8


class Finding:
    """A secret found in a text: `text[start:end]` (offsets in the original) was replaced."""

    __slots__ = ("end", "kind", "start")

    def __init__(self, kind: str, start: int, end: int) -> None:
        self.kind = kind
        self.start = start
        self.end = end

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Finding):
            return NotImplemented
        return (self.kind, self.start, self.end) == (other.kind, other.start, other.end)

    def __hash__(self) -> int:
        return hash((self.kind, self.start, self.end))

    def __repr__(self) -> str:
        return f"Finding(kind={self.kind!r}, start={self.start}, end={self.end})"


_BLANK: Final = re.compile(r"\s")

# (start, end, kind) of one secret, in original offsets (secret_scan.find_secrets).
_Out = list[tuple[int, int, str]]


# --------------------------------------------------------------------------------------------
# Public API.

# Most strings in a transcript are short (ids, names, timestamps, one-line commands), and the
# fixed cost of the scans would dominate for them. A search for any anchor over the lowercased
# string screens them first (it must match whenever any scan could); strings it clears are
# remembered, since a transcript repeats the same short values ("assistant", a cwd, a model name)
# tens of thousands of times. The memo is bounded and only ever holds strings without secrets.
_SHORT: Final = 256
_SHORT_GATE: Final = re.compile(
    r"t(?=ok)|s(?:ecr|k-)|c(?=red)|p(?:ass|wd)|a(?:uth|kia|sia|iza)|k(?:ey|_live_|_test_)|h(?:ooks|f_)"
    r"|g(?:h[pousr]_|ithub_)|x(?:ox|app)|gocspx|eyj|://|" + _formats.GATE
)
_CLEAN_SHORT: Final[set[str]] = set()
_CLEAN_SHORT_MAX: Final = 16384


def _scan(text: str) -> list[Finding]:
    n = len(text)
    if n < _SHORT:
        if n < _MIN_TEXT_LEN or text in _CLEAN_SHORT:
            return []
        if _SHORT_GATE.search(text.lower()) is None:
            if len(_CLEAN_SHORT) >= _CLEAN_SHORT_MAX:
                _CLEAN_SHORT.clear()
            _CLEAN_SHORT.add(text)
            return []
    out: _Out = []
    find_secrets(text, out)
    if not out:
        if n < _SHORT:  # a value seen again and again ("file-history-snapshot")
            if len(_CLEAN_SHORT) >= _CLEAN_SHORT_MAX:
                _CLEAN_SHORT.clear()
            _CLEAN_SHORT.add(text)
        return []
    return _merge(out)


# Kinds found from a keyword's value. A value can hold more than the secret in it (an AWS
# `Credential=AKIA.../20260212/us-east-1/s3/aws4_request`), so where one overlaps a finding of a
# known format, the known format's exact span is kept instead.
_FROM_KEYWORD: Final = frozenset(
    {"password", "api-key", "token", "secret", "aws-secret-key", "bearer-token", "basic-auth"}
)


def _merge(out: _Out) -> list[Finding]:
    out.sort()
    known = [hit for hit in out if hit[2] not in _FROM_KEYWORD]
    if known and len(known) < len(out):
        ends = [e for _, e, _ in known]
        starts = [s for s, _, _ in known]
        for i in range(1, len(ends)):  # running max, so one bisect answers "any overlap?"
            ends[i] = max(ends[i], ends[i - 1])
        kept = known
        for hit in out:
            if hit[2] in _FROM_KEYWORD:
                i = bisect.bisect_left(starts, hit[1]) - 1  # last known span starting before hit ends
                if i < 0 or ends[i] <= hit[0]:
                    kept.append(hit)
        out = sorted(kept)
    # Merge what still overlaps into one replacement; the most specific kind names it.
    merged: list[Finding] = []
    start, end, kind = out[0]
    for s, e, k in out[1:]:
        if s < end:
            end = max(end, e)
            if _RANK[k] < _RANK[kind]:
                kind = k
        else:
            merged.append(Finding(kind, start, end))
            start, end, kind = s, e, k
    merged.append(Finding(kind, start, end))
    return merged


def _apply(text: str, findings: list[Finding]) -> str:
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts.append(text[pos : f.start])
        parts.append(f"[REDACTED:{f.kind}]")
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts)


def redact_with_report(text: str) -> tuple[str, list[Finding]]:
    """The redacted text and what was replaced (offsets into `text`, in order, not overlapping)."""
    findings = _scan(text)
    return (_apply(text, findings) if findings else text), findings


def redact(text: str) -> str:
    """`text` with every secret replaced by `[REDACTED:<kind>]`; the same object if none was found."""
    if len(text) < _SHORT and (len(text) < _MIN_TEXT_LEN or text in _CLEAN_SHORT):
        return text  # most strings of a transcript: no call further down
    findings = _scan(text)
    return _apply(text, findings) if findings else text


def contains_secret(text: str) -> bool:
    return bool(_scan(text))


@functools.lru_cache(maxsize=4096)
def _key_kind(key: str) -> str | None:
    """The kind a JSON key names when its whole value is a secret (`{"api_key": "..."}`).

    Cached: a transcript repeats the same few hundred keys millions of times."""
    low = lowered(key) + "=x"  # _TAIL wants a separator and a value
    for scan in LOWER_SCANS:
        for m in scan.finditer(low):
            tag = m.lastgroup
            if tag in KEYWORD_KIND and not rest_is_not_a_secret(tag, key[m.start(tag) :].lower()):
                return KEYWORD_KIND[tag]
    return None


def redact_json_value(value: object) -> object:
    """Every string in a JSON-shaped value redacted (dict keys are kept as they are).

    A string under a key that names a secret (`"password"`, `"API_KEY"`, `"accessToken"`) is
    replaced whole when it looks like a literal secret, since the key is its context. Containers
    where nothing changed are returned as the same objects, so callers can skip re-serialising.
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return _redact_dict(value)
    if isinstance(value, list | tuple):
        return _redact_sequence(value)
    return value


def _redact_dict(value: dict[object, object]) -> dict[object, object]:
    changed: dict[object, object] | None = None
    for key, inner in value.items():
        if isinstance(inner, str):
            if len(inner) < _SHORT and (len(inner) < _MIN_TEXT_LEN or inner in _CLEAN_SHORT):
                new: object = inner  # redact()'s first test, without the call
            else:
                new = redact(inner)
            if new is inner and isinstance(key, str) and _key_kind(key) is not None:
                new = _redact_keyed(key, inner)
        elif isinstance(inner, dict):
            new = _redact_dict(inner)
        elif isinstance(inner, list | tuple):
            new = _redact_sequence(inner)
        else:
            continue
        if new is not inner:
            if changed is None:
                changed = dict(value)
            changed[key] = new
    return value if changed is None else changed


def _redact_sequence(value: list[object] | tuple[object, ...]) -> object:
    items: list[object] | None = None
    for i, inner in enumerate(value):
        new = redact_json_value(inner)
        if new is not inner:
            if items is None:
                items = list(value)
            items[i] = new
    if items is None:
        return value
    return items if isinstance(value, list) else tuple(items)


# A value with an auth scheme (`{"Authorization": "Bearer abc..."}`): the credential is after it.
_SCHEMED_VALUE: Final = re.compile(r"(?i:(bearer|basic|token|bot))[ \t]+(\S+)")


def _redact_keyed(key: str, inner: str) -> str:
    kind = _key_kind(key)
    if kind is None:
        return inner
    scheme = _SCHEMED_VALUE.fullmatch(inner)
    if scheme is not None:
        name, credential = scheme.group(1).lower(), scheme.group(2)
        if name == "basic":
            ok, kind = BASIC_VALUE.fullmatch(credential) is not None, "basic-auth"
        else:
            ok = plausible_value(credential, False, True, False)
            kind = "bearer-token" if name == "bearer" else kind
        return f"{inner[: scheme.start(2)]}[REDACTED:{kind}]" if ok else inner
    if _BLANK.search(inner) is None and plausible_value(inner, kind == "password", True, False):
        return f"[REDACTED:{kind}]"
    return inner
