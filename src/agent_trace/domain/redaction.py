"""Secret redaction: credentials in free text become `[REDACTED:<kind>]` before anything is kept.

Runs on every prompt, command, tool input/output, file content and model response (DESIGN.md §2:
secrets are redacted at every privacy tier), on the developer's machine and again in the
collector. Pure and standard-library only, because the hook handler imports it on every tool call.

Speed is the design constraint: the importer pushes ~1 GB of transcripts through here, and almost
none of it holds a secret. Python has no multi-pattern search in C, and each scan of the text costs
about the same whatever it looks for, so the work is split in two stages:

1. A few C-level scans find *anchors*. Five `re` scans run over an ASCII-lowercased byte copy (one
   copy makes every keyword case-insensitive for free); each pattern starts with one literal
   byte (`k`, `w`, `cr`, `h`, `x`) so `re` runs its fast literal-prefix loop, and lookbehinds
   check the rest of the anchor (`k(?<=tok)en` finds "token"). Keyword anchors also require an
   assignment-shaped tail (`name = `, `"name": `), so prose and code that merely mention "token"
   rarely reach Python. A few anchors with rare characters (`@`, `J`, `B`, `A`) are found with
   `str.find` (memchr speed) and fall back to a C scan when the text is dense with them (base64).
2. Each anchor runs one precise regex on the original text at that position, plus a few
   plausibility checks written in Python (is the value a literal, random-looking, not a
   placeholder or a variable reference).

Findings that overlap are merged, and the most specific kind wins (`API_KEY=sk-ant-...` is an
anthropic-key, not a generic api-key). Replacements never cut an escape sequence in half, so
redacting JSON text keeps it valid JSON.
"""

from __future__ import annotations

import functools
import re

# `typing` and `dataclasses` would double this module's import time, and the hook handler pays
# it on every tool call; annotations are strings here (PEP 563), so type checkers alone need these.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final

__all__ = ["KINDS", "Finding", "contains_secret", "redact", "redact_json_value", "redact_with_report"]

# Every kind a finding can have, most specific first (the order breaks ties when findings merge).
KINDS: Final = (
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
    "api-key",
    "token",
    "secret",
)
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


# --------------------------------------------------------------------------------------------
# Stage 2 regexes: run on the original text at an anchor, never over the whole text.

_B64URL = r"A-Za-z0-9_\-"
_NOT_B64URL_BEFORE = rf"(?<![{_B64URL}])"
_NOT_B64URL_AFTER = rf"(?![{_B64URL}])"

