"""Markers for a fast inner loop, given by what a test needs rather than by hand.

- `browser`: drives the headless Chromium (the `chrome` fixture, and `browser` on it);
- `system`: tests/system (install.sh in a Debian root, systemd units, shellcheck);
- `server`: runs a server or a program beside the test: the web UI (the `server` fixture,
  or one of its own), nats-server (tests/cluster), a `siaga` process, espeak-ng and sox;
- `slow`: all of the above, whatever replays whole scenarios or faults through the real
  service (tests/faults, the flood worlds, the simulated months), and the few core tests
  marked `slow` in their module because each takes seconds (random logs of thousands of
  calls, a caller's voice streamed in real time).

`./dev test -m "not slow"` runs the rest, the core suite: the AT parser and channel, the
virtual modem, the line state machine on real pseudo-terminals, the policy, the store on
real SQLite files, the web UI's pure parts, the docs and import checks: about 1,450
tests in 57 s on two cores shared with other work, where the whole suite is about 2,270
in 20 minutes. CI runs everything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SLOW_MODULES = frozenset(
    {
        "appliance/test_floods.py",
        "appliance/test_unserved_callers.py",
        "faults/test_soak.py",
        "cluster/test_centres.py",
        "cluster/test_site_demo.py",
        "web_ui/test_load.py",
    }
)
# Modules whose tests start a program or a server of their own rather than a fixture's.
SERVER_MODULES = frozenset(
    {
        "appliance/test_cli.py",
        "appliance/test_durability.py",
        "appliance/test_run.py",
        "appliance/test_site_simulation.py",
        "appliance/test_web_lines.py",
        "firmware/test_audio_external.py",
        "web_ui/test_https.py",
        "web_ui/test_rules_roundtrip.py",
        "web_ui/test_security.py",
        "web_ui/test_setup_and_cli.py",
        "web_ui/test_tls_stall.py",
    }
)


def _serves(item: pytest.Item) -> bool:
    """Whether a fixture the test uses yields a live web UI (`LiveServer`)."""
    info = getattr(item, "_fixtureinfo", None)
    definitions = info.name2fixturedefs.values() if info is not None else ()
    return any(
        "LiveServer" in str(getattr(definition.func, "__annotations__", {}).get("return", ""))
        for chain in definitions
        for definition in chain
    )


def _needs_a_server(item: pytest.Item, relative: Path) -> bool:
    return (
        relative.parts[:1] == ("cluster",) or relative.as_posix() in SERVER_MODULES or _serves(item)
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each collected test by what it needs (see the module docstring)."""
    for item in items:
        path = Path(str(item.path)).resolve()
        relative = path.relative_to(TESTS) if path.is_relative_to(TESTS) else path
        fixtures = tuple(getattr(item, "fixturenames", ()))
        browser = "chrome" in fixtures
        system = relative.parts[:1] == ("system",)
        server = _needs_a_server(item, relative)
        for marked, marker in ((browser, pytest.mark.browser), (system, pytest.mark.system),
                               (server, pytest.mark.server)):  # fmt: skip
            if marked:
                item.add_marker(marker)
        replays = relative.parts[:1] == ("faults",) or relative.as_posix() in SLOW_MODULES
        if browser or system or server or replays:
            item.add_marker(pytest.mark.slow)
