"""The province hub: every site's calls and verdicts in one database, once each.

Two appliances of two sites and the hub, each a real process part (`SyncAgent`, `Hub`)
on real SQLite files, through a real nats-server that is killed and restarted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from appliance.store import CallLog
from appliance.store.db import connect_writer
from tests.cluster.conftest import ZONE, AgentThread, NatsServer, connected, rows, wait_for
from tests.cluster.test_sharing import NUMBER, record_verdicts


def hub_calls(hub: Path) -> list[tuple[object, ...]]:
    return rows(
        hub,
        "SELECT site, appliance, origin_id, caller, disposition FROM calls"
        " ORDER BY site, appliance, origin_id",
    )


def test_every_sites_calls_reach_the_hub_once_with_their_verdicts(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    serang, cilegon, hub = tmp_path / "serang.db", tmp_path / "cilegon.db", tmp_path / "hub.db"
    boxes = [
        agents(nats_server, "box1", serang),
        agents(nats_server, "box1", cilegon, site="cilegon"),
    ]
    the_hub = agents(nats_server, "hub", hub, site="banten", hub=True)
    connected(*boxes, the_hub)

    record_verdicts(serang, NUMBER, ["prank", "genuine:fire"])
    record_verdicts(cilegon, "+6281300001111", ["ghost"])
    expected = [
        ("cilegon", "box1", 1, "+6281300001111", "ghost"),
        ("serang", "box1", 1, NUMBER, "prank"),
        ("serang", "box1", 2, NUMBER, "genuine:fire"),
    ]
    wait_for(lambda: hub_calls(hub) == expected, "the three calls with their verdicts")

    nats_server.kill()  # the link down while calls go on, and a verdict changes its mind
    record_verdicts(serang, NUMBER, ["ghost"], first_call_id=3)
    log = CallLog(serang, timezone=ZONE)
    log.open()
    log.record_disposition(1, "genuine:health", "op2", time.time())
    assert log.flush()
    log.close()
    nats_server.start()
    wait_for(
        lambda: len(hub_calls(hub)) == 4 and hub_calls(hub)[1][4] == "genuine:health",
        "the fourth call and the corrected verdict",
    )
    time.sleep(1.0)
    assert rows(
        hub, "SELECT count(*), count(DISTINCT site || appliance || origin_id) FROM calls"
    ) == [(4, 4)]
    assert the_hub.agent.refused == 0


def test_a_verdict_that_arrives_before_its_call_is_kept_for_it(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    serang, hub = tmp_path / "serang.db", tmp_path / "hub.db"
    box = agents(nats_server, "box1", serang)
    the_hub = agents(nats_server, "hub", hub, site="banten", hub=True)
    connected(box, the_hub)
    log = CallLog(serang, timezone=ZONE)
    log.open()
    now = time.time()
    log.call_started(
        7,
        {"line": "line1", "caller_raw": NUMBER, "caller": NUMBER, "number_class": "number",
         "started_ts": now - 30, "decision": "pass", "reason": "no_history"},
    )  # fmt: skip
    log.record_disposition(7, "prank", "op1", now - 20)  # while the call is still up
    assert log.flush()
    wait_for(lambda: rows(hub, "SELECT count(*) FROM hub_verdicts") == [(1,)], "the verdict")
    assert hub_calls(hub) == []
    log.call_updated(7, {"ended_ts": now - 10, "end_cause": "caller"})
    assert log.flush()
    log.close()
    wait_for(lambda: hub_calls(hub) == [("serang", "box1", 7, NUMBER, "prank")], "the call, judged")


def test_every_boxs_alarms_reach_the_hub_once_saying_where(
    tmp_path: Path, nats_server: NatsServer, agents: Callable[..., AgentThread]
) -> None:
    serang, hub = tmp_path / "serang.db", tmp_path / "hub.db"
    box = agents(nats_server, "box1", serang)
    the_hub = agents(nats_server, "hub", hub, site="banten", hub=True)
    connected(box, the_hub)
    log = CallLog(serang, timezone=ZONE)
    log.open()
    now = time.time()
    log.add_event("line_degraded", line="line3", detail={"missing": ["caller_id"]}, ts=now)
    log.add_event("flood_on", detail={"reason": "occupancy"}, ts=now)
    assert log.flush()
    log.close()
    alarms = "SELECT kind, line, detail FROM events WHERE kind IN ('line_degraded', 'flood_on')"
    wait_for(lambda: len(rows(hub, alarms)) == 2, "both alarms at the hub")
    assert sorted(rows(hub, alarms)) == [
        ("flood_on", "serang/box1", '{"reason": "occupancy"}'),
        ("line_degraded", "serang/box1/line3", '{"missing": ["caller_id"]}'),
    ]
    box.stop()  # re-sent after a lost acknowledgement: still once at the hub
    db = connect_writer(serang)
    with db.conn:
        db.execute("UPDATE outbox SET sent_ts = NULL WHERE kind = 'event'")
    db.close()
    agents(nats_server, "box1", serang)
    wait_for(
        lambda: rows(serang, "SELECT count(*) FROM outbox WHERE sent_ts IS NULL") == [(0,)],
        "the re-send",
    )
    time.sleep(0.5)
    assert len(rows(hub, alarms)) == 2
