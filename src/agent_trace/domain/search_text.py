"""Full-text search terms and snippets (pure, standard library only).

Every backend indexes the same words: runs of letters and digits (`src/app_main.py` is `src`,
`app`, `main`, `py`), lower-cased. A query is whitespace-separated terms; each term is a phrase
of its words (so `app_main.py` finds exactly that sequence) and every term must match; the last
term's last word also matches as a prefix when it has PREFIX_MIN characters or more (`AuthServ`
finds `AuthService`; `app.py` does not expand `py` to every word starting with it, which would
cost a scan of half the index). The snippet around the first
match is cut here, the same way for every backend, with the matches between MARK_START and
MARK_END (control characters no stored text keeps; the dashboard escapes, then marks them).
"""

from __future__ import annotations

import re

MARK_START = "\x02"
MARK_END = "\x03"
MAX_TERMS = 8
MAX_WORDS = 16  # per term
PREFIX_MIN = 3
_WORD = re.compile(r"[^\W_]+")


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def query_terms(query: str) -> list[list[str]]:
    """The query's terms, each a non-empty list of words (at most MAX_TERMS × MAX_WORDS)."""
    terms = [words(part)[:MAX_WORDS] for part in query.split()]
    return [t for t in terms if t][:MAX_TERMS]


def prefix_last(terms: list[list[str]]) -> bool:
    """Whether the query's last word is matched as a prefix."""
    return bool(terms) and len(terms[-1][-1]) >= PREFIX_MIN


def _term_pattern(term: list[str], prefix: bool) -> str:
    sep = r"[\W_]+"
    body = sep.join(re.escape(w) for w in term)
    tail = r"[^\W_]*" if prefix else r"(?![^\W_])"
    return rf"(?<![^\W_]){body}{tail}"


def _patterns(terms: list[list[str]]) -> list[re.Pattern[str]]:
    last = len(terms) - 1 if prefix_last(terms) else -1
    return [re.compile(_term_pattern(t, i == last), re.IGNORECASE) for i, t in enumerate(terms)]


def matches_all(texts: list[str], terms: list[list[str]]) -> bool:
    """Every term occurs (as a phrase of its words) in one of `texts`: what an index match
    means, for engines whose index only narrows the candidates (ClickHouse's token filter)."""
    return bool(terms) and all(any(p.search(t) for t in texts if t) for p in _patterns(terms))


def snippet(text: str, terms: list[list[str]], width: int = 160) -> str | None:
    """About `width` characters of `text` around its first match, matches marked; None when no
    term occurs (the index matched another field of the same record)."""
    if not text or not terms:
        return None
    patterns = [re.compile(_term_pattern(t, i == len(terms) - 1), re.IGNORECASE) for i, t in enumerate(terms)]
    first = None
    for pattern in patterns:
        found = pattern.search(text)
        if found and (first is None or found.start() < first):
            first = found.start()
    if first is None:
        return None
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    window = text[start:end].replace(MARK_START, "").replace(MARK_END, "")
    spans: list[tuple[int, int]] = []
    for pattern in patterns:
        spans.extend(m.span() for m in pattern.finditer(window))
    out: list[str] = []
    at = 0
    for s, e in sorted(spans):
        if s < at:
            continue
        out.append(window[at:s] + MARK_START + window[s:e] + MARK_END)
        at = e
    out.append(window[at:])
    flat = " ".join("".join(out).split())
    return ("…" if start > 0 else "") + flat + ("…" if end < len(text) else "")


def split_marks(marked: str) -> tuple[str, list[list[int]]]:
    """A snippet with MARK_START/MARK_END → (plain text, [[start, end), …] of the matches)."""
    plain: list[str] = []
    marks: list[list[int]] = []
    at = 0
    start = None
    for ch in marked:
        if ch == MARK_START:
            start = at
        elif ch == MARK_END and start is not None:
            marks.append([start, at])
            start = None
        else:
            plain.append(ch)
            at += 1
    return "".join(plain), marks
