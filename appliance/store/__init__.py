"""Siaga's durable store: the call log, the rules and read-only queries, on one SQLite file.

- `CallLog`: the service's single writer (a thread fed by a queue) for calls,
  dispositions and events; lines never wait for it and it never raises into them.
- `CallLog.add_callback` and `appliance.store.callbacks`: the call-back list of callers
  released without an operator, and how the web UI reads and marks it.
- `appliance.store.rules`: allow/block rules, the one place they are written and read:
  functions on a connection, in the caller's transaction (`add_rule`, `remove_rule`,
  `list_rules`, ...), and `RuleStore`, the same on a connection of its own for the
  service and the CLI; `rule_from_row` turns a stored rule into the policy's `Rule`.
- `add_event` (`appliance.store.events`): one `events` row, in the caller's transaction;
  `add_received_event` keeps a site's event as it came (a hub), and the same module reads
  them back (`latest_events`, `last_written_events`, `event_kinds`).
- `appliance.store.status`: what the line service publishes about itself and its lines
  (`service_state`, `line_status`) and the technicians' `line_admin` choices, read back,
  and how big the tables are; `appliance.store.requests`: the desk's and lines page's
  requests, written and read.
- `appliance.store.db`: the SQLite plumbing code outside the store may use
  (`connect_writer`, `immediate`, `iso_at`); `appliance.store._sqlite` is private.
- `open_readonly`, `tail`, `search_calls`, `read_history`: read-only access for the CLI,
  reports and the policy's replay; `appliance.store.queries` also holds the console's
  reads of calls and verdicts.

The web UI reads the appliance's tables only through these modules (and
`appliance.settings`, `appliance.web_lines`, `appliance.report`); its own SQL touches
only its own tables (`tests/test_store_boundary.py`).

The schema lives in `appliance.migrations`.
"""

from appliance.store.callbacks import (
    CALLBACK_REASONS,
    CALLBACK_STATUSES,
    CallbackError,
    CallbackNotFoundError,
    CallbackNotOpenError,
    mark_callback,
    oldest_open,
    open_callbacks,
    open_count,
)
from appliance.store.calllog import TS_TWINS, CallLog, CallLogBusyError, CallLogStats
from appliance.store.db import open_readonly
from appliance.store.events import add_event
from appliance.store.queries import HISTORY_COLUMNS, read_history, search_calls, tail
from appliance.store.rules import DuplicateRuleError, RuleStore, rule_from_row

__all__ = [
    "CALLBACK_REASONS",
    "CALLBACK_STATUSES",
    "HISTORY_COLUMNS",
    "TS_TWINS",
    "CallLog",
    "CallLogBusyError",
    "CallLogStats",
    "CallbackError",
    "CallbackNotFoundError",
    "CallbackNotOpenError",
    "DuplicateRuleError",
    "RuleStore",
    "add_event",
    "mark_callback",
    "oldest_open",
    "open_callbacks",
    "open_count",
    "open_readonly",
    "read_history",
    "rule_from_row",
    "search_calls",
    "tail",
]