_AWS_ACCESS_KEY: Final = re.compile(r"(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")
_GOOGLE_API_KEY: Final = re.compile(rf"{_NOT_B64URL_BEFORE}AIza[{_B64URL}]{{35}}{_NOT_B64URL_AFTER}")
_GOOGLE_OAUTH: Final = re.compile(rf"{_NOT_B64URL_BEFORE}GOCSPX-[{_B64URL}]{{24,40}}{_NOT_B64URL_AFTER}")
# sk-ant-api03-..., sk-ant-admin01-..., and Claude Code's own OAuth tokens sk-ant-oat01-...
_ANTHROPIC: Final = re.compile(rf"{_NOT_B64URL_BEFORE}sk-ant-[{_B64URL}]{{20,}}")
# sk-..., sk-proj-..., sk-svcacct-...; other vendors reuse the shape, which is fine to redact too.
_OPENAI: Final = re.compile(rf"{_NOT_B64URL_BEFORE}sk-(?!ant-)(?P<body>[{_B64URL}]{{20,}})")
_GITHUB: Final = re.compile(
    r"(?<![A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{40,255})"
)
_SLACK_TOKEN: Final = re.compile(r"(?<![A-Za-z0-9_-])(?:xox[abeoprs]-|xapp-)[A-Za-z0-9-]{10,255}")
_SLACK_WEBHOOK: Final = re.compile(
    r"hooks\.slack\.com/(?P<s>(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{16,})"
)
_DISCORD_WEBHOOK: Final = re.compile(r"discord(?:app)?\.com/api/webhooks/\d+/(?P<s>[A-Za-z0-9_-]{20,})")
_STRIPE: Final = re.compile(r"(?<![A-Za-z0-9_])(?:[sr]k_(?:live|test)|pk_live)_[A-Za-z0-9]{16,255}")
_HUGGINGFACE: Final = re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z0-9]{30,}(?![A-Za-z0-9_])")
_JWT: Final = re.compile(rf"{_NOT_B64URL_BEFORE}eyJ[{_B64URL}]{{8,}}\.eyJ[{_B64URL}]{{8,}}\.[{_B64URL}]*")
# The whole block, BEGIN to END. A block cut short (a `head` of the file, a truncated tool
# output) still loses everything that looks like key material after its BEGIN line. `\\{1,3}[nrt]`
# eats JSON-escaped newlines whole, so redacting JSON text never leaves half an escape behind.
_PEM: Final = re.compile(
    r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.{0,200000}?-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    r"|(?:[A-Za-z0-9+/=\s:,.]|\\{1,3}[nrt]|-(?!----))*)",
    re.DOTALL,
)
# scheme://user:password@host; only the password goes. A `\` never occurs in a URL's userinfo and
# excluding it keeps JSON escapes intact.
_URL_USERINFO: Final = re.compile(r"://(?P<user>[^\s:/?#@\"'<>\\]*):(?P<pw>[^\s/?#@\"'<>\\]+)@")
_BEARER: Final = re.compile(r"(?<![A-Za-z0-9_])[Bb]earer[ \t]+(?P<s>[A-Za-z0-9._~+/=-]{16,})")

# `name <sep> value`, matched from inside the name (at the keyword). The value is a quoted string
# (also JSON-escaped `\"...\"`, and Python's f/r/b prefixes) or a bare word; values holding
# whitespace are left alone on purpose: they are prose far more often than passphrases.
_ASSIGNMENT: Final = re.compile(
    r"""(?P<rest>[A-Za-z0-9_.\-]*)
    (?P<nq>\\{0,3}["'`])?
    [ \t]*
    (?:(?P<ann>:[ \t]*[A-Za-z_][\w.\[\]|, ]{0,60}?[ \t]*=(?![=>]))   # Python annotation: x: str = v
      |(?P<sep>=>|:=|==|=|:|>)
      |(?<=[ \t])                                                # CLI flag: --token value
    )
    [ \t]*
    (?:[rbfuRBFU]{0,2}(?P<vq>\\{0,3}["'`])
         (?:(?P<qscheme>(?i:bearer|basic|token|bot))[ ]+)?
         (?P<qv>[^"'`\\\s]{1,4096})(?P=vq)
      |(?:(?P<uscheme>(?i:bearer|basic|token|bot))[ \t]+)?
         (?P<uv>[^\s"'`\\,;<>(){}\[\]]{1,4096})(?P<call>[(\[])?
    )""",
    re.VERBOSE,
)

