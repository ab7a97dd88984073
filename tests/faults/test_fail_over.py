"""Fail open for the whole box: the network forwards a line's calls to the backup number.

A line with `fail_over_to` registers call forwarding on no reply (after
`fail_over_after_s`) and on not reachable with the network (27.007 `AT+CCFC`, mode 3),
never on busy. While Siaga runs it answers or acts within seconds, so the forward fires
only when it does not: the service or its box down, the modem unpowered. Each family's
virtual modem keeps what was registered, as the network does; a network that refuses the
registration leaves the line screening, shown degraded (`no_fail_over`) and retried.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from appliance.line import CCFC_NO_REPLY, CCFC_NOT_REACHABLE, NO_FAIL_OVER
from appliance.model import LineState
from firmware.virtual_modem import VirtualModem
from tests.appliance.conftest import FAMILIES, open_bench, run_virtual
from tests.faults.test_line_health import line_status, next_caller_has_a_number

pytestmark = pytest.mark.timeout(120)

BACKUP = "+62254123456"
CCFC_BUSY = 1


@pytest.mark.parametrize("family", FAMILIES)
def test_a_line_registers_forwarding_to_the_backup_number_and_never_on_busy(
    tmp_path: Path, family: str
) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, family, fail_over_to=BACKUP, fail_over_after_s=15) as bench:
            assert bench.modem.forwarding[CCFC_NO_REPLY] == (BACKUP, 15)
            assert bench.modem.forwarding[CCFC_NOT_REACHABLE][0] == BACKUP
            assert CCFC_BUSY not in bench.modem.forwarding  # a flood must not follow
            assert bench.line.health.degraded == ()
            await next_caller_has_a_number(bench)

    run_virtual(scenario)


def _refuse_forwarding(modem: VirtualModem) -> None:
    modem.refused["+CCFC"] = "+CME ERROR: 30"  # no network service


def test_a_refused_registration_leaves_the_line_screening_degraded_and_retried(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with open_bench(
            tmp_path, "sim800", fail_over_to=BACKUP, modem_setup=_refuse_forwarding
        ) as bench:
            assert bench.line.state is LineState.IDLE
            assert bench.line.health.degraded == (NO_FAIL_OVER,)
            assert line_status(bench)["degraded"] == NO_FAIL_OVER
            assert len(bench.events("line_degraded")) == 1
            await next_caller_has_a_number(bench)  # screening goes on meanwhile

            bench.modem.refused.clear()  # the network takes it now
            await bench.wait_until(lambda: bench.line.health.degraded == (), "the retry")
            assert bench.modem.forwarding[CCFC_NO_REPLY] == (BACKUP, 30)
            assert bench.events("line_restored")

    run_virtual(scenario)


def test_without_a_backup_number_nothing_is_registered(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with open_bench(tmp_path, "sim800") as bench:
            assert bench.modem.forwarding == {}
            assert "AT+CCFC" not in " ".join(bench.commands_since(0.0))

    run_virtual(scenario)
