"""The systemd units pass `systemd-analyze verify` and keep their hardening.

`verify` insists that ExecStart's program exists, and the units name the installed
/opt/siaga/venv/bin/siaga. Here they are verified as copies whose ExecStart names this
test environment's `siaga` (everything else byte for byte); the installer's test verifies
the installed units unchanged inside a Debian root where /opt/siaga/venv exists.
"""

from __future__ import annotations

import inspect
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from appliance.cli import cmd_hub
from appliance.cluster import hub as cluster_hub
from appliance.cluster import run as cluster_run
from tests.system.test_install_files import installer
from tests.system.units import SYSTEMD_DIR, entries, values

UNITS = ("siaga.service", "siaga-web.service", "siaga-sync.service", "siaga-hub.service")
INSTALLED_SIAGA = "/opt/siaga/venv/bin/siaga"
# `systemd-analyze security` exposure scores (0 best, 10 worst) the units must stay under.
MAX_EXPOSURE = {
    "siaga.service": 1.5,
    "siaga-web.service": 2.0,
    "siaga-sync.service": 2.0,
    "siaga-hub.service": 2.0,
}
# Debian's nats-server package's unit, which `install.sh --nats-server` adds a drop-in to.
DEBIAN_NATS_UNIT = Path("/lib/systemd/system/nats-server.service")


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    assert found, "systemd-analyze is missing: apt-get install systemd (./dev test does)"
    return found


def verify(*units: Path) -> tuple[int, str]:
    """`systemd-analyze verify` of `units`: its exit status and everything it said (it
    exits 0 on unknown keys too, with a warning: any output is a failure)."""
    result = subprocess.run(
        [systemd_analyze(), "verify", *(str(unit) for unit in units)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


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
    assert verify(*(unit_copies / unit for unit in UNITS)) == (0, "")


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


def test_the_hub_unit_runs_siaga_hub_on_its_own_configuration_without_a_watchdog() -> None:
    unit = SYSTEMD_DIR / "siaga-hub.service"
    assert values(unit, "ExecStart") == [f"{INSTALLED_SIAGA} hub --config /etc/siaga/hub.toml"]
    # `siaga hub` never notifies systemd: a watchdog would kill a healthy hub.
    assert values(unit, "Type") == ["exec"]
    assert values(unit, "WatchdogSec") == values(unit, "NotifyAccess") == []
    for code in (cmd_hub, cluster_run, cluster_hub):
        assert "notify" not in inspect.getsource(code).lower(), code
    assert values(unit, "Restart") == ["always"]
    assert values(unit, "RestartPreventExitStatus") == ["2"]  # no [cluster]: not in a loop
    assert values(unit, "StartLimitIntervalSec", "Unit") == ["0"]
    assert values(unit, "PrivateDevices") == ["yes"]
    # Beside the sharing agent's unit, line for line but what makes it the hub.
    own = {"Description", "After", "ExecStart", "SyslogIdentifier"}
    sync = SYSTEMD_DIR / "siaga-sync.service"
    assert [e for e in entries(unit) if e[1] not in own] == [
        e for e in entries(sync) if e[1] not in own
    ]


def test_the_hub_web_drop_in_points_the_web_unit_at_hub_toml(unit_copies: Path) -> None:
    """The drop-in `install.sh --hub` makes, from the web unit's own ExecStart, verifies."""
    made = installer("hub_web_dropin")
    dropin = unit_copies / "siaga-web.service.d" / "hub.conf"
    dropin.parent.mkdir()
    dropin.write_text(made)
    web = values(SYSTEMD_DIR / "siaga-web.service", "ExecStart")[0]
    assert values(dropin, "ExecStart") == [
        "",
        web.replace("--config /etc/siaga/config.toml", "--config /etc/siaga/hub.toml"),
    ]
    test_siaga = str(Path(sys.executable).with_name("siaga"))
    dropin.write_text(made.replace(INSTALLED_SIAGA, test_siaga))
    assert verify(unit_copies / "siaga-web.service") == (0, "")


def test_the_nats_server_drop_in_passes_verify_with_debians_unit(tmp_path: Path) -> None:
    assert DEBIAN_NATS_UNIT.is_file(), "nats-server is missing: apt-get install nats-server"
    shutil.copy(DEBIAN_NATS_UNIT, tmp_path)
    shutil.copytree(SYSTEMD_DIR / "nats-server.service.d", tmp_path / "nats-server.service.d")
    assert verify(tmp_path / "nats-server.service") == (0, "")
    dropin = SYSTEMD_DIR / "nats-server.service.d" / "siaga.conf"
    # The JetStream store the installer's nats-server.conf names, kept across restarts.
    assert values(dropin, "StateDirectory") == ["nats"]
    assert values(dropin, "Restart") == ["always"]
    assert values(DEBIAN_NATS_UNIT, "User") == ["nats"]  # who owns /var/lib/nats
    # No /bin/kill (procps) needed to stop or reload it: the SIGINT the package's sends.
    assert values(dropin, "ExecStop") == [""] and values(dropin, "KillSignal") == ["SIGINT"]
    assert values(dropin, "ExecReload")[0] == ""
    assert not any("/bin/kill" in value for value in values(dropin, "ExecReload"))
