"""Whether a value found after a secret-naming key is a literal secret (pure, standard library).

`KEY=value`, `"password": "..."`, `--token value`: redaction.py finds the key; these checks decide
whether what follows is the secret itself, or a placeholder, a variable, a file path, a number, an
identifier in code or a word, which stay. Keys look machine-made; passwords need not, so they get
their own, looser rule.
"""

from __future__ import annotations

import re

# See redaction.py: `typing` costs the hook handler import time on every tool call.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

_NUMBER: Final = re.compile(r"[+-]?(?:\d[\d_,]*)?\.?\d+(?:[eE][+-]?\d+)?[kKmMgGsS%]?")
_IDENTIFIER: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_FILE_EXT: Final = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,5}$")
# Values that are obviously not a real secret: fill characters, "<your-token>", "changeme", type
# names, booleans. Matched against the whole value, lowercased.
_PLACEHOLDER: Final = re.compile(
    r"""(?:x+|\*+|\.+|-+|_+|\#+|0+|\?+
      |(?:my|the|some|fake|test|sample|example)[-_]?(?:secret|token|password|pass|key|api[-_]?key)s?
      |secret|secrets|token|tokens|password|passwd|pass|pwd|key|apikey|api[-_]key|credentials?|auth
      |none|null|nil|undefined|true|false|yes|no|on|off|required|optional|default|empty|unset
      |(?:str|string|bytes|int|integer|bool|boolean|text|value|any|object|secretstr|secretbytes)\??
      |test|testing|example|sample|foo|bar|baz|foobar|hidden|masked|omitted|unknown|invalid)""",
    re.VERBOSE,
)
# ...and words that make any value a placeholder ("your-api-key-here", "<REPLACE_ME>").
_PLACEHOLDER_HINT: Final = re.compile(
    r"your|[-_.]here\b|dummy|placeholder|redacted|change[-_]?me|replace[-_]?(?:me|with)"
)


def is_placeholder(value: str) -> bool:
    folded = value.lower()
    return _PLACEHOLDER.fullmatch(folded) is not None or _PLACEHOLDER_HINT.search(folded) is not None


# A run of 8+ alphanumerics holding a digit and a letter: a date, a version or a word with
# a number ("utf-8", "2024-01-01", "v1.2.3", "python3") has none; a key almost always does. Tried
# only where a run starts, with possessive scans, so it stays linear on long values.
_MIXED_RUN: Final = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]{8})(?=[A-Za-z]*+[0-9])(?=[0-9]*+[A-Za-z])")
_SAME_CASE_RUN: Final = re.compile(r"[a-z]{6}|[A-Z]{6}")
_CAMEL_WORDS: Final = re.compile(r"[A-Z][a-z]{2,}[A-Z][a-z]{2,}")
# Natural-language values ("Incorrect", "no-password-required", "IAmSensitive", "USER_AUTH"):
# labels and docs examples in code far more often than passwords. A word starts after a
# separator or at a capital, so there is one way to split and no backtracking.
_WORDS: Final = re.compile(r"[A-Za-z][a-z]*+(?:[-_. ][A-Za-z][a-z]*+|[A-Z][a-z]*+)*+")
# Generated with punctuation: at least 4 digits, 4 letters and 2 symbols, never 8 letters in a row.
_SYMBOL_SOUP: Final = re.compile(
    r"(?=(?:[^0-9]*[0-9]){4})(?=(?:[^A-Za-z]*[A-Za-z]){4})(?=(?:[A-Za-z0-9]*[^A-Za-z0-9]){2})(?!.*[A-Za-z]{8})[\x21-\x7e]+"
)
_KEYWORD_IN_VALUE: Final = re.compile(r"(?i)pass|secret|token|key")


def looks_random(value: str, min_len: int) -> bool:
    """Machine-made rather than words: a run of alphanumerics mixing digits and letters, or upper
    and lower case interleaved (CamelCase words have long same-case runs; keys do not)."""
    if len(value) < min_len:
        return False
    if _MIXED_RUN.search(value) is not None:
        return True
    if len(value) >= 16 and _SYMBOL_SOUP.fullmatch(value) is not None:
        return True  # Django's `x(3k#9p@q!z8m2w$e7…`: digits and letters broken up by symbols
    if len(value) < 20 or _SAME_CASE_RUN.search(value) is not None:
        return False
    upper = sum(1 for c in value if c.isupper())
    lower = sum(1 for c in value if c.islower())
    return upper >= 4 and lower >= 4 and 0.25 <= upper / (upper + lower) <= 0.75


def is_reference(value: str, quoted: bool) -> bool:
    """A variable, template or expression standing for the secret, not the secret itself."""
    # Unquoted, a leading sigil is YAML (`!vault`, `&anchor`, `*alias`), a comment or an
    # expression; inside quotes it may be the first character of a real password.
    if value[0] in ("$%{<" if quoted else "$%{<&*!@#(["):
        return True
    return "${" in value or "{{" in value or ("{" in value and "}" in value) or "<" in value or "://" in value


def plausible_value(value: str, password_like: bool, quoted: bool, bare_is_literal: bool) -> bool:
    """Whether `value`, found after a secret-naming key, is a literal secret.

    `bare_is_literal`: an unquoted word is the value itself (an env file, `KEY=value`), not a
    variable in code (`password = pw`)."""
    if not value or value.startswith("[REDACTED") or is_reference(value, quoted) or "(?" in value:
        return False  # (a regex is not a secret either)
    if not any(c.isalnum() for c in value):
        return False  # "****", ":***", "..."
    if _NUMBER.fullmatch(value) or is_placeholder(value):
        return False
    if value.startswith(("./", "../", "~/")) or (("/" in value or "\\" in value) and _FILE_EXT.search(value)):
        return False  # a file path (the secret is in the file, not here)
    if value[0] == "/" and not looks_random(value, 20):
        return False  # an absolute path; a base64 secret may start with "/" too, but is random
    if password_like:
        if len(value) < (4 if quoted else 6):
            return False
        if bare_is_literal:
            return True
        if not quoted and _IDENTIFIER.fullmatch(value):
            return any(c.isdigit() for c in value) and "." not in value  # `password = pw` is code
        # People choose passwords, so they need not look random; but a lone word or identifier
        # is a label, an enum value or a docs example far more often ("Incorrect",
        # "not_supported", "no-password-required"). Kebab-case passphrases stay secrets.
        if _WORDS.fullmatch(value) is None:
            return True
        return "-" in value and _KEYWORD_IN_VALUE.search(value) is None
    if not quoted and _IDENTIFIER.fullmatch(value) and ("." in value or _CAMEL_WORDS.search(value)):
        return False  # settings.SECRET_KEY, self.token, `private_key: PKCS7PrivateKeyTypes`
    return looks_random(value, 8)
