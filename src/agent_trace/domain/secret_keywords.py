"""Secrets recognised by the name in front of them: `password = …`, `API_KEY=…`, `--token …`,
`"client_secret": "…"`, `Authorization: Basic …`.

secret_scan.py finds a keyword followed by an assignment-shaped tail; `on_keyword` then reads the
whole assignment from the original text and decides, with secret_values.py, whether its value is
a literal secret. Pure and standard-library only (the hook handler imports it through
redaction.py).
"""

from __future__ import annotations

import re

from agent_trace.domain.secret_values import plausible_value

TYPE_CHECKING = False  # see redaction.py: `typing` costs the hook handler import time
if TYPE_CHECKING:
    from typing import Final

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
         (?P<uv>[^\s"'`\\,;&<>(){}\[\]]{1,4096})(?P<call>[(\[])?
    )""",
    re.VERBOSE,
)

_AWS_SECRET_VALUE: Final = re.compile(r"[A-Za-z0-9/+=]{40}")
BASIC_VALUE: Final = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")
# A name ending in one of these words after its keyword names something other than the secret
# (`token_url`, `max_tokens`... are numbers or addresses, `password_hash` is not the password).
_NOT_A_SECRET_SUFFIX: Final = re.compile(
    r"""(?:^s?|[_\-.])                                     # SecretsManager, token_count
    (?:counts?|types?|urls?|uri|endpoint|path|files?|dir|names?|ids?|len|length|size|limit|max|min
      |ttl|expiry|expires(?:[_\-.]?(?:at|in))?|expiration|env|var|header|field|prefix|suffix|kind
      |format|mode|policy|provider|ref|version|usage|budget|index|cost|rate|enabled|required|timeout
      |regex|pattern|label|hint|prompt|message|error|hash|salt|location|manager|service|store)$""",
    re.VERBOSE,
)


# The kind a keyword's value gets. Passwords get looser value rules: people choose them, so they
# need not look random.
KEYWORD_KIND: Final = {
    "kw_token": "token",
    "kw_auth": "token",
    "kw_key": "api-key",
    "kw_secret": "secret",
    "kw_credential": "secret",
    "kw_passw": "password",
    "kw_pwd": "password",
    "kw_passphrase": "password",
}

_NAME_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.-")


def rest_is_not_a_secret(tag: str, rest: str) -> bool:
    """`rest` is what follows the keyword inside the name, lowercased."""
    if tag == "kw_auth" and not (
        rest == "" or rest[0] in "_-." or rest.startswith(("orization", "token", "key", "header"))
    ):
        return True  # auth, basic_auth, authorization, authToken; not author, authenticate, oauth
    if tag == "kw_token" and rest.startswith(("iz", "is")):
        return True  # tokenizer, tokenize, tokenise
    if tag == "kw_passw" and not (rest == "" or rest.startswith(("ord", "d"))):
        return True
    if tag == "kw_secret" and rest.startswith("ar"):
        return True  # secretary
    return _NOT_A_SECRET_SUFFIX.search(rest) is not None


def on_keyword(text: str, low: str, m: re.Match[str], tag: str, out: list[tuple[int, int, str]]) -> None:
    kw_end = m.start(tag)
    a = _ASSIGNMENT.match(text, kw_end)
    if a is None:
        return
    name_end = a.end("rest")
    # Walk back to the start of the name; names are short, and this runs only for anchors that
    # already look like an assignment.
    name_start = m.start()
    floor = max(0, name_start - 96)
    while name_start > floor and low[name_start - 1] in _NAME_CHARS:
        name_start -= 1
    if rest_is_not_a_secret(tag, text[kw_end:name_end].lower()):
        return
    name = text[name_start:name_end]
    if "public" in name.lower():
        return  # public keys and .NET's publicKeyToken are meant to be seen
    sep = a["sep"]
    if (
        name_start > 0
        and text[name_start - 1] == ":"
        and (sep == ":" or text[name_start - 2 : name_start] == "::")
    ):
        return  # a segment of an ARN, URN or type name (`arn:aws:...:secret:x`, `AWS::IAM::AccessKey`)
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
        if BASIC_VALUE.fullmatch(value):
            out.append((start, start + len(value), "basic-auth"))
        return
    kind = KEYWORD_KIND[tag]
    if kind in ("secret", "api-key") and _AWS_SECRET_VALUE.fullmatch(value):
        folded = name.lower().replace("_", "").replace("-", "")
        if "aws" in folded or "secretaccesskey" in folded:
            out.append((start, start + len(value), "aws-secret-key"))
            return
    # `NAME=value` with an upper-case name and no blanks is an env file or a shell export, where
    # a bare word is the value itself rather than a variable.
    env_style = sep == "=" and name.isupper() and text[name_end] == "=" and text[a.end("sep")] != " "
    if not plausible_value(value, kind == "password", quoted, env_style):
        return
    out.append((start, start + len(value), "bearer-token" if scheme == "bearer" else kind))
