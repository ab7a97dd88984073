"""What the web UI's unit lets it have: lower its own CPU priority, and descriptors enough.

Password checks (Argon2) run in threads of their own at nice 19 (`web_ui.auth.passwords`),
so on busy cores the operators' console goes first. That takes `setpriority`, which
systemd's `@resources` group holds; the unit denied the whole group, so on the box every
check ran at normal priority. The unit's `SystemCallFilter=` lines are evaluated here as
systemd merges them (the first line decides allow- or deny-listing, later lines add to or
take from that list, an empty one resets it), each group expanded by
`systemd-analyze syscall-filter` on this machine.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from tests.system.units import SYSTEMD_DIR, values

WEB_UNIT = SYSTEMD_DIR / "siaga-web.service"
# docs/benchmarks.md, "The operator's console under attack": with 1,000 connections stalled
# in their headers and 150 clients guessing passwords the web process held 1,177
# descriptors, one per connection and 177 besides (database, logins, streams, its own).
STALLED_CONNECTIONS = 2_000  # what the web UI is built to shed (the same benchmark)
DESCRIPTORS_BESIDES_STALLED = 1_177 - 1_000


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    assert found, "systemd-analyze is missing: apt-get install systemd (./dev test does)"
    return found


@functools.cache
def group(name: str) -> frozenset[str]:
    """Every system call of the group `@name`, nested groups expanded."""
    listing = subprocess.run(
        [systemd_analyze(), "syscall-filter", name],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    found: set[str] = set()
    for line in listing.splitlines()[1:]:  # the first line is the group's own name
        entry = line.strip()
        if entry and not entry.startswith("#"):
            found |= expanded(entry)
    return frozenset(found)


def expanded(entry: str) -> frozenset[str]:
    """One entry of a filter (`@group`, `name`, either with `:errno`) as system calls."""
    name = entry.partition(":")[0]
    return group(name) if name.startswith("@") else frozenset({name})


def filtered(lines: list[str]) -> tuple[bool, set[str]]:
    """(allow-listing?, the system calls listed) as systemd merges the `lines`."""
    allow_listing: bool | None = None
    listed: set[str] = set()
    for line in lines:
        if not line.strip():  # an empty assignment resets the filter
            allow_listing, listed = None, set()
            continue
        deny = line.startswith("~")
        names: set[str] = set()
        for entry in line.removeprefix("~").split():
            names |= expanded(entry)
        if allow_listing is None:
            allow_listing = not deny  # the first line decides the default action
        if deny != allow_listing:  # an entry of the list's own kind: listed too
            listed |= names
        else:
            listed -= names
    return bool(allow_listing), listed


def denied(syscall: str) -> bool:
    """Whether the web unit's filter refuses `syscall`."""
    allow_listing, listed = filtered(values(WEB_UNIT, "SystemCallFilter"))
    return syscall not in listed if allow_listing else syscall in listed


def test_the_web_unit_lets_password_checks_lower_their_priority() -> None:
    assert "setpriority" in group("@resources")  # why the unit must let it through
    assert not denied("setpriority")
    # Only lowering: without CAP_SYS_NICE no thread can raise its priority again.
    assert values(WEB_UNIT, "CapabilityBoundingSet") == [""]


def test_the_rest_of_resources_and_privileged_stays_denied() -> None:
    for syscall in ("setrlimit", "sched_setscheduler", "sched_setaffinity", "ioprio_set"):
        assert denied(syscall), syscall
    assert group("@privileged")
    assert all(denied(syscall) for syscall in group("@privileged"))
    assert not denied("read") and not denied("getpriority")


def test_the_web_unit_has_descriptors_for_thousands_of_stalled_connections() -> None:
    [limit] = values(WEB_UNIT, "LimitNOFILE")
    soft = limit.partition(":")[0]
    needed = STALLED_CONNECTIONS + DESCRIPTORS_BESIDES_STALLED
    assert soft == "infinity" or int(soft) >= needed, (limit, needed)
