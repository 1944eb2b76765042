"""Where the secrets are: every finding of a text as (start, end, kind), unmerged (redaction.py
merges and applies them). Pure and standard-library only: the hook handler imports it through
redaction.py.

Speed is the design constraint: the importer pushes ~1 GB of transcripts through here, and almost
none of it holds a secret. Python has no multi-pattern search in C, and every `re` scan of a text
costs about the same (~1 byte per cycle) whatever it looks for, so the work is split in two:

1. Few C-level scans find *anchors*. Five `re` scans run over one ASCII-lowercased copy (the
   copy makes every keyword case-insensitive at once); each pattern starts with a literal
   (`k`, `w`, `cr`, `h`, `x`) so `re` runs its fast literal-prefix loop, and lookbehinds check
   the rest of the anchor (`ken(?<=token)`). Keyword anchors must also be followed by an
   assignment-shaped tail (`name = `, `"name": `) whose value is not a number, a container or
   true/false/null, so prose and code that merely mention "token" rarely reach Python. Anchors on
   characters many texts lack (`@` of a URL's userinfo, `J` of a JWT's `eyJ`, `A` of AWS and
   Google keys) start with `str.find`, which is memchr-fast and skips the scan when absent.
2. Each anchor runs one precise regex on the original text at that position, then plausibility
   checks in Python (is the value a literal, random-looking, not a placeholder or a variable).

The vendor formats of secret_formats.py add one scan per separator character (`-`, `_`, `.`,
`~`), each trying only the anchors that end in the character before the separator; formats
without a separator are anchored in the `A` and `k` scans or found by `str.find` of a long
literal (cheap: a long needle lets `find` skip). The hits are unmerged: redaction.py merges them.
"""

from __future__ import annotations

import re

from agent_trace.domain import secret_formats as _formats
from agent_trace.domain.secret_keywords import on_keyword
from agent_trace.domain.secret_values import is_placeholder, is_reference, looks_random

TYPE_CHECKING = False  # see redaction.py: `typing` costs the hook handler import time
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Final


# --------------------------------------------------------------------------------------------
# Stage 2 regexes: run on the original text at an anchor, never over the whole text.

_B64URL = r"A-Za-z0-9_\-"
_NOT_B64URL_BEFORE = rf"(?<![{_B64URL}])"
_NOT_B64URL_AFTER = rf"(?![{_B64URL}])"

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
_HUGGINGFACE: Final = re.compile(r"(?<![A-Za-z0-9_])hf_[A-Za-z]{34}(?![A-Za-z0-9_])")
# The whole block, BEGIN to END. A block cut short (a `head` of the file, a truncated tool
# output) still loses its header lines and every base64 line after BEGIN. The body may only hold
# base64, blanks and `Name: value` header lines, so prose that merely names the markers is left
# alone. Newlines may be JSON-escaped (`\n`, `\\n`): they are eaten whole, so redacting JSON
# text never leaves half an escape behind.
_PEM_LINE_BREAK = r"(?:\s|\\{1,3}[nrt])+"
_PEM_HEADER = r"[A-Za-z][A-Za-z-]*:[^\n\\]*"  # Proc-Type: 4,ENCRYPTED (before base64: "Proc" is base64 too)
_PEM_BODY = (  # the first break may be missing: env vars often hold the key on one line
    rf"(?:{_PEM_LINE_BREAK})?(?:{_PEM_HEADER}|[A-Za-z0-9+/=]{{8,}})"
    rf"(?:{_PEM_LINE_BREAK}(?:{_PEM_HEADER}|[A-Za-z0-9+/=]+))*"
)
_PEM: Final = re.compile(
    rf"-----BEGIN[A-Z0-9 ]{{0,40}}PRIVATE KEY(?: BLOCK)?-----{_PEM_BODY}"
    r"(?:(?:\s|\\{1,3}[nrt])*-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----)?"
)
# scheme://user:password@host; only the password goes. A `\` never occurs in a URL's userinfo and
# excluding it keeps JSON escapes intact.
_URL_USERINFO: Final = re.compile(r"://(?P<user>[^\s:/?#@\"'<>\\]*):(?P<pw>[^\s/?#@\"'<>\\]+)@")


# --------------------------------------------------------------------------------------------
# Stage 1: anchors over the lowercased text.

# After a keyword: the rest of the name, an optional closing quote, then a separator (or blanks
# before a flag value), and not an obvious non-secret (a number, a container, true/false/null).
# This keeps `for token in tokens`, prose, and the `"input_tokens": 5` of every transcript line
# out of Python.
_TAIL: Final = (
    r"""[a-z0-9_.\-]{0,48}(?:\\{0,3}["'`])?"""
    r"""(?:[ \t]*[:=>](?![ \t]*(?:[-+]?[\d.]++(?![a-z_])|[{\[(\r\n]|(?:null|true|false|none|nil)(?![\w])|$))"""
    r"""|[ \t]+[^\s])"""
)

