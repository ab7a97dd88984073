"""What the line service takes from sharing: the site's facts about numbers, from SQLite.

The line service never talks to the network. `siaga sync` keeps the verdicts, challenge
outcomes and call-backs served of the site's other appliances in `peer_facts`, and a
trigger keeps this box's own call-backs served there too, sharing or not (an operator's
call-back is a contact with the number wherever it was marked); the service reads them at
start (into the policy's replay) and then every few seconds, as it reads rules the CLI
adds. This module imports nothing of NATS, so the line service's memory does not grow by
it.
"""

from __future__ import annotations

import logging
from pathlib import Path

from appliance.cluster import store
from appliance.config import ClusterConfig
from appliance.policy import SharedFact
from appliance.store.db import connect_writer, open_readonly

logger = logging.getLogger(__name__)


def declare_sharing(db_path: Path, cluster: ClusterConfig | None, now_ts: float) -> None:
    """Turn the outbox on for `[cluster]`, off without it, before the first call is written."""
    db = connect_writer(db_path)
    try:
        if cluster is None:
            if store.withdraw(db):
                logger.warning("no [cluster] any more: this box stopped sharing")
        else:
            store.declare(db, cluster.site, cluster.appliance, now_ts)
    finally:
        db.close()


class PeerFactFeed:
    """Reads the site's facts once for the replay, then only the ones that came since."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        self._after_id = 0

    def since(self, ts: float) -> list[SharedFact]:
        """Facts that happened from `ts` on, for the start-up replay; later reads continue
        after the newest one."""
        conn = open_readonly(self.db_path)
        try:
            conn.execute("BEGIN")  # one snapshot: no fact both replayed and read again later
            self._after_id = store.last_peer_fact_id(conn)
            facts = store.peer_facts_since(conn, ts)
            conn.execute("COMMIT")
        finally:
            conn.close()
        return [_shared(fact) for fact in facts]

    def new(self) -> list[SharedFact]:
        """Facts received since the last read."""
        conn = open_readonly(self.db_path)
        try:
            facts = store.peer_facts_after(conn, self._after_id)
        finally:
            conn.close()
        if facts:
            self._after_id = facts[-1].id
        return [_shared(fact) for fact in facts]


def _shared(fact: store.PeerFact) -> SharedFact:
    return SharedFact(
        caller_e164=fact.caller, kind=fact.kind, value=fact.value, at=fact.ts, origin=fact.origin
    )