_NUMBER: Final = re.compile(r"[+-]?(?:\d[\d_,]*)?\.?\d+(?:[eE][+-]?\d+)?[kKmMgGsS%]?")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_AWS_SECRET_VALUE: Final = re.compile(r"[A-Za-z0-9/+=]{40}")
_BASIC_VALUE: Final = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")
_FILE_EXT: Final = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,5}$")
_BLANK: Final = re.compile(r"\s")
# Values that are obviously not a real secret: fill characters, "<your-token>", "changeme", type
# names, booleans. Matched against the whole value, lowercased.
_PLACEHOLDER: Final = re.compile(
    r"""(?:x+|\*+|\.+|-+|_+|\#+|0+|\?+
      |(?:my|the|some|fake|test|sample|example)[-_]?(?:secret|token|password|pass|key|api[-_]?key)s?
      |secret|secrets|token|tokens|password|passwd|pass|pwd|key|apikey|api[-_]key|credentials?|auth
      |none|null|nil|undefined|true|false|yes|no|on|off|required|optional|default|empty|unset
      |str|string|bytes|int|integer|bool|boolean|text|value|any|object|secretstr|secretbytes
      |test|testing|example|sample|foo|bar|baz|foobar|hidden|masked|omitted|unknown|invalid)""",
    re.VERBOSE,
)
# ...and words that make any value a placeholder ("your-api-key-here", "<REPLACE_ME>").
_PLACEHOLDER_HINT: Final = re.compile(
    r"your|[-_.]here\b|dummy|placeholder|redacted|change[-_]?me|replace[-_]?(?:me|with)"
)


def _is_placeholder(value: str) -> bool:
    folded = value.lower()
    return _PLACEHOLDER.fullmatch(folded) is not None or _PLACEHOLDER_HINT.search(folded) is not None


# A keyword followed by one of these words names something other than the secret itself
# (`token_url`, `max_tokens`... are numbers or addresses, `password_hash` is not the password).
_NOT_A_SECRET_SUFFIXES: Final = (
    "count",
    "counts",
    "type",
    "types",
    "url",
    "urls",
    "uri",
    "endpoint",
    "path",
    "file",
    "files",
    "dir",
    "name",
    "names",
    "id",
    "ids",
    "len",
    "length",
    "size",
    "limit",
    "max",
    "min",
    "ttl",
    "expiry",
    "expires",
    "expiresat",
    "expiresin",
    "expiration",
    "env",
    "var",
    "header",
    "field",
    "prefix",
    "suffix",
    "kind",
    "format",
    "mode",
    "policy",
    "provider",
    "ref",
    "version",
    "usage",
    "budget",
    "index",
    "cost",
    "rate",
    "enabled",
    "required",
    "timeout",
    "regex",
    "pattern",
    "label",
    "hint",
    "prompt",
    "message",
    "error",
    "hash",
    "salt",
    "location",
    "manager",
    "service",
    "store",
)


# --------------------------------------------------------------------------------------------
# Value plausibility.


def _looks_random(value: str, min_len: int) -> bool:
    """Machine-made rather than a word: digits mixed with letters, or upper and lower case mixed
    throughout (not just CamelCase word starts)."""
    if len(value) < min_len:
        return False
    digits = upper = lower = 0
    for ch in value:
        if ch.isdigit():
            digits += 1
        elif ch.isupper():
            upper += 1
        elif ch.islower():
            lower += 1
    letters = upper + lower
    # A date, a version or a word with a number ("utf-8", "2024-01-01", "v1.2.3") has no run of
    # 8 alphanumerics holding both kinds; a key almost always does.
    if digits and letters >= 2 and _has_mixed_run(value):
        return True
    return len(value) >= 16 and upper >= 3 and lower >= 3 and 0.2 <= upper / letters <= 0.8


def _has_mixed_run(value: str) -> bool:
    run = 0
    seen_digit = seen_alpha = False
    for ch in value:
        if ch.isalnum():
            run += 1
            seen_digit = seen_digit or ch.isdigit()
            seen_alpha = seen_alpha or ch.isalpha()
            if run >= 8 and seen_digit and seen_alpha:
                return True
        else:
            run = 0
            seen_digit = seen_alpha = False
    return False


def _is_reference(value: str, quoted: bool) -> bool:
    """A variable, template or expression standing for the secret, not the secret itself."""
    # Unquoted, a leading sigil is YAML (`!vault`, `&anchor`, `*alias`), a comment or an
    # expression; inside quotes it may be the first character of a real password.
    if value[0] in ("$%{<" if quoted else "$%{<&*!@#(["):
        return True
    return "${" in value or "{{" in value or ("{" in value and "}" in value) or "<" in value or "://" in value