# Every alternative ends in an empty named group, so `match.lastgroup` says which anchor matched
# and `match.start(group)` is just after its keyword. Alternatives are shaped as a trie on the
# byte after the prefix, because `re` skips a branch on its first literal without entering it:
# the text has thousands of `k` and `h` per MB, and each costs one failed attempt.
LOWER_SCANS: Final = tuple(
    re.compile(
        pattern.replace("<TAIL>", _TAIL).replace("<K_ANCHORS>", _formats.K_ANCHORS), re.VERBOSE | re.ASCII
    )
    for pattern in (
        r"""k(?:
            e(?:n(?<=token)(?P<kw_token>)<TAIL>
               |y(?:(?<=api[_\-.\ ]key)|(?<=apikey)|(?<=access[_\-.\ ]key)|(?<=accesskey)
                   |(?<=private[_\-.]key)|(?<=privatekey)|(?<=secret[_\-.\ ]key)|(?<=secretkey)
                   |(?<=account[_\-.]key)|(?<=accountkey)|(?<=signing[_\-.]key)|(?<=signingkey)
                   |(?<=master[_\-.]key)|(?<=masterkey)|(?<=encryption[_\-.]key)|(?<=encryptionkey)
                   |(?<=app[_\-.]key)|(?<=appkey)|(?<=application[_\-.]key)|(?<=applicationkey)
                   |(?<=auth[_\-.]key)|(?<=authkey)|(?<=license[_\-.]key)|(?<=licensekey)
                   |(?<=consumer[_\-.]key)|(?<=consumerkey)|(?<=client[_\-.]key)|(?<=session[_\-.]key)
                   |(?<=webhook[_\-.]key)|(?<=integration[_\-.]key)|(?<=routing[_\-.]key)
                 )(?P<kw_key>)<TAIL>
               |y(?<=private\ key)(?:\ block)?-----(?P<pem>))
          | -(?<=sk-)(?P<sk>)
          | _(?:live|test)_(?<=[srp]k_live_|[srp]k_test_)(?P<stripe>)
          | s(?:\.slack\.com/(?<=hooks\.slack\.com/)(?P<slack_hook>)|/(?<=webhooks/)(?P<discord_hook>))
          <K_ANCHORS>
        )""",
        r"""w(?:(?<=passw)(?P<kw_passw>)|d(?<=pwd)(?P<kw_pwd>))<TAIL>""",
        r"""cr(?:et(?<=secret)(?P<kw_secret>)|edential(?P<kw_credential>))<TAIL>""",
        r"""h(?:[pousr]_(?<=gh[pousr]_)(?P<github>)
            | ub_pat_(?<=github_pat_)(?P<github_pat>)
            | f_(?<=hf_)(?P<huggingface>)
            | rase(?<=passphrase)(?P<kw_passphrase>)<TAIL>
            | (?<=auth)(?P<kw_auth>)<TAIL>
        )""",
        r"""x(?:ox[abeoprs]-(?P<slack>)|app-(?P<slack_app>)|-(?<=gocspx-)(?P<google_oauth>))""",
    )
)

_LOWER_SEARCHES: Final = tuple(scan.search for scan in LOWER_SCANS)

# (start, end, kind) of one secret, in original offsets.
_Hit = tuple[int, int, str]
_Out = list[_Hit]


def _add(out: _Out, m: re.Match[str] | None, kind: str, group: int | str = 0) -> bool:
    """Record a stage-2 match (its `group` is the secret); whether there was one."""
    if m is None:
        return False
    out.append((m.start(group), m.end(group), kind))
    return True


def _on_sk(text: str, at: int, out: _Out) -> None:
    start = at - 1  # the anchor is the `k` of `sk-`
    if not _add(out, _ANTHROPIC.match(text, start), "anthropic-key"):
        m = _OPENAI.match(text, start)
        if m is not None and looks_random(m["body"], 20):
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
    if m is not None and looks_random(m.group(), 20):
        _add(out, m, "github-token")


def _on_github_pat(text: str, at: int, out: _Out) -> None:
    _add(out, _GITHUB.match(text, at - 3), "github-token")  # the `h` of `github`


def _on_huggingface(text: str, at: int, out: _Out) -> None:
    m = _HUGGINGFACE.match(text, at)
    if m is not None and not m.group().islower() and not m.group()[3:].isupper():  # random case
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


