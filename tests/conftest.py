"""Markers for a fast inner loop, given by what a test needs rather than by hand.

- `browser`: drives the headless Chromium (the `chrome` fixture, and `browser` on it);
- `system`: tests/system (install.sh in a Debian root, systemd units, shellcheck);
- `slow`: all of the above, and whatever replays whole scenarios or faults through the
  real service (tests/faults, the flood worlds, the simulated months).

`./dev test -m "not slow"` runs the rest, the core suite; CI runs everything.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
SLOW_MODULES = frozenset(
    {
        "test_floods.py",
        "test_unserved_callers.py",
        "test_soak.py",
        "test_centres.py",
        "test_site_demo.py",
        "test_load.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each collected test by what it needs (see the module docstring)."""
    for item in items:
        path = Path(str(item.path)).resolve()
        relative = path.relative_to(TESTS) if path.is_relative_to(TESTS) else path
        browser = "chrome" in getattr(item, "fixturenames", ())
        system = relative.parts[:1] == ("system",)
        if browser:
            item.add_marker(pytest.mark.browser)
        if system:
            item.add_marker(pytest.mark.system)
        if browser or system or relative.parts[:1] == ("faults",) or path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
