"""Well-known credential formats, as data: the vendor prefixes and shapes secret scanners agree on
(gitleaks' and detect-secrets' rules document the same formats, each from the vendor's own
docs). Pure and standard-library only: the hook handler imports it through redaction.py.

Each row is (kind, anchor, regex). The anchor is the lowercased end of the token's prefix,
ending in its separator (`npm_`, `glpat-`, `hvs.`): redaction.py finds anchors with one `re`
scan per separator character (a literal first, so `re` skips to it at memchr speed, and one
lookbehind on the character before it), and only at an anchor runs the row's exact,
case-sensitive regex, from the start of the prefix. A format without a separator in its prefix
is found from a rare literal instead (`LITERAL_FORMATS`, by `str.find`).
"""

from __future__ import annotations

import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Final

_T = r"(?![A-Za-z0-9_\-])"  # the token ends here
_S = r"(?<![A-Za-z0-9_\-])"  # …and starts here

# (kind, anchor, regex): the regex matches at the start of the prefix (anchor start - offset).
SEPARATED: Final = (
    ("gitlab-token", "glpat-", rf"{_S}glpat-[A-Za-z0-9_\-]{{20,}}"),
    ("gitlab-token", "gldt-", rf"{_S}gldt-[A-Za-z0-9_\-]{{20,}}"),
    ("gitlab-token", "glrt-", rf"{_S}glrt-[A-Za-z0-9_\-]{{20,}}"),
    ("gitlab-token", "glptt-", rf"{_S}glptt-[A-Za-z0-9_\-]{{20,}}"),
    ("gitlab-token", "glsoat-", rf"{_S}glsoat-[A-Za-z0-9_\-]{{20,}}"),
    ("gitlab-token", "glcbt-", rf"{_S}glcbt-[A-Za-z0-9_\-]{{20,}}"),
    ("gitlab-token", "glimt-", rf"{_S}glimt-[A-Za-z0-9_\-]{{25}}{_T}"),
    ("gitlab-token", "glagent-", rf"{_S}glagent-[A-Za-z0-9_\-]{{50,1024}}{_T}"),
    ("gitlab-token", "gloas-", rf"{_S}gloas-[A-Za-z0-9_\-]{{64}}{_T}"),
    ("gitlab-token", "glft-", rf"{_S}glft-[A-Za-z0-9_\-]{{20,}}"),
    ("npm-token", "npm_", rf"{_S}npm_[A-Za-z0-9]{{36}}{_T}"),
    ("pypi-token", "pypi-", rf"{_S}pypi-AgE[A-Za-z0-9_\-]{{50,}}"),
    ("sendgrid-key", "sg.", rf"{_S}SG\.[A-Za-z0-9_\-]{{22}}\.[A-Za-z0-9_\-]{{43}}{_T}"),
    ("shopify-token", "shpat_", rf"{_S}shpat_[a-fA-F0-9]{{32}}{_T}"),
    ("shopify-token", "shpca_", rf"{_S}shpca_[a-fA-F0-9]{{32}}{_T}"),
    ("shopify-token", "shppa_", rf"{_S}shppa_[a-fA-F0-9]{{32}}{_T}"),
    ("shopify-token", "shpss_", rf"{_S}shpss_[a-fA-F0-9]{{32}}{_T}"),
    ("digitalocean-token", "_v1_", rf"{_S}do[por]_v1_[a-f0-9]{{64}}{_T}"),
    ("mailgun-key", "key-", rf"{_S}key-[0-9a-z]{{32}}{_T}"),
    ("django-secret-key", "django-insecure-", r"django-insecure-[^\s'\"`\\]{20,}"),
    ("heroku-key", "hrku-", rf"{_S}HRKU-[A-Za-z0-9_\-]{{40,}}"),
    ("vault-token", "hvs.", rf"{_S}hvs\.[A-Za-z0-9_\-]{{24,}}"),
    ("vault-token", "hvb.", rf"{_S}hvb\.[A-Za-z0-9_\-]{{24,}}"),
    ("vault-token", "hvr.", rf"{_S}hvr\.[A-Za-z0-9_\-]{{24,}}"),
    ("linear-key", "lin_api_", rf"{_S}lin_api_[A-Za-z0-9]{{40}}{_T}"),
    ("postman-key", "pmak-", rf"{_S}PMAK-[a-f0-9]{{24}}-[a-f0-9]{{34}}{_T}"),
    ("doppler-token", "dp.pt.", rf"{_S}dp\.pt\.[A-Za-z0-9]{{40,44}}{_T}"),
    ("doppler-token", "dp.st.", rf"{_S}dp\.st\.(?:[a-z0-9\-_]{{2,35}}\.)?[A-Za-z0-9]{{40,44}}{_T}"),
    ("doppler-token", "dp.sa.", rf"{_S}dp\.sa\.[A-Za-z0-9]{{40,44}}{_T}"),
    ("grafana-token", "glc_", rf"{_S}glc_[A-Za-z0-9+/]{{32,400}}={{0,2}}"),
    ("grafana-token", "glsa_", rf"{_S}glsa_[A-Za-z0-9]{{32}}_[A-Fa-f0-9]{{8}}{_T}"),
    ("newrelic-key", "nrak-", rf"{_S}NRAK-[A-Z0-9]{{27}}{_T}"),
    ("pulumi-token", "pul-", rf"{_S}pul-[a-f0-9]{{40}}{_T}"),
    ("sentry-token", "sntrys_", rf"{_S}sntrys_eyJ[A-Za-z0-9+/=_]{{50,}}"),
    ("sentry-token", "sntryu_", rf"{_S}sntryu_[a-f0-9]{{64}}{_T}"),
    ("age-secret-key", "age-secret-key-", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    ("dropbox-token", "sl.", rf"{_S}sl\.[A-Za-z0-9_\-]{{130,}}"),
    ("figma-token", "figd_", rf"{_S}figd_[A-Za-z0-9_\-]{{40}}{_T}"),
    ("flyio-token", "fo1_", rf"{_S}fo1_[A-Za-z0-9_\-]{{43}}{_T}"),
    ("terraform-token", ".atlasv1.", rf"{_S}[A-Za-z0-9]{{14}}\.atlasv1\.[A-Za-z0-9_=\-]{{60,70}}"),
    ("replicate-token", "r8_", rf"{_S}r8_[A-Za-z0-9]{{37}}{_T}"),
    ("groq-key", "gsk_", rf"{_S}gsk_[A-Za-z0-9]{{52}}{_T}"),
    ("xai-key", "xai-", rf"{_S}xai-[A-Za-z0-9]{{80}}{_T}"),
    ("perplexity-key", "pplx-", rf"{_S}pplx-[A-Za-z0-9]{{48}}{_T}"),
    ("docker-token", "dckr_pat_", rf"{_S}dckr_pat_[A-Za-z0-9_\-]{{27,}}"),
    ("docker-token", "dckr_oat_", rf"{_S}dckr_oat_[A-Za-z0-9_\-]{{27,}}"),
    ("supabase-token", "sbp_", rf"{_S}sbp_[a-f0-9]{{40}}{_T}"),
    ("supabase-token", "sb_secret_", rf"{_S}sb_secret_[A-Za-z0-9_\-]{{30,}}"),
    ("netlify-token", "nfp_", rf"{_S}nfp_[A-Za-z0-9]{{36}}{_T}"),
    ("notion-token", "ntn_", rf"{_S}ntn_[0-9]{{11}}[A-Za-z0-9]{{35}}{_T}"),
    ("notion-token", "secret_", rf"{_S}secret_[A-Za-z0-9]{{43}}{_T}"),
    ("google-oauth-token", "ya29.", rf"{_S}ya29\.[0-9A-Za-z_\-]{{30,}}"),
    ("shippo-token", "shippo_live_", rf"{_S}shippo_live_[a-f0-9]{{40}}{_T}"),
    ("shippo-token", "shippo_test_", rf"{_S}shippo_test_[a-f0-9]{{40}}{_T}"),
    ("contentful-token", "cfpat-", rf"{_S}CFPAT-[A-Za-z0-9_\-]{{43}}{_T}"),
    ("prefect-key", "pnu_", rf"{_S}pnu_[A-Za-z0-9]{{36}}{_T}"),
    ("readme-key", "rdme_", rf"{_S}rdme_[a-z0-9]{{70}}{_T}"),
    ("planetscale-token", "pscale_tkn_", rf"{_S}pscale_tkn_[A-Za-z0-9_.\-]{{32,64}}"),
    ("planetscale-token", "pscale_pw_", rf"{_S}pscale_pw_[A-Za-z0-9_.\-]{{32,64}}"),
    ("rubygems-key", "rubygems_", rf"{_S}rubygems_[a-f0-9]{{48}}{_T}"),
    ("clojars-token", "clojars_", rf"{_S}CLOJARS_[a-z0-9]{{60}}{_T}"),
    ("dynatrace-token", "dt0c01.", rf"{_S}dt0c01\.[A-Z0-9]{{24}}\.[A-Z0-9]{{64}}{_T}"),
    ("flutterwave-key", "flwseck-", rf"{_S}FLWSECK-[a-h0-9]{{32}}-X{_T}"),
    ("flutterwave-key", "flwseck_test-", rf"{_S}FLWSECK_TEST-[a-h0-9]{{32}}-X{_T}"),
    ("sendinblue-key", "xkeysib-", rf"{_S}xkeysib-[a-f0-9]{{64}}-[A-Za-z0-9]{{16}}{_T}"),
    ("square-token", "sq0csp-", rf"{_S}sq0csp-[0-9A-Za-z_\-]{{43}}{_T}"),
    ("square-token", "sq0atp-", rf"{_S}sq0atp-[0-9A-Za-z_\-]{{22}}{_T}"),
    ("onepassword-token", "ops_", rf"{_S}ops_eyJ[A-Za-z0-9+/=_\-]{{100,}}"),
    ("tailscale-key", "tskey-", rf"{_S}tskey-[a-z]+-[A-Za-z0-9]{{6,}}-[A-Za-z0-9]{{16,}}"),
    ("mapbox-token", "sk.", rf"{_S}sk\.eyJ[A-Za-z0-9_\-]{{50,}}\.[A-Za-z0-9_\-]{{20,}}"),
    ("mailchimp-key", "-us", rf"{_S}[0-9a-f]{{32}}-us[0-9]{{1,2}}{_T}"),
    ("plaid-token", "access-production-", rf"access-production-[0-9a-f]{{8}}-[0-9a-f\-]{{27}}{_T}"),
    ("plaid-token", "access-sandbox-", rf"access-sandbox-[0-9a-f]{{8}}-[0-9a-f\-]{{27}}{_T}"),
    ("cloudflare-origin-key", "v1.0-", rf"{_S}v1\.0-[a-f0-9]{{24}}-[a-f0-9]{{146}}{_T}"),
    (
        "azure-ad-secret",
        "q~",
        rf"(?<![A-Za-z0-9_~.\-])[A-Za-z0-9_~.]{{3}}[0-9]Q~[A-Za-z0-9_~.\-]{{31,34}}{_T}",
    ),
    ("telegram-bot-token", ":aa", r"(?<![0-9])[0-9]{8,10}:AA[A-Za-z0-9_\-]{33}" + _T),
    # Discord bot tokens: base64 of the bot's numeric id (M/N/O…) . 6 . 27-38 (anchor: see below).
    (
        "discord-bot-token",
        ".",
        r"(?<![A-Za-z0-9_\-])[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}" + _T,
    ),
    # Only the key (group `secret`) of a SoftLayer API URL is redacted.
    (
        "softlayer-key",
        "softlayer.com/soap/",
        r"softlayer\.com/soap/v3(?:\.1)?/(?P<secret>[a-z0-9]{64})(?![a-z0-9])",
    ),
    ("harness-token", "pat.", rf"{_S}pat\.[A-Za-z0-9_\-]{{22}}\.[0-9a-f]{{24}}\.[A-Za-z0-9]{{20}}{_T}"),
)

# Formats whose prefix has no separator. Those with an `A` in the prefix are anchored in
# redaction.py's scan for `A` (AWS and Google keys), twilio's `SK` in its scan for `k`; the
# others are found by `str.find`. (kind, literal, regex matched at the literal).
LITERAL_FORMATS: Final = (
    ("atlassian-token", "ATATT3", rf"{_S}ATATT3[A-Za-z0-9_\-=]{{150,}}"),
    ("artifactory-key", "AKCp", rf"{_S}AKCp[A-Za-z0-9]{{69}}{_T}"),
    ("databricks-token", "dapi", rf"{_S}dapi[a-f0-9]{{32}}(?:-[0-9])?{_T}"),
    ("twilio-key", "SK", r"(?<![A-Za-z0-9])SK[0-9a-f]{32}(?![A-Za-z0-9])"),
    ("alibaba-key", "LTAI", r"(?<![A-Za-z0-9])LTAI[A-Za-z0-9]{20}(?![A-Za-z0-9])"),
    ("easypost-key", "EZAK", r"(?<![A-Za-z0-9])EZAK[A-Za-z0-9]{54}(?![A-Za-z0-9])"),
    ("gitlab-token", "GR1348941", rf"{_S}GR1348941[A-Za-z0-9_\-]{{20,50}}{_T}"),  # runner registration
    ("twilio-key", "AC", r"(?<![A-Za-z0-9])AC[0-9a-f]{32}(?![A-Za-z0-9])"),  # account SID
    # A PuTTY key file: its header line, `Name: value` lines and base64 lines (newlines may be
    # JSON-escaped, as in _PEM of redaction.py).
    (
        "private-key",
        "PuTTY-User-Key-File-",
        r"PuTTY-User-Key-File-[0-9]+:[^\n\\]*(?:(?:\r?\n|\\{1,3}r?\\{0,3}n)(?:[A-Z][A-Za-z-]*:[^\n\\]*|[A-Za-z0-9+/=]{4,}))*",
    ),
)
# Literals of two letters before a hex body: the screen for short strings wants the body too.
_HEX_BODIED: Final = ("SK", "AC")

# Kinds of both tables, in table order (redaction.KINDS lists them after its own).
KINDS: Final = tuple(dict.fromkeys(kind for kind, _, _ in (*SEPARATED, *LITERAL_FORMATS)))


# Where the regex starts, in characters before the separator, when the prefix does not start
# the anchor; None: the prefix has a variable length, so the regex is searched in a window.
# Anchors found in redaction.py's scan for `A` of the original text instead of a separator
# scan of their own: `:` is on every line of JSON, the `AA` of a Telegram token is rare.
CASED_A: Final = {":aa": r"A(?<=[0-9]:AA)"}
_OFFSETS: Final = {"_v1_": 6, ".atlasv1.": 22, "-us": 32, "q~": 5, ":aa": None, ".": None}
# Extra conditions after the separator, on the lowercased text (the discord token's shape).
_AFTER: Final = {".": r"[a-z0-9_\-]{6}\.[a-z0-9_\-]{27}"}
WINDOW: Final = 40
# Every body after `_`, `.` or `-` is 16+ token characters: most separators in code and prose
# fail this one check, before any of the lookbehinds is tried (speed: see docs/benchmarks.md).
_BODY: Final = {sep: r"(?=[a-z0-9_\-+/=.~]{16})" for sep in "_.-"}


class _Lazy:
    """A row's regex, compiled on first use: the hook handler imports this module on every tool
    call, and most calls never meet most formats."""

    __slots__ = ("_compiled", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._compiled: re.Pattern[str] | None = None

    def _re(self) -> re.Pattern[str]:
        if self._compiled is None:
            self._compiled = re.compile(self.pattern)
        return self._compiled

    def match(self, text: str, pos: int = 0) -> re.Match[str] | None:
        return self._re().match(text, pos)

    def search(self, text: str, pos: int = 0, endpos: int = 2**62) -> re.Match[str] | None:
        return self._re().search(text, pos, endpos)


def _compile() -> tuple[dict[str, tuple[_Lazy, int | None, str]], list[re.Pattern[str]]]:
    """Rows by group name, and one anchor scan per separator character."""
    rows: dict[str, tuple[_Lazy, int | None, str]] = {}
    # Per separator: the anchors' alternatives grouped by the character before the separator
    # (None: an anchor that starts at the separator), and the alternatives tried without the
    # shared checks (their own lookarounds are as cheap).
    by_sep: dict[str, dict[str | None, list[tuple[int, str]]]] = {}
    more: dict[str, list[str]] = {}
    for i, (kind, anchor, pattern) in enumerate(SEPARATED):
        group = f"f{i}"
        sep_at = max(anchor.rfind(c) for c in "_-.~:")
        if anchor in _AFTER:
            sep_at = 0
        offset = _OFFSETS.get(anchor, sep_at)
        rows[group] = (_Lazy(pattern), offset, kind)
        before, after = anchor[: sep_at + 1], _AFTER.get(anchor, re.escape(anchor[sep_at + 1 :]))
        test = (f"(?<={re.escape(before)})" if len(before) > 2 else "") + (f"(?={after})" if after else "")
        if anchor == "-us":  # mailchimp's body is before the separator
            more.setdefault("-", []).append(f"(?=us[0-9])(?<=[0-9a-f]{{32}}-)(?P<{group}>)")
            continue
        if anchor in CASED_A:
            continue  # found by redaction.py's case-sensitive `A` scan (A_ANCHORS)
        if anchor == "django-insecure-":  # a body with any punctuation
            more.setdefault("-", []).append(f"{test}(?P<{group}>)")
            continue
        key = before[-2] if len(before) > 1 else None
        by_sep.setdefault(anchor[sep_at], {}).setdefault(key, []).append(
            (len(before), f"{test}(?P<{group}>)")
        )
    # A command-line flag that may carry a password (`mysql -pX`, `sshpass -p X`, `curl -u a:b`,
    # `redis-cli -a X`): redaction.py looks at the command the flag belongs to.
    more.setdefault("-", []).append(r"(?=[pua]|-user|-password)(?<=[\s'\"`]-)(?P<cli_flag>)")
    return rows, [_separator_scan(sep, groups, more.get(sep, [])) for sep, groups in by_sep.items()]


def _separator_scan(
    sep: str, groups: dict[str | None, list[tuple[int, str]]], extra: list[str]
) -> re.Pattern[str]:
    """One scan for the anchors ending in `sep`. After the separator (a literal first, so `re`
    skips to it at memchr speed), one lookbehind on the character before it and the 16-character
    body check reject most separators in code; then only the anchors ending in that character
    are tried (a UUID's dashes or an identifier's underscores used to try every anchor's
    lookbehind in turn: the costliest part of redacting JSON lines)."""
    branches = []
    for char, alts in sorted(groups.items(), key=lambda g: g[0] or ""):
        # Longest anchor first: `tskey-` and `age-secret-key-` also end in mailgun's `key-`, and
        # the first alternative that matches is the one reported.
        ordered = "|".join(alt for _, alt in sorted(alts, key=lambda a: -a[0]))
        branches.append(ordered if char is None else f"(?<={re.escape(char + sep)})(?:{ordered})")
    chars = {c for c in groups if c is not None}
    guard = f"(?<=[{re.escape(''.join(sorted(chars)))}]{re.escape(sep)})" if None not in groups else ""
    body = _BODY.get(sep, "")
    alternatives = [f"{guard}{body}(?:{'|'.join(branches)})", *extra]
    return re.compile(f"{re.escape(sep)}(?:{'|'.join(alternatives)})")


ROWS, SEPARATOR_SCANS = _compile()


# What a short string must contain for any row to match (redaction.py's screen for short
# strings): the separator scans themselves (without their group names), the literals, and the
# lowercased `A` anchors. Top-level alternatives only, each starting with a literal, so `re` can
# skip positions by their first characters.
GATE: Final = "|".join(
    [re.sub(r"\(\?P<\w+>\)", "", scan.pattern) for scan in SEPARATOR_SCANS]
    + sorted({re.escape(literal.lower()) for _, literal, _ in LITERAL_FORMATS if literal not in _HEX_BODIED})
    + [f"{literal.lower()}[0-9a-f]{{32}}" for literal in _HEX_BODIED]
    + [r"[0-9]:aa"]
)

# The password of a command-line flag, by command (the last command before the flag on its line).
_Q = r"(?P<q>['\"]?)(?P<pw>[^\s'\"]{3,})(?P=q)"
CLI_COMMAND: Final = re.compile(
    r"(?:^|[\s;&|(`'\"])(?P<cmd>mysql\w*|mariadb\w*|sshpass|curl|wget|redis-cli|docker|podman|nerdctl)"
    r"(?![\w-])[^\n;|&]*\Z"
)
CLI_FLAGS: Final = {
    "mysql": re.compile(r"-p" + _Q),  # attached only: `-p dbname` prompts for the password
    "sshpass": re.compile(r"-p[ \t]*" + _Q),
    "curl": re.compile(r"(?:-u|--user)(?:[ \t]+|=)?(?P<q>['\"]?)[^\s:'\"]*:(?P<pw>[^\s'\"]{3,})(?P=q)"),
    "redis-cli": re.compile(r"-a[ \t]+" + _Q),
    "docker": re.compile(r"(?:-p|--password)(?:[ \t]+|=)" + _Q),
}
LITERAL_ROWS: Final = {
    f"l{i}": (_Lazy(pattern), literal, kind) for i, (kind, literal, pattern) in enumerate(LITERAL_FORMATS)
}
# Alternatives for redaction.py's `A…` scan: after the `A`, a lookbehind checks the literal.
A_ANCHORS: Final = "".join(
    f"|{re.escape(lit[lit.index('A') + 1 :])}(?<={re.escape(lit)})(?P<{g}>)"
    for g, (_, lit, _) in LITERAL_ROWS.items()
    if "A" in lit
) + "".join(
    f"|{CASED_A[anchor]}(?P<f{i}>)" for i, (_, anchor, _) in enumerate(SEPARATED) if anchor in CASED_A
)
# …and for its lowercased `k` scan, at the literal's `k` (a lookahead for the rest first: most
# `k`s fail it on the next character).
_K_LITERALS: Final = {"SK": "(?=[0-9a-f]{32}(?![0-9a-z]))", "PuTTY-User-Key-File-": ""}


def _k_anchor(literal: str) -> str:
    low = literal.lower()
    at = low.index("k") + 1
    ahead = f"(?={re.escape(low[at:])})" if low[at:] else ""
    return f"{ahead}(?<={re.escape(low[:at])}){_K_LITERALS[literal]}"


K_ANCHORS: Final = "".join(
    f"|{_k_anchor(lit)}(?P<{g}>)" for g, (_, lit, _) in LITERAL_ROWS.items() if lit in _K_LITERALS
)
# The rest are found by `str.find` of the literal in the original text.
FOUND_BY_FIND: Final = tuple(
    (lit, pattern, kind)
    for pattern, lit, kind in LITERAL_ROWS.values()
    if "A" not in lit and lit not in _K_LITERALS
)