def _plausible_value(value: str, password_like: bool, quoted: bool, env_style: bool) -> bool:
    if not value or value.startswith("[REDACTED") or _is_reference(value, quoted):
        return False
    if _NUMBER.fullmatch(value) or _is_placeholder(value):
        return False
    if value.startswith(("./", "../", "~/")) or (("/" in value or "\\" in value) and _FILE_EXT.search(value)):
        return False  # a file path (the secret is in the file, not here)
    if value[0] == "/" and not _looks_random(value, 20):
        return False  # an absolute path; a base64 secret may start with "/" too, but is random
    if password_like:
        if quoted:
            return len(value) >= 4
        if len(value) < 6:
            return False
        # A bare word after `password =` is a variable in code; in an env file or as a flag value
        # it is the password. Digits or punctuation settle it either way.
        if _IDENTIFIER.fullmatch(value):
            return env_style or (any(c.isdigit() for c in value) and "." not in value)
        return True
    if not quoted and _IDENTIFIER.fullmatch(value) and "." in value:
        return False  # settings.SECRET_KEY, self.token
    return _looks_random(value, 8)


# --------------------------------------------------------------------------------------------
# Stage 1: anchors over the lowercased bytes.

# After a keyword: the rest of the name, an optional closing quote, then a separator (or blanks
# before a flag value). Keeps "token" in prose and in `for token in tokens` out of Python.
_TAIL = rb"""[a-z0-9_.\-]{0,48}(?:\\{0,3}["'`])?(?:[ \t]*[:=>]|[ \t]+[^\s])"""

# Each entry: (pattern, {group name: handler tag}). Every alternative ends in an empty named group,
# so `match.lastgroup` says which anchor matched and `match.start(group)` is just after its keyword.
_LOWER_SCANS: Final = tuple(
    re.compile(pattern, re.VERBOSE)
    for pattern in (
        rb"""k(?:
            en(?<=token)(?P<kw_token>)"""
        + _TAIL
        + rb"""
          | ey(?:(?<=apikey)|(?<=api_key)|(?<=api-key)|(?<=accesskey)|(?<=access_key)|(?<=access-key)
                |(?<=privatekey)|(?<=private_key)|(?<=private-key)|(?<=secretkey)|(?<=secret_key)
                |(?<=secret-key)|(?<=accountkey)|(?<=signingkey)|(?<=signing_key)|(?<=masterkey)
                |(?<=master_key)|(?<=encryptionkey)|(?<=encryption_key))(?P<kw_key>)"""
        + _TAIL
        + rb"""
          | ey(?<=private\ key)(?:\ block)?-----(?P<pem>)
          | -(?<=sk-)(?P<sk>)
          | _(?:live|test)_(?<=[srp]k_live_|[srp]k_test_)(?P<stripe>)
          | s\.slack\.com/(?<=hooks\.slack\.com/)(?P<slack_hook>)
          | s/(?<=webhooks/)(?P<discord_hook>)
        )""",
        rb"""w(?:(?<=passw)(?P<kw_passw>)|d(?<=pwd)(?P<kw_pwd>))""" + _TAIL,
        rb"""cr(?:et(?<=secret)(?P<kw_secret>)|edential(?P<kw_credential>))""" + _TAIL,
        rb"""h(?:
            (?<=auth)(?P<kw_auth>)"""
        + _TAIL
        + rb"""
          | rase(?<=passphrase)(?P<kw_passphrase>)"""
        + _TAIL
        + rb"""
          | [pousr]_(?<=gh[pousr]_)(?P<github>)
          | ub_pat_(?<=github_pat_)(?P<github_pat>)
          | f_(?<=hf_)(?P<huggingface>)
        )""",
        rb"""x(?:ox[abeoprs]-(?P<slack>)|app-(?P<slack_app>)|-(?<=gocspx-)(?P<google_oauth>))""",
    )
)

