"""Fit a table to the terminal: which columns to show, and how wide the flexible ones may be.

Pure (no rich, no I/O), so the rule is tested on its own. Every column has a rank (lower =
more useful). A column marked `essential` (ids, dates, money) is always shown at its full
width; the others are added in rank order while they fit. Flexible columns (free text such as
a first prompt or a project name) count at their minimum width while choosing, then share
what is left up to their natural width; their cells are shortened with an ellipsis, never the
others'. When piped, callers pass `width=None`: every column at full width.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# rich's default table: one space of padding each side of a cell, one border character between
# and around the cells.
CELL_PADDING = 2
BORDER = 1


@dataclass(frozen=True)
class Column:
    name: str
    rank: int  # lower is more useful: kept longer as the terminal narrows
    right: bool = False  # numbers are right-aligned
    essential: bool = False  # always shown, never shortened (ids, dates, money)
    flex_min: int = 0  # > 0: free text that may be shortened down to this many cells


@dataclass(frozen=True)
class Fitted:
    index: int  # position in the caller's column list (and in each row)
    column: Column
    width: int  # cells of content


def natural_widths(columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> list[int]:
    from unicodedata import east_asian_width

    def cells(text: str) -> int:
        return sum(2 if east_asian_width(ch) in "WF" else 1 for ch in text)

    widths = [cells(c.name) for c in columns]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], cells(cell))
    return widths


def table_width(content_widths: Sequence[int]) -> int:
    return sum(w + CELL_PADDING + BORDER for w in content_widths) + BORDER


def fit(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: int | None) -> list[Fitted]:
    """The columns to show, in the caller's order, each with its content width."""
    natural = natural_widths(columns, rows)
    if width is None or table_width(natural) <= width:
        return [Fitted(i, c, natural[i]) for i, c in enumerate(columns)]

    def floor(i: int) -> int:
        flex = columns[i].flex_min
        return min(natural[i], max(flex, len(columns[i].name))) if flex else natural[i]

    chosen = [i for i, c in enumerate(columns) if c.essential]
    for i in sorted((i for i, c in enumerate(columns) if not c.essential), key=lambda i: columns[i].rank):
        if table_width([floor(j) for j in [*chosen, i]]) <= width:
            chosen.append(i)
    chosen.sort()
    widths = {i: floor(i) for i in chosen}
    spare = width - table_width(list(widths.values()))
    for i in sorted((i for i in chosen if columns[i].flex_min), key=lambda i: columns[i].rank):
        grow = min(spare, natural[i] - widths[i])
        if grow > 0:
            widths[i] += grow
            spare -= grow
    return [Fitted(i, columns[i], widths[i]) for i in chosen]


def hidden(columns: Sequence[Column], shown: Sequence[Fitted]) -> list[str]:
    kept = {f.index for f in shown}
    return [c.name for i, c in enumerate(columns) if i not in kept]
