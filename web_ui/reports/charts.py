"""Bar charts drawn on the server as geometry for an inline SVG (no script, no library).

`stacked_bars` turns rows of figures into rectangles, axis ticks and labels in SVG user
units; the template writes them out with autoescaping on, so a label can never inject
markup. Each bar carries a sentence (`text`) that the template puts in its `<title>`
(a tooltip, and what a screen reader reads) next to the table with the same figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

WIDTH = 760.0
HEIGHT = 260.0
LEFT = 48.0  # room for the tick labels
RIGHT = 8.0
TOP = 12.0
BOTTOM = 36.0  # room for the bar labels
GAP_SHARE = 0.2  # of each bar's slot left empty
TARGET_TICKS = 4
MAX_LABELS = 16  # more bars than this: only every n-th bar is labelled


@dataclass(frozen=True)
class Segment:
    """One series' part of a bar."""

    series: str
    value: float
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Bar:
    """One period: its stacked segments, its label and a sentence describing it."""

    label: str
    show_label: bool
    label_x: float
    segments: list[Segment]
    total: float
    text: str


@dataclass(frozen=True)
class Tick:
    """A horizontal grid line and its value."""

    y: float
    label: str


@dataclass(frozen=True)
class BarChart:
    """Everything the template needs to draw one chart."""

    width: float
    height: float
    left: float
    baseline: float
    right: float
    bars: list[Bar]
    ticks: list[Tick]
    series: list[str]


def nice_step(maximum: float, ticks: int = TARGET_TICKS) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving about `ticks` grid lines."""
    if maximum <= 0:
        return 1.0
    raw = maximum / ticks
    power = 10 ** math.floor(math.log10(raw))
    for multiple in (1, 2, 5, 10):
        if multiple * power >= raw:
            return float(multiple * power)
    return float(10 * power)


def _tick_label(value: float, percent: bool) -> str:
    text = f"{value:g}"
    return f"{text} %" if percent else text


def _bar_text(label: str, values: Mapping[str, float], names: Mapping[str, str], pct: bool) -> str:
    unit = " %" if pct else ""
    parts = [f"{names.get(key, key)} {value:g}{unit}" for key, value in values.items()]
    return f"{label}: " + ", ".join(parts)


def stacked_bars(
    labels: Sequence[str],
    rows: Sequence[Mapping[str, float]],
    series: Sequence[str],
    *,
    names: Mapping[str, str] | None = None,
    maximum: float | None = None,
    percent: bool = False,
) -> BarChart:
    """One bar per label, its `series` values stacked bottom-up in the order given.

    `maximum` fixes the top of the scale (100 for shares); `names` maps a series to the
    words used in each bar's sentence.
    """
    names = names or {}
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_h
    top_value = maximum or max((sum(row[key] for key in series) for row in rows), default=0.0)
    step = nice_step(top_value)
    scale_top = maximum or max(step, math.ceil(top_value / step) * step)
    slot = plot_w / max(len(rows), 1)
    bar_w = slot * (1 - GAP_SHARE)
    every = max(1, math.ceil(len(rows) / MAX_LABELS))
    bars: list[Bar] = []
    for index, (label, row) in enumerate(zip(labels, rows, strict=True)):
        x = LEFT + index * slot + (slot - bar_w) / 2
        y = baseline
        segments: list[Segment] = []
        for key in series:
            height = plot_h * row[key] / scale_top if scale_top else 0.0
            y -= height
            segments.append(Segment(key, row[key], x, y, bar_w, height))
        values = {key: row[key] for key in series}
        bars.append(
            Bar(
                label=label,
                show_label=index % every == 0,
                label_x=x + bar_w / 2,
                segments=segments,
                total=sum(values.values()),
                text=_bar_text(label, values, names, percent),
            )
        )
    count = round(scale_top / step)
    ticks = [
        Tick(baseline - plot_h * (n * step) / scale_top, _tick_label(n * step, percent))
        for n in range(count + 1)
    ]
    return BarChart(WIDTH, HEIGHT, LEFT, baseline, WIDTH - RIGHT, bars, ticks, list(series))