# (start, end, kind) of one secret, in original offsets.
_Hit = tuple[int, int, str]
_Out = list[_Hit]


def _add(out: _Out, m: re.Match[str] | None, kind: str, group: int | str = 0) -> int:
    """Record a stage-2 match; returns where the scan may resume (so a match is handled once)."""
    if m is None:
        return -1
    out.append((m.start(group), m.end(group), kind))
    return m.end()


def _on_sk(text: str, at: int, out: _Out) -> None:
    start = at - 1  # the anchor is the `k` of `sk-`
    if _add(out, _ANTHROPIC.match(text, start), "anthropic-key") < 0:
        m = _OPENAI.match(text, start)
        if m is not None and _looks_random(m["body"], 20):
            _add(out, m, "openai-key")


def _on_stripe(text: str, at: int, out: _Out) -> None:
    _add(out, _STRIPE.match(text, at - 1), "stripe-key")


def _on_slack_hook(text: str, at: int, out: _Out) -> None:
    _add(out, _SLACK_WEBHOOK.match(text, at - 3), "slack-webhook", "s")  # the `k` of `hooks`


def _on_discord_hook(text: str, at: int, out: _Out) -> None:
    start = text.rfind("discord", max(0, at - 40), at)
    if start >= 0:
        _add(out, _DISCORD_WEBHOOK.match(text, start), "discord-webhook", "s")


def _on_pem(text: str, at: int, out: _Out) -> None:
    start = text.rfind("-----BEGIN", max(0, at - 64), at)
    if start >= 0:  # otherwise this is an END line, inside a block already handled
        _add(out, _PEM.match(text, start), "private-key")


def _on_github(text: str, at: int, out: _Out) -> None:
    m = _GITHUB.match(text, at - 1)
    if m is not None and _looks_random(m.group(), 20):
        _add(out, m, "github-token")


def _on_github_pat(text: str, at: int, out: _Out) -> None:
    _add(out, _GITHUB.match(text, at - 3), "github-token")  # the `h` of `github`


def _on_huggingface(text: str, at: int, out: _Out) -> None:
    m = _HUGGINGFACE.match(text, at)
    if m is not None and _looks_random(m.group(), 20):
        _add(out, m, "huggingface-token")


def _on_slack(text: str, at: int, out: _Out) -> None:
    m = _SLACK_TOKEN.match(text, at)
    if m is not None and any(c.isdigit() for c in m.group()):
        _add(out, m, "slack-token")


def _on_google_oauth(text: str, at: int, out: _Out) -> None:
    _add(out, _GOOGLE_OAUTH.match(text, at - 5), "google-oauth-secret")


_TOKEN_HANDLERS: Final[dict[str, Callable[[str, int, _Out], None]]] = {
    "sk": _on_sk,
    "stripe": _on_stripe,
    "slack_hook": _on_slack_hook,
    "discord_hook": _on_discord_hook,
    "pem": _on_pem,
    "github": _on_github,
    "github_pat": _on_github_pat,
    "huggingface": _on_huggingface,
    "slack": _on_slack,
    "slack_app": _on_slack,
    "google_oauth": _on_google_oauth,
}

# Keyword families: which kind a value gets, and whether it is a password (looser value rules:
# passwords are chosen by people, so they need not look random).
_KEYWORD_KIND: Final = {
    "kw_token": "token",
    "kw_auth": "token",
    "kw_key": "api-key",
    "kw_secret": "secret",
    "kw_credential": "secret",
    "kw_passw": "password",
    "kw_pwd": "password",
    "kw_passphrase": "password",
}

_NAME_BYTES: Final = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_.-")