_LOWER_SLICE: Final = 1 << 16


def lowered(text: str) -> str:
    """`text` in ASCII lower case, each non-ASCII character as one "?" so offsets stay the same
    (`str.lower` may change the length of non-ASCII text, and is slow on it)."""
    if text.isascii():
        return text.lower()
    if len(text) <= _LOWER_SLICE:
        return text.encode("ascii", "replace").lower().decode("ascii")
    # One emoji makes a whole string wide, and encoding a wide string costs ~4x `str.lower`; but
    # a slice is narrow again when it is ASCII, as most slices of a long text are.
    return "".join(lowered(text[i : i + _LOWER_SLICE]) for i in range(0, len(text), _LOWER_SLICE))


def _on_format(text: str, m: re.Match[str], tag: str, out: _Out) -> None:
    """An anchor of secret_formats.SEPARATED: its row's exact regex, from the prefix."""
    at = m.start()
    if tag == "cli_flag":
        _on_cli_flag(text, at, out)
        return
    pattern, offset, kind = _formats.ROWS[tag]
    if offset is None:
        found = pattern.search(text, max(0, at - _formats.WINDOW), at + 2 * _formats.WINDOW)
    else:
        found = pattern.match(text, at - offset) if at >= offset else None
    if found is not None:
        out.append((*_secret_span(found), kind))


def _on_cli_flag(text: str, at: int, out: _Out) -> None:
    """`-p…`, `-u …`, `-a …` after a command known to take a password in that flag."""
    line_start = max(text.rfind("\n", max(0, at - 400), at) + 1, at - 400)
    command = _formats.CLI_COMMAND.search(text, line_start, at)
    if command is None:
        return
    name = command["cmd"].lower()
    name = (
        "mysql"
        if name.startswith(("mysql", "mariadb"))
        else "docker"
        if name in ("podman", "nerdctl")
        else name
    )
    flags = _formats.CLI_FLAGS.get("curl" if name == "wget" else name)
    if flags is None or (name == "docker" and " login" not in text[command.end("cmd") : at]):
        return
    found = flags.match(text, at)
    if found is None:
        return
    pw = found["pw"]
    if is_reference(pw, bool(found["q"])) or is_placeholder(pw) or pw.startswith("[REDACTED"):
        return
    out.append((found.start("pw"), found.end("pw"), "password"))


def _scan_formats(text: str, low: str, out: _Out) -> None:
    for sep, scan in _FORMAT_SEARCHES:
        if sep in _RARE_SEPARATORS and sep not in low:
            continue  # one memchr instead of a scan
        m = scan(low)
        while m is not None:
            tag = m.lastgroup
            assert tag is not None
            _on_format(text, m, tag, out)
            m = scan(low, m.end())
    for literal, pattern, kind in _formats.FOUND_BY_FIND:
        i = text.find(literal)
        while i >= 0:
            found = pattern.match(text, i)
            if found is not None:
                out.append((*_secret_span(found), kind))
                i = found.end() - 1
            i = text.find(literal, i + 1)


_FORMAT_SEARCHES: Final = tuple(
    (scan.pattern.lstrip("\\")[0], scan.search) for scan in _formats.SEPARATOR_SCANS
)
_RARE_SEPARATORS: Final = frozenset("~")


def _scan_lower(text: str, out: _Out) -> None:
    low = lowered(text)
    _scan_formats(text, low, out)
    for search in _LOWER_SEARCHES:
        # `search` in a loop, not `finditer`: most scans find nothing, and for the typical
        # kilobyte-sized string the iterator's setup costs as much as the scan.
        m = search(low)
        while m is not None:
            tag = m.lastgroup
            assert tag is not None  # every alternative ends in a named group
            handler = _TOKEN_HANDLERS.get(tag)
            if handler is not None:
                handler(text, m.start(), out)
            elif tag in _formats.LITERAL_ROWS:
                _on_literal(text, m, tag, out)
            else:
                on_keyword(text, low, m, tag, out)
            m = search(low, m.end())


# --------------------------------------------------------------------------------------------
# Anchors in the original text, where case matters. `str.find` (memchr speed) looks for a
# character each needs; absent, nothing else runs. `@` and `J` are rare in most text, so a
# Python step per occurrence is cheaper than a scan, until a text turns out dense with them.

