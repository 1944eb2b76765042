"""Chart geometry for server-rendered SVG (pure). Colours are CSS classes (`s0`…`s7`), never
inline styles, so the strict Content-Security-Policy holds; labels are escaped by the template."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

PALETTE = 8  # s0..s7 in app.css; the last class also paints "other"


@dataclass
class Segment:
    y: float
    h: float
    css: str
    title: str


@dataclass
class Bar:
    x: float
    w: float
    segments: list[Segment]
    title: str


@dataclass
class Tick:
    pos: float
    label: str


@dataclass
class Chart:
    width: int
    height: int
    top: int
    bottom: int
    left: int
    bars: list[Bar] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css, label)
    empty: bool = True


def nice_scale(value: float, integer: bool = False, ticks: int = 4) -> tuple[float, float]:
    """(axis top, tick step): a 1-2-5 step giving at most `ticks` intervals, so every tick lands
    on a round number (counts: whole numbers only, never a "2" drawn at 2.5)."""
    if value <= 0:
        return 1.0, 1.0
    raw = value / ticks
    exp = math.floor(math.log10(raw))
    step = 10.0**exp
    for factor in (1, 2, 5, 10):
        step = factor * 10.0**exp
        if step >= raw:
            break
    if integer:
        step = max(1.0, round(step))
    return math.ceil(value / step - 1e-9) * step, step


def stacked(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    fmt: Callable[[float], str],
    width: int = 1200,
    height: int = 240,
    left: int = 64,
    integer: bool = False,
    x_labels: int = 10,
) -> Chart:
    """Bars per label, stacked by series (in order, bottom first). The viewBox is sized near
    the width it is shown at, so its 11-unit labels read as ~11 px text."""
    top, bottom, right = 10, 24, 8
    chart = Chart(width, height, top, height - bottom, left)
    n = len(labels)
    totals = [sum(values[i] for _, values in series) for i in range(n)]
    peak, step = nice_scale(max(totals, default=0.0), integer)
    chart.empty = not any(totals)
    plot_h = height - top - bottom
    slot = (width - left - right) / max(n, 1)
    gap = min(2.0, slot * 0.2)
    for i, label in enumerate(labels):
        y = float(height - bottom)
        segments = []
        for k, (name, values) in enumerate(series):
            value = values[i]
            if value <= 0:
                continue
            h = value / peak * plot_h
            y -= h
            segments.append(
                Segment(
                    round(y, 2), round(h, 2), f"s{min(k, PALETTE - 1)}", f"{label} · {name}: {fmt(value)}"
                )
            )
        chart.bars.append(
            Bar(
                round(left + i * slot + gap / 2, 2),
                round(max(slot - gap, 0.5), 2),
                segments,
                f"{label}: {fmt(totals[i])}",
            )
        )
    for k in range(round(peak / step) + 1):
        value = k * step
        chart.y_ticks.append(Tick(round(height - bottom - value / peak * plot_h, 2), fmt(value)))
    every = max(1, math.ceil(n / x_labels))
    for i in range(0, n, every):
        chart.x_ticks.append(
            Tick(round(left + (i + 0.5) * slot, 2), labels[i][5:] if len(labels[i]) == 10 else labels[i])
        )
    chart.legend = [(f"s{min(k, PALETTE - 1)}", name) for k, (name, _) in enumerate(series)]
    return chart


def top_series(
    days: Sequence[dict[str, Any]],
    group: str,
    key: str,
    value: Callable[[dict[str, Any]], float],
    limit: int = 7,
) -> list[tuple[str, list[float]]]:
    """Per-day values of the `limit` largest groups (by total), the rest summed as "other"."""
    totals: dict[str, float] = {}
    for day in days:
        for entry in day.get(group, []):
            totals[entry[key]] = totals.get(entry[key], 0.0) + value(entry)
    ranked = [name for name, total in sorted(totals.items(), key=lambda kv: -kv[1]) if total > 0]
    keep = ranked[:limit]
    series: list[tuple[str, list[float]]] = [(name or "(unknown)", [0.0] * len(days)) for name in keep]
    other = [0.0] * len(days)
    index = {name: i for i, name in enumerate(keep)}
    for d, day in enumerate(days):
        for entry in day.get(group, []):
            at = index.get(entry[key])
            if at is None:
                other[d] += value(entry)
            else:
                series[at][1][d] += value(entry)
    if any(other):
        series.append(("other", other))
    return series


@dataclass
class Meter:
    """A horizontal bar for a ranked table row (an SVG rect's width, 0–100)."""

    label: str
    value: float
    width: float
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


def meters(rows: Sequence[tuple[str, float, str, dict[str, Any]]], limit: int = 10) -> list[Meter]:
    top = rows[:limit]
    peak = max((v for _, v, _, _ in top), default=0.0) or 1.0
    return [
        Meter(label, value, round(value / peak * 100, 2), text, extra) for label, value, text, extra in top
    ]
