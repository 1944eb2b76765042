"""Jinja filters: numbers, money, durations, ids, paths (pure; plain text, escaped by Jinja,
except `marked`, which escapes its pieces itself)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from markupsafe import Markup, escape

from agent_trace.domain.timeutil import parse_iso_ms
from agent_trace.reports.tally import step_total_tokens

SORT_FIELDS = {
    "started": "started_at",
    "updated": "updated_at",
    "activity": "last_activity_at",
    "cost": "cost_nusd",
    "tokens": "total_tokens",
    "prompts": "prompts",
    "tool_calls": "tool_calls",
    "duration": "duration_ms",
}


def money(value: Any, unpriced: int = 0) -> str:
    if value is None:
        return "unpriced"
    amount = float(value)
    text = f"${amount:,.2f}" if amount >= 0.01 or amount == 0 else f"${amount:.4f}"
    return text + "+" if unpriced else text


def short_tokens(value: Any) -> str:
    n = int(value or 0)
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if n >= limit:
            return f"{n / limit:.1f}{suffix}"
    return str(n)


def number(value: Any) -> str:
    return f"{int(value or 0):,}"


def duration(ms: Any) -> str:
    if ms is None or int(ms) < 0:
        return "–"
    seconds = int(ms) // 1000
    if seconds < 60:
        return f"{seconds}s" if seconds or not ms else f"{int(ms)}ms"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def utc_text(iso: str | None) -> str:
    """The server-side fallback text of a <time> element (the browser rewrites it to local time)."""
    if not iso:
        return "–"
    ms = parse_iso_ms(iso)
    if ms is None:
        return iso
    try:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (ValueError, OverflowError, OSError):
        return iso


def short_id(value: Any) -> str:
    text = str(value or "")
    return text[:8]


def path_quote(value: Any) -> str:
    return quote(str(value), safe="")


def one_line(value: Any, width: int = 160) -> str:
    if not value:
        return ""
    flat = " ".join(str(value).split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def sort_value(row: dict[str, Any], sort: str) -> int:
    """A number the browser can order live-inserted rows by (matching the list's sort)."""
    name = SORT_FIELDS.get(sort.lstrip("+-"), "started_at")
    if sort.lstrip("+-") in ("user", "repo"):
        return 0  # a text order: live rows of a page sorted this way are replaced, not placed
    value = row.get(name)
    if isinstance(value, str):
        return parse_iso_ms(value) or 0
    return int(value or 0)


def plural(value: Any, word: str, many: str | None = None) -> str:
    """`1 prompt`, `2 prompts`, `1,204 tool calls` (`many` for irregular plurals)."""
    n = int(value or 0)
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def rel_path(path: Any, root: Any) -> str:
    """A path under the project root, relative to it (`src/app.py`); anything else unchanged.
    Shown where space is short; the full path stays in the title and what copy buttons copy."""
    text = str(path or "")
    base = str(root or "").rstrip("/")
    if base and text.startswith(base + "/") and len(text) > len(base) + 1:
        return text[len(base) + 1 :]
    return text


def marked(text: Any, marks: Any) -> Markup:
    """A search snippet with its matches in <mark>: every piece escaped first (the one filter
    here that returns markup)."""
    value = str(text or "")
    out: list[Markup] = []
    at = 0
    for start, end in marks or []:
        if start < at or end > len(value):
            continue
        out.append(escape(value[at:start]) + Markup("<mark>") + escape(value[start:end]) + Markup("</mark>"))
        at = end
    out.append(escape(value[at:]))
    return Markup("").join(out)


def pct(value: Any) -> str:
    return f"{float(value or 0) * 100:.1f}%"


FILTERS = {
    "money": money,
    "short_tokens": short_tokens,
    "number": number,
    "duration": duration,
    "utc_text": utc_text,
    "short_id": short_id,
    "path_quote": path_quote,
    "one_line": one_line,
    "pct": pct,
    "plural": plural,
    "rel_path": rel_path,
    "marked": marked,
    "step_total_tokens": step_total_tokens,
}
