"""The soak (scripts/soak.py) for two simulated days: faults at random, no call lost.

The 30-day run is too long for the suite (see docs/faults.md); two days with faults at a
high rate prove the wiring and the accounting. Database locks are kept short here
(test_database_faults.py holds one past the busy timeout) to keep the suite fast.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.faults.conftest import REPO_ROOT

pytestmark = pytest.mark.timeout(180)


def load_soak() -> ModuleType:
    """scripts/soak.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("siaga_soak", REPO_ROOT / "scripts" / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_two_soak_days_with_faults_account_for_every_call(tmp_path: Path) -> None:
    soak = load_soak()
    result = soak.run_soak(
        2, seed=7, faults_per_day=12.0, lock_hold_s=(0.2, 1.0), work=tmp_path / "soak"
    )
    soak.print_report(result)
    assert sum(result.faults.values()) >= 10
    assert {"unplug", "reboot", "garbage", "silent"} <= set(result.faults)
    assert result.lost_ids == []
    assert sum(result.accounting.values()) == result.calls
    assert result.accounting["row"] >= 0.9 * result.calls
    assert len(result.samples) >= 2
    # Two days cannot show a trend; they can show that nothing runs away.
    first, last = result.samples[0], result.samples[-1]
    assert last.threads <= first.threads + 2 and last.fds <= first.fds + 4
