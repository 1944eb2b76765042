"""Small text formatting helpers shared by the terminal commands."""

from __future__ import annotations

import re
import sys
from datetime import tzinfo
from typing import Any

from agent_trace.domain.records import NANO_PER_USD
from agent_trace.reports.periods import local_datetime, resolve_timezone
from agent_trace.reports.tally import all_unpriced


def cli_timezone(option: str | None, setting: str | None) -> tuple[tzinfo | None, str | None]:
    """The zone `--timezone` names, else the configured one; an error names whichever was wrong."""
    import os

    if option:
        return resolve_timezone(option, "--timezone"), option
    source = "AGENT_TRACE_TIMEZONE" if os.environ.get("AGENT_TRACE_TIMEZONE") else "timezone in config.toml"
    return resolve_timezone(setting, source), setting


# What stored text must not send to a terminal: C0 controls but newline and tab (ESC starts the
# sequences that write the clipboard, set the title, clear the screen), DEL, C1 controls, and the
# bidi overrides and isolates that make text read other than it is stored.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    """`text` from the store as it may be shown in a terminal: every control character and bidi
    override written out as an escape (`\x1b`, `\u202e`), so transcript text can neither run
    terminal commands nor disguise itself. The one home for this: every renderer of stored text
    calls it (or `cell`)."""
    return _UNSAFE.sub(_escaped, text) if _UNSAFE.search(text) else text


def cell(text: str) -> Any:
    """A table cell of stored text: terminal-safe, and never read as Rich markup (`[/red]` in a
    prompt is text, not a style)."""
    from rich.text import Text

    return Text(terminal_safe(text))


def money(nusd: int | None, unpriced: int = 0, calls: int = 0) -> str:
    if nusd is None or all_unpriced(calls, unpriced):
        return "unpriced"
    text = f"${nusd / NANO_PER_USD:,.2f}"
    return text + " +unpriced" if unpriced else text


def usd_nusd(usd: float | None) -> int | None:
    """Dollars of an API answer (exact nano-dollars / 1e9) as nano-dollars again: rounding
    recovers the integer exactly (far below 2**53 nano-dollars)."""
    return None if usd is None else round(usd * NANO_PER_USD)


def tokens(n: int) -> str:
    return f"{n:,}"


def short_tokens(n: int) -> str:
    for limit, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if n >= limit:
            return f"{n / limit:.1f}{suffix}"
    return str(n)


def duration(ms: int | None) -> str:
    if ms is None or ms < 0:
        return "–"
    if ms < 10_000:  # a short session is 1.3s, not 0s
        return f"{ms / 1000:.1f}s"
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def when(ms: int | None, tz: tzinfo | None) -> str:
    if ms is None:
        return "–"
    return local_datetime(ms, tz).strftime("%Y-%m-%d %H:%M")


def one_line(text: str | None, width: int) -> str:
    if not text:
        return ""
    flat = terminal_safe(" ".join(text.split()))
    return flat if len(flat) <= width else flat[: max(width - 1, 1)] + "…"


def project_name(project: str | None) -> str:
    if not project:
        return "–"
    return project.rstrip("/").rsplit("/", 1)[-1] or project


def make_console(**kwargs: Any) -> Any:
    """A rich Console; when piped, wide enough that tables are not squeezed to 80 columns."""
    from rich.console import Console

    if kwargs.get("width") is None:
        kwargs.pop("width", None)
        if not sys.stdout.isatty():
            kwargs["width"] = 220
    return Console(**kwargs)