# Literal first, so `re` uses its fast prefix loop; the lookbehind after it checks that no key
# character precedes.
_AWS_OR_GOOGLE: Final = re.compile(
    r"A(?:[KS]IA(?<![A-Za-z0-9]....)[A-Z0-9]{16}(?![A-Za-z0-9])(?P<aws>)"
    r"|Iza(?<![A-Za-z0-9_\-]....)[A-Za-z0-9_\-]{35}(?![A-Za-z0-9_\-])(?P<gapi>)" + _formats.A_ANCHORS + ")"
)
# Starts at the `J` of `eyJ` (the token starts 2 before): a scan stopping at each `J` is far
# cheaper than one stopping at each `e`.
_JWT_AT_J: Final = re.compile(
    rf"J(?<=eyJ)(?<![{_B64URL}]eyJ)[{_B64URL}]{{8,}}\.eyJ[{_B64URL}]{{8,}}\.[{_B64URL}]*"
)


# A text with more anchors than this is dense (base64, minified data, a mail log): one C scan for
# the rest beats a Python step per anchor.
_SPARSE: Final = 16


def _scan_original(text: str, out: _Out) -> None:
    # scheme://user:password@host: step from "@" to "@" (memchr), look back for "://".
    at = text.find("@")
    seen = 0
    while at >= 0:
        seen += 1
        if seen > _SPARSE:
            start = text.rfind("://", 0, at)
            for m in _URL_USERINFO.finditer(text, at if start < 0 else start):
                _on_url(text, m, out)
            break
        start = text.rfind("://", max(0, at - 256), at)
        if start >= 0:
            url = _URL_USERINFO.match(text, start)
            if url is not None and url.end() == at + 1:
                _on_url(text, url, out)
        at = text.find("@", at + 1)
    # JWTs: step from "J" to "J", and only an "eyJ" is worth a regex.
    j = text.find("J")
    seen = 0
    while j >= 0:
        seen += 1
        if seen > _SPARSE:
            for m in _JWT_AT_J.finditer(text, j):
                out.append((m.start() - 2, m.end(), "jwt"))
            break
        jwt = _JWT_AT_J.match(text, j)
        if jwt is not None:
            out.append((j - 2, jwt.end(), "jwt"))
            j = jwt.end()
        j = text.find("J", j + 1)
    i = text.find("A")
    if i >= 0:
        for m in _AWS_OR_GOOGLE.finditer(text, i):
            if m.lastgroup == "aws":
                out.append((m.start(), m.end(), "aws-access-key"))
                _aws_secret_near(text, m.start(), m.end(), out)
            elif m.lastgroup == "gapi":
                out.append((m.start(), m.end(), "google-api-key"))
            elif m.lastgroup in _formats.LITERAL_ROWS:
                _on_literal(text, m, m.lastgroup, out)
            else:  # a separated format anchored on its `A` (secret_formats.CASED_A)
                _on_format(text, m, str(m.lastgroup), out)


def _on_literal(text: str, m: re.Match[str], tag: str, out: _Out) -> None:
    """An anchor of secret_formats.LITERAL_FORMATS (in the `A` or `k` scan)."""
    pattern, literal, kind = _formats.LITERAL_ROWS[tag]
    start = m.start() - literal.lower().index("a" if "A" in literal else "k")
    found = pattern.match(text, start) if start >= 0 else None
    if found is not None:
        out.append((*_secret_span(found), kind))


def _secret_span(found: re.Match[str]) -> tuple[int, int]:
    """What a format's match redacts: its `secret` group if it names one, else all of it."""
    return found.span("secret") if found.re.groupindex else found.span()


# An AWS secret key has no prefix; bare, it is recognised beside its access key id (a
# credentials CSV, `aws configure` output, two env lines), as 40 random base64 characters.
_AWS_SECRET_BARE: Final = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_AWS_NEAR: Final = 240


def _aws_secret_near(text: str, start: int, end: int, out: _Out) -> None:
    for m in _AWS_SECRET_BARE.finditer(text, max(0, start - _AWS_NEAR), end + _AWS_NEAR):
        value = m.group()
        if (
            looks_random(value, 40)
            and any(c.isdigit() for c in value)
            and any(c.islower() for c in value)
            and any(c.isupper() for c in value)
        ):
            out.append((m.start(), m.end(), "aws-secret-key"))


def _on_url(text: str, m: re.Match[str], out: _Out) -> None:
    pw = m["pw"]
    if is_reference(pw, False) or is_placeholder(pw) or pw.startswith("[REDACTED"):
        return
    if not text.startswith(("sha256:", "sha512:"), m.end()):  # image@sha256:digest
        out.append((m.start("pw"), m.end("pw"), "url-password"))


def find_secrets(text: str, out: _Out) -> None:
    """Append every secret of `text` to `out` (overlaps included)."""
    _scan_lower(text, out)
    _scan_original(text, out)
