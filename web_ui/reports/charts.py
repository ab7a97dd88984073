"""Bar charts drawn on the server as geometry for an inline SVG (no script, no library).

`stacked_bars` turns rows of figures into rectangles, axis ticks and labels in SVG user
units; the template writes them out with autoescaping on, so a label can never inject
markup. Each bar carries a sentence (`text`) that the template puts in its `<title>`
(a tooltip, and what a screen reader reads) next to the table with the same figures.

Figures are written as the tables write them, in the viewer's language (`in_language`):
a count with its thousands separator (`1.200`), a share with one decimal and the sign on
(`50,0%`; `web_ui.core.wording.format_count` / `format_percent`).

Size: the drawing scales to its box's width, and its text with it (the stylesheet sets
11 units). The drawing is about as wide as a phone's card (390 px screen: about 338 px),
so there the text is drawn at its own size; on a laptop the two charts stand side by
side, each drawing enlarged up to the stylesheet's height.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from web_ui.core.i18n import DEFAULT_LANGUAGE
from web_ui.core.wording import format_count, format_percent
from web_ui.users.service import Language

WIDTH = 340.0
HEIGHT = 220.0
LEFT = 52.0  # room for the tick labels (`100,0%`, `10.000`)
RIGHT = 16.0  # room for half the last bar's label
TOP = 12.0
BOTTOM = 26.0  # room for the bar labels
GAP_SHARE = 0.2  # of each bar's slot left empty
TARGET_TICKS = 4
# A bar's label is drawn only where it fits: the longest one drawn (a month `2026-12`; a
# day as `12-01`) is about 7 digits of 6 units, and labels keep 8 units apart.
LABEL_WIDTH = 7 * 6.0 + 8.0


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
    """A horizontal grid line, its value and the value as written."""

    y: float
    value: float
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
    names: Mapping[str, str] = field(default_factory=dict)
    percent: bool = False

    def in_language(self, language: Language) -> BarChart:
        """The same chart with its figures (axis, bar sentences) written in `language`."""
        return replace(
            self,
            ticks=[
                replace(tick, label=figure_text(tick.value, self.percent, language))
                for tick in self.ticks
            ],
            bars=[
                replace(
                    bar,
                    text=_bar_text(
                        bar.label,
                        {segment.series: segment.value for segment in bar.segments},
                        self.names,
                        self.percent,
                        language,
                    ),
                )
                for bar in self.bars
            ],
        )


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


def figure_text(value: float, percent: bool, language: Language) -> str:
    """A figure as the tables write it: a share `50,0%`, a count `1.200` (Bahasa Indonesia)."""
    return format_percent(value, language) if percent else format_count(value, language)


def _bar_text(
    label: str,
    values: Mapping[str, float],
    names: Mapping[str, str],
    percent: bool,
    language: Language,
) -> str:
    parts = [
        f"{names.get(key, key)} {figure_text(value, percent, language)}"
        for key, value in values.items()
    ]
    return f"{label}: " + ", ".join(parts)


def stacked_bars(
    labels: Sequence[str],
    rows: Sequence[Mapping[str, float]],
    series: Sequence[str],
    *,
    names: Mapping[str, str] | None = None,
    maximum: float | None = None,
    percent: bool = False,
    language: Language = DEFAULT_LANGUAGE,
) -> BarChart:
    """One bar per label, its `series` values stacked bottom-up in the order given.

    `maximum` fixes the top of the scale (100 for shares); `names` maps a series to the
    words used in each bar's sentence. Figures are counts (whole grid steps), or shares
    in percent when `percent`; written in `language` (another: `BarChart.in_language`).
    """
    names = names or {}
    plot_w = WIDTH - LEFT - RIGHT
    plot_h = HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_h
    top_value = maximum or max((sum(row[key] for key in series) for row in rows), default=0.0)
    step = nice_step(top_value) if percent else max(1.0, nice_step(top_value))
    scale_top = maximum or max(step, math.ceil(top_value / step) * step)
    slot = plot_w / max(len(rows), 1)
    bar_w = slot * (1 - GAP_SHARE)
    every = max(1, math.ceil(LABEL_WIDTH / slot))
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
                text=_bar_text(label, values, names, percent, language),
            )
        )
    count = round(scale_top / step)
    ticks = [
        Tick(
            baseline - plot_h * (n * step) / scale_top,
            n * step,
            figure_text(n * step, percent, language),
        )
        for n in range(count + 1)
    ]
    return BarChart(
        WIDTH,
        HEIGHT,
        LEFT,
        baseline,
        WIDTH - RIGHT,
        bars,
        ticks,
        list(series),
        names=dict(names),
        percent=percent,
    )
