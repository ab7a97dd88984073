"""Siaga's durable store: the call log, the rules and read-only queries, on one SQLite file.

- `CallLog`: the service's single writer (a thread fed by a queue) for calls,
  dispositions and events; lines never wait for it and it never raises into them.
- `CallLog.add_callback` and `appliance.store.callbacks`: the call-back list of callers
  released without an operator, and how the web UI reads and marks it.
- `RuleStore`: allow/block rules, usable from the CLI while the service runs;
  `rule_from_row` turns a stored rule into the policy's `Rule`.
- `open_readonly`, `tail`, `search_calls`, `read_history`: read-only access for the CLI,
  reports and the policy's replay.

The schema lives in `appliance.migrations`.
"""

from appliance.store._sqlite import open_readonly
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
from appliance.store.queries import HISTORY_COLUMNS, read_history, search, search_calls, tail
from appliance.store.rules import RuleStore, rule_from_row

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
    "RuleStore",
    "mark_callback",
    "oldest_open",
    "open_callbacks",
    "open_count",
    "open_readonly",
    "read_history",
    "rule_from_row",
    "search",
    "search_calls",
    "tail",
]
