"""The report as a spreadsheet for an Indonesian office: the centre's categories as CSV.

`/reports.csv` is `siaga report --csv` (commas, the report's English column names, every
column: the plain form, for programs). `/reports.csv?dialect=excel` is this module's:
what Excel opens by double-click on a desk set to Indonesian, where the list separator
is the semicolon and the decimal sign the comma: semicolons, UTF-8 with a BOM, CRLF line
ends, headings in the user's language, one row per period and the totals, and only the
figures the centre reports (the genuine kinds, prank, ghost, other, who classified them,
and the share, written `68,8` in Bahasa Indonesia). Text cells are guarded against
formulas as every export is (`web_ui.calls.service.neutralise`).
"""

from __future__ import annotations

import csv
import io

from web_ui.calls.service import EXCEL_SEPARATOR, UTF8_BOM, neutralise
from web_ui.core.i18n import translate
from web_ui.reports.categories import CategoryRow, junk_share_pct
from web_ui.reports.service import ReportView, kind_of
from web_ui.users.service import Language

_CATEGORY_COLUMNS = ("valid", "prank", "ghost", "other")


def _headings(view: ReportView, language: Language) -> list[str]:
    kinds = [view.kind_label(column, language) for column in view.kind_columns]
    return [
        translate(language, "reports.col.period"),
        translate(language, "reports.col.calls"),
        *kinds,
        translate(language, "reports.col.valid"),
        translate(language, "reports.col.prank"),
        translate(language, "reports.col.ghost"),
        translate(language, "reports.cat.other"),
        translate(language, "reports.csv.prank_by_siaga"),
        translate(language, "reports.csv.ghost_by_siaga"),
        translate(language, "reports.cat.no_verdict"),
        translate(language, "reports.csv.share"),
    ]


def _share(row: CategoryRow, language: Language) -> str:
    text = f"{junk_share_pct(row):.1f}"
    return text.replace(".", ",") if language == "id" else text


def _cells(view: ReportView, row: CategoryRow, label: str, language: Language) -> list[str]:
    kinds = [str(row.count(kind_of(column))) for column in view.kind_columns]
    return [
        label,
        str(row.calls),
        *kinds,
        *(str(row.count(category)) for category in _CATEGORY_COLUMNS),
        str(row.siaga_count("prank")),
        str(row.siaga_count("ghost")),
        str(row.no_verdict),
        _share(row, language),
    ]


def excel_csv(view: ReportView, language: Language) -> bytes:
    """The report's categories per period and in total, as Excel in Indonesia reads CSV."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=EXCEL_SEPARATOR, lineterminator="\r\n")
    writer.writerow([neutralise(heading) for heading in _headings(view, language)])
    categories = view.categories
    for row in categories.rows:
        writer.writerow(_cells(view, row, row.label, language))
    total = translate(language, "reports.total")
    writer.writerow(_cells(view, categories.totals, total, language))
    return (UTF8_BOM + out.getvalue()).encode("utf-8")
