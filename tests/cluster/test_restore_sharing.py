"""A box restored from an older backup goes on sharing without reusing what it published.

The site's other boxes keep each verdict once by its origin and outbox number, and the hub
keeps each call, and each call-back entry, once by its box and id. A backup taken before
some calls holds a lower last call id, call-back entry and outbox number than the database
it replaces: new calls, entries and verdicts numbered from there would be taken for ones
already held and dropped, on every other box and at the hub, without a word. The restore
keeps the replaced database's numbers as floors. Real `siaga backup` and `siaga restore`
on a box whose `SyncAgent` runs, a second box and the hub on a real nats-server.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from appliance.store import CallLog
from tests.cluster.conftest import ZONE, AgentThread, NatsServer, connected, rows, wait_for
from tests.cluster.test_hub_callbacks import hub_entries, release
from tests.web_ui.test_setup_and_cli import add_technician, siaga

BEFORE, AFTER_RESTORE = "+6281200000001", "+6281200000009"
AFTER_BACKUP = ("+6281200000002", "+6281200000003", "+6281200000004")


def a_call_with_a_verdict(db: Path, caller: str, verdict: str) -> int:
    """One call numbered by the call log itself, as the line service numbers them, and an
    operator's verdict on it; returns its id."""
    log = CallLog(db, timezone=ZONE)
    log.open()
    try:
        now = time.time()
        call_id = log.new_call_id()
        log.call_started(
            call_id,
            {"line": "line1", "caller_raw": caller, "caller": caller,
             "number_class": "number", "started_ts": now - 60,
             "decision": "pass", "reason": "no_history"},
        )  # fmt: skip
        log.call_updated(call_id, {"ended_ts": now - 30, "end_cause": "operator"})
        log.record_disposition(call_id, verdict, "op1", now - 20)
        assert log.flush()
    finally:
        log.close()
    return call_id


def hub_callers(hub: Path) -> list[tuple[object, ...]]:
    return rows(hub, "SELECT origin_id, caller FROM calls ORDER BY origin_id")


def verdicts_on(box: Path) -> list[tuple[object, ...]]:
    return rows(box, "SELECT caller, value FROM peer_facts WHERE kind = 'verdict' ORDER BY id")


def test_a_box_restored_from_an_older_backup_shares_its_new_calls_and_verdicts(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    a, b, hub, backup = (tmp_path / name for name in ("a.db", "b.db", "hub.db", "backup.db"))
    add_technician(a, "tina")  # a restore needs a technician in the backup
    box_a, box_b = agents(nats_server, "a", a), agents(nats_server, "b", b)
    the_hub = agents(nats_server, "hub", hub, site="banten", hub=True)
    connected(box_a, box_b, the_hub)

    assert a_call_with_a_verdict(a, BEFORE, "prank") == 1
    made = siaga("backup", "--db", a, "--out", backup)
    assert made.returncode == 0, made.stderr
    for call_id, caller in enumerate(AFTER_BACKUP, start=2):
        assert a_call_with_a_verdict(a, caller, "ghost") == call_id
    release(a, AFTER_BACKUP[0])  # a caller released: call-back entry 1
    wait_for(lambda: len(hub_callers(hub)) == 4, "every call at the hub")
    wait_for(lambda: len(verdicts_on(b)) == 4, "every verdict on box b")
    wait_for(lambda: len(hub_entries(hub)) == 1, "the call-back entry at the hub")

    [(published,)] = rows(a, "SELECT max(id) FROM outbox")
    restoring_ts = time.time()
    restored = siaga("restore", backup, "--db", a, "--yes")
    assert restored.returncode == 0, restored.stderr
    assert rows(a, "SELECT id FROM calls") == [(1,)]  # the backup's, as it was
    assert a_call_with_a_verdict(a, AFTER_RESTORE, "prank") == 5  # not 2 again
    # Every message the box sends from now on has a number none of its sent ones had.
    since_restore = rows(a, "SELECT id FROM outbox WHERE created_ts >= ?", restoring_ts)
    assert len(since_restore) >= 3  # the restore's event, the call, the verdict
    assert min(since_restore)[0] > published, (since_restore, published)

    wait_for(lambda: len(hub_callers(hub)) == 5, "the new call at the hub", timeout_s=20.0)
    assert hub_callers(hub) == [
        (1, BEFORE), *enumerate(AFTER_BACKUP, start=2), (5, AFTER_RESTORE)
    ]  # fmt: skip
    wait_for(lambda: len(verdicts_on(b)) == 5, "the new verdict on box b", timeout_s=20.0)
    assert verdicts_on(b)[-1] == (AFTER_RESTORE, "prank")
    release(a, AFTER_RESTORE)  # entry 2: the hub holds entry 1 already
    assert rows(a, "SELECT id, caller FROM callbacks") == [(2, AFTER_RESTORE)]
    wait_for(lambda: len(hub_entries(hub)) == 2, "the new entry at the hub", timeout_s=20.0)
    assert [(entry[2], entry[3]) for entry in hub_entries(hub)] == [
        (1, AFTER_BACKUP[0]), (2, AFTER_RESTORE)
    ]  # fmt: skip
    assert box_b.agent.refused == the_hub.agent.refused == 0
