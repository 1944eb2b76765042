"""Small helpers for writing portable SQL text: IN-lists, chunks, LIKE escaping, case folding."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

CHUNK = 512


def now_ms() -> int:
    return int(time.time() * 1000)


def in_params(prefix: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
    """Placeholders for `IN (…)`, padded to a power of two by repeating the last value: a few
    statement shapes instead of one per list length (databases cache statements by text)."""
    size = 1
    while size < len(values):
        size *= 2
    padded = list(values) + [values[-1]] * (size - len(values)) if values else [None]
    names = [f"{prefix}{i}" for i in range(len(padded))]
    return ", ".join(f":{n}" for n in names), dict(zip(names, padded, strict=True))


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def like_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def ascii_lower(value: str) -> str:
    """Lower-case ASCII letters only: what SQLite's LOWER, PostgreSQL's LOWER under the "C"
    collation (migration 0003) and ClickHouse's lower() all do, so searches agree everywhere."""
    return value.translate(_ASCII_LOWER)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
