"""The store's public SQLite plumbing, for code outside `appliance.store` (the web UI).

What the web UI legitimately needs from the store's connection handling: open the file
for writing with the service's settings (`connect_writer`: WAL, synchronous=FULL, busy
timeout, migrations), open it read-only (`open_readonly`), a write transaction that takes
the lock at BEGIN (`immediate`; `immediate_connection` for a plain connection), and
the call log's way of writing a time (`iso_at`).
The implementation stays private in `appliance.store._sqlite`; import it from here.
"""

from appliance.store._sqlite import (
    DEFAULT_BUSY_TIMEOUT_S,
    connect_writer,
    immediate,
    immediate_connection,
    iso_at,
    open_readonly,
)

__all__ = [
    "DEFAULT_BUSY_TIMEOUT_S",
    "connect_writer",
    "immediate",
    "immediate_connection",
    "iso_at",
    "open_readonly",
]
