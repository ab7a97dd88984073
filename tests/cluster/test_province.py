"""Rules of the whole province: made at the hub, in force on every appliance of every site.

Real servers throughout: the province's sites on leaf nodes of the hub's server, each in
its own JetStream domain, through a link the test cuts (the `province` fixture), and a
province whose sites and hub share one server. The hub is the real `Hub`, each box a real
`SyncAgent` on its own SQLite file; the decision is the line service's own (`decide` on
the rules as `StoredRules` reads them from the box's database).
"""

from __future__ import annotations

import io
import logging
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from appliance.cluster.run import print_status
from appliance.config import PolicyConfig
from appliance.model import Action
from appliance.numbers import normalise
from appliance.policy import PolicyState, decide
from appliance.store.rules import StoredRules
from tests.cluster.conftest import AgentThread, Link, NatsServer, connected, rows, wait_for
from tests.cluster.test_sharing import block, rule_row, unblock

RING = "+6281255500011"  # a number of the prank ring the province blocks
RING_PREFIX = "+628125550"
OTHER_RING = "+6285799900022"
PROVINCE = "province/hub"  # the origin a province rule carries on a box


def screened(db: Path, number: str) -> tuple[str, str, str | None]:
    """(action, reason, rule id) the box's line service would decide for `number` now,
    from the rules in its database."""
    allow, block_rules = StoredRules(db, "allow"), StoredRules(db, "block")
    try:
        for rules in (allow, block_rules):
            rules.refresh()
        policy = PolicyState(PolicyConfig(), allow=allow, block=block_rules)
        caller, now = normalise(number), time.time()
        policy.record_arrival(caller, now)
        decision = decide(caller, policy, policy.config, now)
    finally:
        for rules in (allow, block_rules):
            rules.close()
    return decision.action.value, decision.reason.value, decision.rule


def province_block(hub: Path, pattern: str) -> str:
    """A province supervisor's block, made at the hub as on any box (`siaga block add
    --config hub.toml`, or the hub's web UI)."""
    return block(hub, pattern, by="province-supervisor", reason="prank ring across sites")


def test_a_province_rule_reaches_every_site_and_a_site_cut_off_catches_up(
    tmp_path: Path,
    province: tuple[dict[str, NatsServer], Link],
    agents: Callable[..., AgentThread],
) -> None:
    servers, link = province
    hub = tmp_path / "hub.db"
    boxes = {site: tmp_path / f"{site}-box1.db" for site in ("serang", "cilegon")}
    parts = [
        agents(servers[site], "box1", db, site=site, domain=site, province_domain="hub")
        for site, db in boxes.items()
    ]
    the_hub = agents(servers["hub"], "hub", hub, site="banten", hub=True, site_domains=tuple(boxes))
    connected(*parts, the_hub, timeout_s=60)

    first = province_block(hub, RING_PREFIX)
    for db in boxes.values():
        wait_for(lambda db=db: rule_row(db, first), f"the province's rule on {db.name}", 60)
        assert rule_row(db, first)["origin"] == PROVINCE  # type: ignore[index]
        assert screened(db, RING) == (Action.REJECT.value, "blocklist", first)

    link.cut()  # the province's link down: the sites screen on, the hub changes its rules
    second = province_block(hub, OTHER_RING)
    unblock(hub, first, by="province-supervisor", reason="ring arrested")
    serang_box2 = tmp_path / "serang-box2.db"  # a box that joins its site meanwhile
    box2 = agents(servers["serang"], "box2", serang_box2, domain="serang", province_domain="hub")
    wait_for(box2.is_connected, "box2 to connect to its site's server", timeout_s=60)
    wait_for(lambda: rule_row(serang_box2, first), "the site's mirror of the rule on box2", 60)
    time.sleep(2.0)
    for db in (*boxes.values(), serang_box2):
        assert rule_row(db, second) is None, "a rule crossed a cut link"
        assert screened(db, RING)[1] == "blocklist"  # the last word they had

    link.heal()
    for db in (*boxes.values(), serang_box2):
        wait_for(lambda db=db: rule_row(db, second), f"the second rule on {db.name}", 90)
        wait_for(lambda db=db: (rule_row(db, first) or {}).get("removed_ts"), "the removal", 30)
        assert screened(db, RING)[1] != "blocklist"
        assert screened(db, OTHER_RING) == (Action.REJECT.value, "blocklist", second)
        assert rows(db, "SELECT count(*) FROM outbox WHERE kind = 'rule'") == [(0,)]  # no echo
    time.sleep(0.5)
    for part in parts[:2]:  # each revision applied once: the rule, the second, the removal
        assert part.agent.applied_province_rules == 3
        assert part.agent.refused == 0


def test_a_province_rule_on_one_server_reaches_the_boxes_and_a_lift_on_a_box_stays_there(
    tmp_path: Path,
    nats_server: NatsServer,
    agents: Callable[..., AgentThread],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="appliance.cluster.agent")
    a, b, hub = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "hub.db"
    first = province_block(hub, RING_PREFIX)  # made while `siaga hub` is not running
    box_a, box_b = agents(nats_server, "a", a), agents(nats_server, "b", b)
    the_hub = agents(nats_server, "hub", hub, site="banten", hub=True)
    connected(box_a, box_b, the_hub)
    for db in (a, b):
        wait_for(lambda db=db: rule_row(db, first), f"the province's rule on {db.name}")

    unblock(a, first, by="supervisor-a", reason="lifted here")  # a box lifts it locally
    wait_for(
        lambda: rows(a, "SELECT count(*) FROM outbox WHERE sent_ts IS NULL") == [(0,)],
        "box a's outbox handled",
    )
    site_rule = block(a, "+62877")  # the site's own sharing goes on
    wait_for(lambda: rule_row(b, site_rule), "box a's own rule on box b")
    assert (rule_row(b, first) or {}).get("removed_ts") is None  # not lifted on the site
    assert screened(b, RING)[1] == "blocklist"
    assert screened(a, RING)[1] != "blocklist"
    assert rule_row(hub, first)["removed_ts"] is None  # type: ignore[index]
    assert box_a.agent.refused == box_b.agent.refused == 0
    assert f"rule {first} is the province's" in caplog.text
    status = io.StringIO()
    print_status(sqlite3.connect(f"file:{b}?mode=ro", uri=True), status)  # `siaga sync --status`
    assert "rules from other appliances: 1\nrules from the province: 1\n" in status.getvalue()