def _rest_is_not_a_secret(tag: str, rest: str) -> bool:
    """`rest` is what follows the keyword inside the name, lowercased."""
    if tag == "kw_auth":
        # auth, basic_auth, authorization, authToken; not author, authenticate, authority, oauth...
        return not (
            rest == "" or rest[0] in "_-." or rest.startswith(("orization", "token", "key", "header"))
        )
    if tag == "kw_token" and rest.startswith(("iz", "is")):
        return True  # tokenizer, tokenize, tokenise
    if tag == "kw_passw" and not (rest == "" or rest.startswith(("ord", "d"))):
        return True
    if tag == "kw_secret" and rest.startswith("ar"):
        return True  # secretary
    words = rest.replace("-", "_").replace(".", "_").strip("_")
    return words.endswith(_NOT_A_SECRET_SUFFIXES) and not words.endswith(("key", "token", "secret"))


def _on_keyword(text: str, low: bytes, m: re.Match[bytes], tag: str, out: _Out) -> None:
    kw_end = m.start(tag)
    a = _ASSIGNMENT.match(text, kw_end)
    if a is None:
        return
    name_end = a.end("rest")
    # Walk back to the start of the name; names are short, and this runs only for anchors that
    # already look like an assignment.
    name_start = m.start()
    floor = max(0, name_start - 96)
    while name_start > floor and low[name_start - 1] in _NAME_BYTES:
        name_start -= 1
    if _rest_is_not_a_secret(tag, text[kw_end:name_end].lower()):
        return
    name = text[name_start:name_end]
    sep = a["sep"]
    if sep is None and a["ann"] is None and not name.startswith("-"):
        return  # blanks separate a value only after a command-line flag
    if sep == ">" and (name_start == 0 or text[name_start - 1] != "<"):
        return  # `<password>value</password>`, not `token->value`
    quoted = a["vq"] is not None
    value = a["qv"] if quoted else a["uv"]
    if value is None or (not quoted and a["call"]):
        return  # getpass(), os.environ["API_KEY"], request.headers[...]
    scheme = (a["qscheme"] or a["uscheme"] or "").lower()
    start = a.start("qv") if quoted else a.start("uv")
    if scheme == "basic":
        if _BASIC_VALUE.fullmatch(value):
            out.append((start, start + len(value), "basic-auth"))
        return
    kind = _KEYWORD_KIND[tag]
    env_style = sep == "=" and not quoted and name.isupper() and text[name_end] == "="
    if not _plausible_value(value, kind == "password", quoted, env_style or name.startswith("-")):
        return
    if scheme == "bearer":
        kind = "bearer-token"
    elif kind in ("secret", "api-key"):
        folded = name.lower().replace("_", "").replace("-", "")
        if ("aws" in folded or "secretaccesskey" in folded) and _AWS_SECRET_VALUE.fullmatch(value):
            kind = "aws-secret-key"
    out.append((start, start + len(value), kind))


def _scan_lower(text: str, out: _Out) -> None:
    # One '?' per non-ASCII character keeps offsets identical to the original text.
    low = text.encode("ascii", "replace").lower()
    for scan in _LOWER_SCANS:
        for m in scan.finditer(low):
            tag = m.lastgroup
            assert tag is not None  # every alternative ends in a named group
            handler = _TOKEN_HANDLERS.get(tag)
            if handler is not None:
                handler(text, m.start(), out)
            else:
                _on_keyword(text, low, m, tag, out)


# --------------------------------------------------------------------------------------------
# Anchors on rare characters of the original text.

# After this many anchors a text counts as dense (base64, minified data): one C scan for the rest
# beats a Python step per anchor.
_SPARSE_LIMIT: Final = 32


def _scan_rare(
    text: str, char: str, step: Callable[[str, int, _Out], int], dense: re.Pattern[str], out: _Out
) -> None:
    i = text.find(char)
    seen = 0
    while i >= 0:
        seen += 1
        if seen > _SPARSE_LIMIT:
            resume = i
            for m in dense.finditer(text, i):
                if m.start() >= resume:
                    resume = max(m.start() + 1, step(text, m.start(), out))
            return
        i = text.find(char, max(i + 1, step(text, i, out)))


