"""The systemd units pass `systemd-analyze verify` and keep their hardening.

`verify` insists that ExecStart's program exists, and the units name the installed
/opt/siaga/venv/bin/siaga. Here they are verified as copies whose ExecStart names this
test environment's `siaga` (everything else byte for byte); the installer's test verifies
the installed units unchanged inside a Debian root where /opt/siaga/venv exists.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.system.units import SYSTEMD_DIR, entries, values

UNITS = ("siaga.service", "siaga-web.service", "siaga-sync.service")
INSTALLED_SIAGA = "/opt/siaga/venv/bin/siaga"
# `systemd-analyze security` exposure scores (0 best, 10 worst) the units must stay under.
MAX_EXPOSURE = {"siaga.service": 1.5, "siaga-web.service": 2.0, "siaga-sync.service": 2.0}


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    assert found, "systemd-analyze is missing: apt-get install systemd (./dev test does)"
    return found


@pytest.fixture
def unit_copies(tmp_path: Path) -> Path:
    """The units and drop-ins, ExecStart pointed at this environment's `siaga`."""
    test_siaga = Path(sys.executable).with_name("siaga")
    assert test_siaga.exists(), test_siaga
    for unit in UNITS:
        text = (SYSTEMD_DIR / unit).read_text(encoding="utf-8")
        assert f"ExecStart={INSTALLED_SIAGA} " in text
        (tmp_path / unit).write_text(text.replace(INSTALLED_SIAGA, str(test_siaga)))
    shutil.copytree(SYSTEMD_DIR / "siaga.service.d", tmp_path / "siaga.service.d")
    return tmp_path


def test_both_units_pass_systemd_analyze_verify(unit_copies: Path) -> None:
    result = subprocess.run(
        [systemd_analyze(), "verify", *(str(unit_copies / unit) for unit in UNITS)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # verify exits 0 on unknown keys too, with a warning: any output is a failure.
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


@pytest.mark.parametrize("unit", UNITS)
def test_the_units_hardening_keeps_their_exposure_low(unit_copies: Path, unit: str) -> None:
    result = subprocess.run(
        [systemd_analyze(), "security", "--offline=yes", "--no-pager", str(unit_copies / unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    overall = [line for line in result.stdout.splitlines() if "Overall exposure level" in line]
    assert overall, result.stdout + result.stderr
    score = float(overall[0].split(":")[1].split()[0])
    assert score <= MAX_EXPOSURE[unit], overall[0]


def test_the_line_service_is_a_watched_notify_service() -> None:
    unit = SYSTEMD_DIR / "siaga.service"
    assert values(unit, "Type") == ["notify"]
    assert values(unit, "WatchdogSec") == ["30"]
    assert values(unit, "Restart") == ["always"]
    assert values(unit, "StartLimitIntervalSec", "Unit") == ["0"]
    assert values(unit, "ExecStart") == [f"{INSTALLED_SIAGA} run --config /etc/siaga/config.toml"]
    assert values(unit, "KillSignal") == ["SIGINT"]  # the orderly stop siaga run handles


@pytest.mark.parametrize("unit", UNITS)
def test_each_unit_runs_as_siaga_with_only_the_data_directory_writable(unit: str) -> None:
    path = SYSTEMD_DIR / unit
    assert values(path, "User") == values(path, "Group") == ["siaga"]
    assert values(path, "ReadWritePaths") == ["/var/lib/siaga"]
    state = " ".join(values(path, "StateDirectory")).split()  # /var/lib/siaga, and within it
    assert state[0] == "siaga" and all(name.startswith("siaga/") for name in state[1:])
    for key in ("NoNewPrivileges", "ProtectHome", "PrivateTmp"):
        assert values(path, key) == ["yes"], key
    assert values(path, "ProtectSystem") == ["strict"]
    assert values(path, "CapabilityBoundingSet") == [""]


def test_the_line_service_reaches_serial_ports_but_no_network() -> None:
    unit = SYSTEMD_DIR / "siaga.service"
    assert values(unit, "SupplementaryGroups") == ["dialout"]  # gpio: only in the drop-in
    assert values(unit, "DevicePolicy") == ["closed"]
    allowed = values(unit, "DeviceAllow")
    assert {"char-ttyUSB rw", "char-ttyAMA rw"} <= set(allowed)
    assert values(unit, "PrivateNetwork") == ["yes"]
    assert values(unit, "PrivateDevices") == []
    gpio = SYSTEMD_DIR / "siaga.service.d" / "gpio.conf"
    assert values(gpio, "SupplementaryGroups") == ["gpio"]
    assert "char-gpiochip rw" in values(gpio, "DeviceAllow")


def test_the_web_unit_has_no_devices_and_does_not_require_the_line_service() -> None:
    unit = SYSTEMD_DIR / "siaga-web.service"
    assert values(unit, "ExecStart") == [
        f"{INSTALLED_SIAGA} web --config /etc/siaga/config.toml"
        " --tls-cert /etc/siaga/tls/server.crt --tls-key /etc/siaga/tls/server.key"
    ]
    assert values(unit, "PrivateDevices") == ["yes"]
    assert values(unit, "SupplementaryGroups") == []
    assert "siaga.service" in values(unit, "After", "Unit")[0].split()
    for key in ("Requires", "BindsTo", "Requisite", "PartOf", "Wants"):
        assert not any("siaga.service" in value for value in values(unit, key, "Unit")), key
    line_unit = SYSTEMD_DIR / "siaga.service"
    assert not any("siaga-web" in value for _, _, value in entries(line_unit))
