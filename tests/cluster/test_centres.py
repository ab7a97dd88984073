"""Two appliances of one site, as installed: `siaga run` and `siaga sync` on each, one
nats-server between them, virtual modems on real pseudo-terminals.

What the centre relies on: a block a supervisor adds on one box screens the next call on
the other; operators' verdicts on one box restrict the number on the other; and screening
goes on, unchanged, while the server is down.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster.conftest import NatsServer
from tests.faults.conftest import RunCentre, SiagaProcess, query, wait_real, write_run_config

PRANKSTER = "081277776666"
PRANKSTER_E164 = "+6281277776666"
BLOCKED = "081299990000"


class Box:
    """One appliance: its line service and its sharing agent, each a real process."""

    def __init__(
        self, folder: Path, name: str, server: NatsServer, *, cluster_extra: str = ""
    ) -> None:
        folder.mkdir()
        self.name = name
        self.centre = RunCentre(folder)
        cluster = (
            f'[cluster]\nsite = "serang"\nappliance = "{name}"\nservers = ["{server.url}"]\n'
            f"retry_s = 0.2\n{cluster_extra}"
        )
        ports = {line: thread.modem.port for line, thread in self.centre.modems.items()}
        write_run_config(self.centre.config, self.centre.db, ports, extra=cluster)
        self.sync: SiagaProcess | None = None

    def start(self, *, wait_connected: bool = True) -> None:
        """`siaga run`, then `siaga sync`; waits for sync's session unless told not to."""
        self.centre.start()
        config = str(self.centre.config)
        self.sync = SiagaProcess(
            ["-v", "sync", "--config", config], self.centre.tmp_path / "sync.log"
        )
        if wait_connected:
            wait_real(lambda: self.centre.events("sync_connected"), f"box {self.name} to connect")

    def call_and_hang_up(self, number: str) -> sqlite3.Row:
        """A caller rings, is screened, and hangs up; the call's finished row."""
        before = len(self.centre.calls())
        call = self.centre.ring(number)
        wait_real(
            lambda: len(self.centre.calls()) > before and self.centre.calls()[-1]["decision"],
            "the decision",
        )
        self.centre.hang_up(call)
        ended = wait_real(
            lambda: [row for row in self.centre.calls()[before:] if row["ended_at"]],
            "the call to end",
        )
        return ended[0]

    def verdict(self, call_id: int, disposition: str) -> None:
        """An operator records a verdict from the console (a desk request)."""
        conn = sqlite3.connect(self.centre.db, timeout=10)
        with conn:
            conn.execute(
                "INSERT INTO desk_requests (kind, line, call_id, disposition, operator,"
                " requested_ts) VALUES ('disposition', 'line1', ?, ?, 'siti', ?)",
                (call_id, disposition, time.time()),
            )
        conn.close()

    def rules_loaded(self) -> int:
        """Block rules in force in the line service, as it last logged them."""
        assert self.centre.service is not None
        loaded = re.findall(r"rules in force: \d+ allow, (\d+) block", self.centre.service.output())
        return int(loaded[-1]) if loaded else -1

    def close(self) -> None:
        if self.sync is not None:
            self.sync.stop()
        self.centre.close()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[NatsServer, Box, Box]]:
    folder = tmp_path / "nats"
    folder.mkdir()
    server = NatsServer(folder)
    server.start()
    boxes = (Box(tmp_path / "a", "a", server), Box(tmp_path / "b", "b", server))
    try:
        for box in boxes:
            box.start()
        yield server, *boxes
    finally:
        for box in boxes:
            box.close()
        server.kill()


def test_a_block_on_one_box_rejects_the_next_call_on_the_other(
    site: tuple[NatsServer, Box, Box],
) -> None:
    _, box_a, box_b = site
    box_a.centre.block(BLOCKED, action="reject")
    (rule,) = query(box_a.centre.db, "SELECT id FROM rules")
    wait_real(
        lambda: query(box_b.centre.db, "SELECT id FROM rules WHERE origin = 'a'"),
        "the block on box b",
    )
    wait_real(lambda: box_b.rules_loaded() == 1, "box b's service to load it")
    row = box_b.call_and_hang_up(BLOCKED)
    assert (row["decision"], row["reason"], row["rule"]) == ("reject", "blocklist", rule["id"])


def test_verdicts_on_one_box_restrict_the_number_on_the_other(
    site: tuple[NatsServer, Box, Box],
) -> None:
    _, box_a, box_b = site
    first = box_b.call_and_hang_up(PRANKSTER)
    assert first["reason"] == "no_history"
    for _ in range(3):
        row = box_a.call_and_hang_up(PRANKSTER)
        box_a.verdict(row["id"], "prank")
    wait_real(
        lambda: (
            len(query(box_b.centre.db, "SELECT id FROM peer_facts WHERE kind = 'verdict'")) == 3
        ),
        "three verdicts on box b",
    )
    time.sleep(2.5)  # box b's service reads the site's facts every second
    row = box_b.call_and_hang_up(PRANKSTER)
    assert (row["caller"], row["reason"]) == (PRANKSTER_E164, "abuse")


def test_screening_goes_on_while_the_server_is_down_and_nothing_is_lost(
    site: tuple[NatsServer, Box, Box],
) -> None:
    server, box_a, box_b = site
    server.kill()
    rows = [box_a.call_and_hang_up(f"08127777{n:04d}") for n in range(3)]
    assert all(row["decision"] for row in rows)
    box_a.verdict(rows[0]["id"], "ghost")
    box_a.centre.block(BLOCKED, action="reject")
    wait_real(
        lambda: (
            query(box_a.centre.db, "SELECT count(*) AS n FROM outbox WHERE sent_ts IS NULL")[0]["n"]
            >= 5
        ),
        "the outbox to hold the calls, the verdict and the rule",
    )
    server.start()
    wait_real(
        lambda: (
            query(box_a.centre.db, "SELECT count(*) AS n FROM outbox WHERE sent_ts IS NULL")[0]["n"]
            == 0
        ),
        "the outbox to drain",
    )
    wait_real(
        lambda: query(box_b.centre.db, "SELECT id FROM rules WHERE origin = 'a'"),
        "the block on box b",
    )
    facts = query(box_b.centre.db, "SELECT value FROM peer_facts WHERE kind = 'verdict'")
    assert [fact["value"] for fact in facts] == ["ghost"]