def _step_url(text: str, at: int, out: _Out) -> int:
    start = text.rfind("://", max(0, at - 256), at)
    if start < 0:
        return -1
    m = _URL_USERINFO.match(text, start)
    if m is None or m.end() != at + 1:
        return -1
    pw = m["pw"]
    if _is_reference(pw, False) or _is_placeholder(pw) or pw.startswith("[REDACTED"):
        return -1
    if text.startswith(("sha256:", "sha512:"), at + 1):
        return -1  # image@sha256:digest, not a password
    return _add(out, m, "url-password", "pw")


def _step_jwt(text: str, at: int, out: _Out) -> int:
    return _add(out, _JWT.match(text, at - 2), "jwt")  # the anchor is the `J` of `eyJ`


def _step_bearer(text: str, at: int, out: _Out) -> int:
    m = _BEARER.match(text, at)
    if m is None or not _looks_random(m["s"], 16):
        return -1
    return _add(out, m, "bearer-token", "s")


def _step_aws_google(text: str, at: int, out: _Out) -> int:
    if text.startswith("AIza", at):
        return _add(out, _GOOGLE_API_KEY.match(text, at), "google-api-key")
    return _add(out, _AWS_ACCESS_KEY.match(text, at), "aws-access-key")


# (anchor character, step at an anchor, C scan for dense texts). The dense patterns put the
# anchor character first, so the step gets the same position either way.
_RARE_SCANS: Final = (
    ("@", _step_url, re.compile("@")),
    ("J", _step_jwt, re.compile("J(?<=eyJ)")),
    ("B", _step_bearer, re.compile("Bearer")),
    # AKIA, ASIA, AIza: `A` is not rare in code, but one `str.find` per hit is still cheaper than
    # another full scan on typical text, and dense texts switch to the C scan.
    ("A", _step_aws_google, re.compile("A(?:KIA|SIA|Iza)")),
)


# --------------------------------------------------------------------------------------------
# Public API.


def _scan(text: str) -> list[Finding]:
    if len(text) < _MIN_TEXT_LEN:
        return []
    out: _Out = []
    _scan_lower(text, out)
    for char, step, dense in _RARE_SCANS:
        _scan_rare(text, char, step, dense, out)
    if not out:
        return []
    # Merge overlapping hits into one replacement; the most specific kind names it.
    out.sort()
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
    findings = _scan(text)
    return _apply(text, findings) if findings else text


def contains_secret(text: str) -> bool:
    return bool(_scan(text))


@functools.lru_cache(maxsize=4096)
def _key_kind(key: str) -> str | None:
    """The kind a JSON key names when its whole value is a secret (`{"api_key": "..."}`).

    Cached: a transcript repeats the same few hundred keys millions of times."""
    low = key.encode("ascii", "replace").lower() + b"="  # _TAIL wants a separator after the name
    for scan in _LOWER_SCANS:
        for m in scan.finditer(low):
            tag = m.lastgroup
            if tag in _KEYWORD_KIND and not _rest_is_not_a_secret(tag, key[m.start(tag) :].lower()):
                return _KEYWORD_KIND[tag]
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
        changed: dict[object, object] | None = None
        for key, inner in value.items():
            new = _redact_keyed(key, inner) if isinstance(key, str) else redact_json_value(inner)
            if new is not inner:
                if changed is None:
                    changed = dict(value)
                changed[key] = new
        return value if changed is None else changed
    if isinstance(value, list | tuple):
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
    return value


def _redact_keyed(key: str, inner: object) -> object:
    if isinstance(inner, str) and len(inner) >= 4 and _BLANK.search(inner) is None:
        kind = _key_kind(key)
        if kind is not None and _plausible_value(inner, kind == "password", True, False):
            return f"[REDACTED:{kind}]"
    return redact_json_value(inner)
