"""Siaga's durable store: the call log, the rules and read-only queries, on one SQLite file.

- `CallLog`: the service's single writer (a thread fed by a queue) for calls,
  dispositions and events; lines never wait for it and it never raises into them.
- `RuleStore`: allow/block rules, usable from the CLI while the service runs;
  `rule_from_row` turns a stored rule into the policy's `Rule`.
- `open_readonly`, `tail`, `search_calls`, `read_history`: read-only access for the CLI,
  reports and the policy's replay.

The schema lives in `appliance.migrations`.
"""

from appliance.store._sqlite import open_readonly
from appliance.store.calllog import TS_TWINS, CallLog, CallLogBusyError, CallLogStats
from appliance.store.queries import HISTORY_COLUMNS, read_history, search, search_calls, tail
from appliance.store.rules import RuleStore, rule_from_row

__all__ = [
    "HISTORY_COLUMNS",
    "TS_TWINS",
    "CallLog",
    "CallLogBusyError",
    "CallLogStats",
    "RuleStore",
    "open_readonly",
    "read_history",
    "rule_from_row",
    "search",
    "search_calls",
    "tail",
]
