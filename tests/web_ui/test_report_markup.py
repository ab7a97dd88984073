"""The reports page's long parts written in Python (`bars_svg`, `TableRow.html`) give the
markup the template wrote for them before, escaped as Jinja escapes (a year by day is
366 bars and 1,100 rows: written by the template they took most of the page's time)."""

from __future__ import annotations

import re

import markupsafe
import pytest
from jinja2 import Environment

from web_ui.reports.charts import bars_svg, html_text, stacked_bars
from web_ui.reports.service import TableRow, table_html

# The template's own loops, as they were (web_ui/templates/reports.html).
OLD_BARS = """
{% for bar in c.bars %}
<g class="bar" data-label="{{ bar.label }}" data-total="{{ '%g' % bar.total }}">
  <title>{{ bar.text }}</title>
  {% for s in bar.segments %}{% if s.height > 0 %}
  <rect class="series-{{ s.series }}" x="{{ '%.1f' % s.x }}" y="{{ '%.1f' % s.y }}" width="{{ '%.1f' % s.width }}" height="{{ '%.1f' % s.height }}"></rect>
  {% endif %}{% endfor %}
  {% if bar.show_label %}<text class="label" x="{{ '%.1f' % bar.label_x }}" y="{{ c.baseline + 16 }}" text-anchor="middle">{{ bar.label[-5:] if short else bar.label }}</text>{% endif %}
</g>
{% endfor %}
"""  # noqa: E501
OLD_ROWS = """
{% for row in rows %}
  <tr{% if row.total %} class="totals" id="category-totals"{% endif %}>
    <th scope="row">{{ total_text if row.total else row.label }}{% if row.archived %} *{% endif %}</th>
    {% for column, text in row.cells %}<td data-column="{{ column }}">{{ text }}</td>{% endfor %}
  </tr>
{% endfor %}
"""  # noqa: E501
JINJA = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)


def _squeezed(markup: str) -> str:
    return re.sub(r">\s+<", "><", markup).strip()


@pytest.mark.parametrize("short", [True, False])
def test_the_bars_are_drawn_as_the_template_drew_them(short: bool) -> None:
    labels = [f"2024-01-{day:02d}" for day in range(1, 32)] + ["<b>&'\""]
    rows = [
        {"valid": float(day % 5), "prank": float(day * 3 % 7), "ghost": 0.0, "other": day / 3}
        for day in range(len(labels))
    ]
    series = ("valid", "prank", "ghost", "other")
    for language in ("id", "en"):
        chart = stacked_bars(labels, rows, series, names={"valid": "Asli & <b>"}, language=language)
        old = JINJA.from_string(OLD_BARS).render(c=chart, short=short)
        assert _squeezed(bars_svg(chart, short)) == _squeezed(old)
    share = stacked_bars(
        labels, [{"junk": 33.35}] * len(labels), ("junk",), maximum=100.0, percent=True
    )
    old = JINJA.from_string(OLD_BARS).render(c=share.in_language("en"), short=short)
    assert _squeezed(bars_svg(share.in_language("en"), short)) == _squeezed(old)


def test_the_rows_are_written_as_the_template_wrote_them() -> None:
    columns = ("calls", "valid_fire", "junk_share")
    rows = [
        TableRow("2024-01-01", False, False, columns, ("1.234", "5", "66,7%")),
        TableRow("2024-02", False, True, columns, ("<1>", "&", "'\"")),
        TableRow("total", True, False, columns, ("1.239", "5", "66,7%")),
    ]
    old = JINJA.from_string(OLD_ROWS).render(rows=rows, total_text="Jumlah <&>")
    assert _squeezed(table_html(rows, "Jumlah <&>", "category-totals")) == _squeezed(old)


@pytest.mark.parametrize("text", ["plain", "1.234,5%", "a&b<c>\"d'e", "&amp;", "<<>>", ""])
def test_text_is_escaped_as_jinja_escapes_it(text: str) -> None:
    assert html_text(text) == str(markupsafe.escape(text))
