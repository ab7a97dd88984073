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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from markupsafe import Markup

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
    """Everything the template needs to draw one chart.

    The bars are kept as their labels and figures (`labels`, `values`: per bar, one per
    series) and drawn when asked for (`bars`, `bars_svg`): a year by day is 366 bars of
    four segments, and as objects they lived through the page and brought on the garbage
    collector's full rounds (tens of ms) every few report pages; tuples of numbers are
    left out of its rounds."""

    width: float
    height: float
    left: float
    baseline: float
    right: float
    labels: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    ticks: list[Tick]
    series: list[str]
    names: Mapping[str, str] = field(default_factory=dict)
    percent: bool = False
    language: Language = DEFAULT_LANGUAGE  # the figures' (`in_language`)
    scale_top: float = 1.0  # the value at the top of the plot
    plot_height: float = HEIGHT - TOP - BOTTOM
    slot: float = 1.0  # each bar's share of the plot's width, the gap around it included
    label_every: int = 1  # a bar's label is drawn on every this many bars

    @property
    def bars(self) -> list[Bar]:
        """The bars, drawn."""
        return [self._bar(index) for index in range(len(self.labels))]

    def _bar(self, index: int) -> Bar:
        label, row = self.labels[index], self.values[index]
        x, ys, width, heights = _geometry(self, index, row)
        return Bar(
            label=label,
            show_label=index % self.label_every == 0,
            label_x=x + width / 2,
            segments=[
                Segment(key, value, x, y, width, height)
                for key, value, y, height in zip(self.series, row, ys, heights, strict=True)
            ],
            total=sum(row),
            text=self.bar_text(index),
        )

    def bar_text(self, index: int, write: Callable[[float], str] | None = None) -> str:
        """The sentence of bar `index`, its figures written by `write` (else `writer`)."""
        values = dict(zip(self.series, self.values[index], strict=True))
        return _bar_text(self.labels[index], values, self.names, write or self.writer())

    def writer(self) -> Callable[[float], str]:
        """`figure_text` in the chart's language, each figure written once (366 bars of
        four figures repeat many)."""
        written: dict[float, str] = {}

        def write(value: float) -> str:
            text = written.get(value)
            if text is None:
                text = written[value] = figure_text(value, self.percent, self.language)
            return text

        return write

    def in_language(self, language: Language) -> BarChart:
        """The same chart with its figures (axis, bar sentences) written in `language`."""
        if language == self.language:
            return self
        return replace(
            self,
            language=language,
            ticks=[
                replace(tick, label=figure_text(tick.value, self.percent, language))
                for tick in self.ticks
            ],
        )


def _geometry(
    chart: BarChart, index: int, row: Sequence[float]
) -> tuple[float, list[float], float, list[float]]:
    """(x, each segment's top, width, each segment's height) of bar `index`."""
    slot = chart.slot
    plot_h = chart.plot_height
    bar_w = slot * (1 - GAP_SHARE)
    x = LEFT + index * slot + (slot - bar_w) / 2
    y = chart.baseline
    ys, heights = [], []
    for value in row:
        height = plot_h * value / chart.scale_top if chart.scale_top else 0.0
        y -= height
        ys.append(y)
        heights.append(height)
    return x, ys, bar_w, heights


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
    write: Callable[[float], str],
) -> str:
    parts = [f"{names.get(key, key)} {write(value)}" for key, value in values.items()]
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
        tuple(labels),
        tuple(tuple(row[key] for key in series) for row in rows),
        ticks,
        list(series),
        names=dict(names),
        percent=percent,
        language=language,
        scale_top=scale_top,
        plot_height=plot_h,
        slot=slot,
        label_every=max(1, math.ceil(LABEL_WIDTH / slot)),
    )


def html_text(text: str) -> str:
    """`text` escaped for HTML as `markupsafe.escape` writes it, without its Markup object
    (which costs more than the rest of a table cell; a year by day writes 20,000 of them):
    most text here is figures, returned as they are (the same object)."""
    if "&" in text or "<" in text or ">" in text or '"' in text or "'" in text:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return text.replace('"', "&#34;").replace("'", "&#39;")
    return text


def bars_svg(chart: BarChart, short_labels: bool = False) -> Markup:
    """The chart's bars as SVG, as the reports page draws them: each bar a group with its
    sentence as `<title>`, a rectangle per series that has a height, and its label where
    one fits (`short_labels`: a day's `MM-DD`). Written here, not by the template: a year
    by day is 366 bars of a dozen figures each, about 10 ms of template work a chart."""
    label_y = chart.baseline + 16
    write = chart.writer()
    rects = [f'<rect class="series-{html_text(key)}" x="' for key in chart.series]
    names = [chart.names.get(key, key) for key in chart.series]
    distinct = len(set(chart.series)) == len(chart.series)  # else as `bar_text` merges them
    parts = []
    for index, (label, row) in enumerate(zip(chart.labels, chart.values, strict=True)):
        x, ys, width, heights = _geometry(chart, index, row)
        if distinct:
            pairs = zip(names, row, strict=True)
            text = f"{label}: " + ", ".join([f"{name} {write(value)}" for name, value in pairs])
        else:
            text = chart.bar_text(index, write)
        parts.append(
            f'<g class="bar" data-label="{html_text(label)}" data-total="{sum(row):g}">\n'
            f"<title>{html_text(text)}</title>\n"
        )
        x_text, width_text = f"{x:.1f}", f"{width:.1f}"
        for rect, y, height in zip(rects, ys, heights, strict=True):
            if height > 0:
                parts.append(
                    f'{rect}{x_text}" y="{y:.1f}" width="{width_text}"'
                    f' height="{height:.1f}"></rect>\n'
                )
        if index % chart.label_every == 0:
            shown = label[-5:] if short_labels else label
            parts.append(
                f'<text class="label" x="{x + width / 2:.1f}" y="{label_y}"'
                f' text-anchor="middle">{html_text(shown)}</text>\n'
            )
        parts.append("</g>\n")
    return Markup("".join(parts))
