"""The numbers flagged for a supervisor in a report's period: a section of the reports page.

A number that climbs onto a flagged step of the abuse ladder raises a `supervisor_flag`
event (`appliance.service`); the centre asks the carrier or Kominfo to act on the list.
The section lists those of the page's period, oldest first, as `siaga report --flagged`
prints them (`appliance.report.flagged_numbers`). On a province hub's database each
number carries the site whose box flagged it, and the page's site choice keeps one
site's; the page's print view carries the list too, for the letter to the carrier.

At most `FLAGGED_SHOWN` numbers are listed; the section says when there are more (the
command prints them all).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from appliance.report import FlaggedNumber, flagged_numbers
from web_ui.core.web_settings import WebSettings
from web_ui.reports.service import ReportRequest

FLAGGED_SHOWN = 500


@dataclass(frozen=True)
class FlaggedList:
    """The flagged numbers of one report request."""

    numbers: list[FlaggedNumber]
    more: bool  # more numbers were flagged in the period than are listed
    by_site: bool  # a province hub's database: each number with its site


def flagged_list(
    conn: sqlite3.Connection, request: ReportRequest, settings: WebSettings, sites: Sequence[str]
) -> FlaggedList:
    """The numbers flagged in the request's period (and site), at most `FLAGGED_SHOWN`;
    `sites`: the hub's sites (`appliance.report.sites`), none on a box."""
    since_ts, until_ts = request.range_ts(settings.zone)
    found = flagged_numbers(
        conn, since_ts, until_ts, settings.timezone, site=request.site, limit=FLAGGED_SHOWN + 1
    )
    return FlaggedList(found[:FLAGGED_SHOWN], len(found) > FLAGGED_SHOWN, bool(sites))
