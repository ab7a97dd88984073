"""The installed units under a real systemd: a Debian root booted with systemd-nspawn.

`systemd-analyze verify` checks the units' syntax; this checks that they work: install.sh
installs into the root, the root boots with systemd as its init, and then
- `siaga.service` starts under all its hardening and reports ready (Type=notify) with
  its status line, and `siaga-web.service` serves the login page over HTTPS with the
  installer's certificate;
- a stuck line service (here: stopped with SIGSTOP) stops feeding the watchdog, and
  systemd kills it after WatchdogSec=30 and starts it again;
- `systemctl stop` ends it cleanly (SIGINT: the call log is closed, exit status 0);
- the box is also its site's NATS server (`install.sh --nats-server`, Debian's package):
  the server runs JetStream with its store in /var/lib/nats, `siaga sync` shares through
  it, and the server reloads and stops without /bin/kill.
The configured line's modem does not exist in the container: the line keeps retrying,
which is also how a Pi with an unplugged modem runs.
"""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import pytest

from tests.system.debian_root import mounted
from tests.system.rootfs import in_root, prepared_root
from tests.system.test_installer import nats_server_deb

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)

BOOT_TIMEOUT_S = 120.0
# Booted without machined or D-Bus on the host, which a test machine need not have; a
# network of its own (loopback only), so its NATS server's port 4222 is not the host's.
NSPAWN = ["systemd-nspawn", "--quiet", "--boot", "--register=no", "--keep-unit"]
NSPAWN += ["--machine=siaga-test", "--private-network"]
INSIDE_ENV = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "SYSTEMD_COLORS=0"]
LINE = '\n[[lines]]\nname = "line1"\nport = "/dev/siaga/line1"\nfamily = "sim800"\n'
CLUSTER = '\n[cluster]\nsite = "serang"\nappliance = "box1"\nservers = ["nats://127.0.0.1:4222"]\n'


class Container:
    """A Debian root booted by systemd-nspawn; commands run inside it through nsenter."""

    def __init__(self, root: Path, log: Path) -> None:
        self.log = log.open("w")
        self.process = subprocess.Popen(
            [*NSPAWN, "--directory", str(root)],
            stdin=subprocess.DEVNULL,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            self.init_pid = wait_until(self._find_init, "the container's systemd", 30.0)
        except BaseException:
            self.process.kill()
            self.process.wait(30)
            self.log.close()
            raise

    def _find_init(self) -> int | None:
        assert self.process.poll() is None, "systemd-nspawn exited: see its log"
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:  # a child of systemd-nspawn
                return int(stat.parent.name)
        return None

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        """`sh -c command` inside the container, as its root."""
        return subprocess.run(
            ["nsenter", "--target", str(self.init_pid), "--all", *INSIDE_ENV, "sh", "-c", command],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def show(self, unit: str, prop: str) -> str:
        """One property of a unit (`systemctl show -p`)."""
        return self.run(f"systemctl show {unit} -p {prop} --value").stdout.strip()

    def journal(self, unit: str) -> str:
        return self.run(f"journalctl -b -u {unit} --no-pager -o cat").stdout

    def __enter__(self) -> Container:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.process.send_signal(signal.SIGTERM)  # nspawn powers the container off
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(30)
        self.log.close()


def wait_until(condition: Callable[[], object], what: str, timeout_s: float) -> object:
    """Poll `condition` until it returns something truthy; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")


def page_status(box: Container) -> str:
    """The login page's status over HTTPS, trusting only the installer's CA (as a desk)."""
    fetch = (
        "import ssl, urllib.request;"
        " trust = ssl.create_default_context(cafile='/etc/siaga/tls/siaga-ca.crt');"
        " print(urllib.request.urlopen('https://127.0.0.1:8112/login', context=trust).status)"
    )
    return box.run(f'/opt/siaga/venv/bin/python3 -c "{fetch}"').stdout.strip()


def test_the_units_run_under_systemd_and_a_stuck_line_service_is_restarted(
    tmp_path: Path, wheelhouse: Path
) -> None:
    with prepared_root(tmp_path / "root", wheelhouse) as root:
        with mounted(root):
            installed = in_root(root, "bash", "/src/siaga/install.sh", "--wheels", "/src/wheels")
            assert installed.returncode == 0, installed.stdout + installed.stderr
            # The site's server on this box, and the box sharing through it.
            shutil.copy(nats_server_deb(root / "src"), root / "src/nats-server.deb")
            dpkg = in_root(root, "dpkg", "-i", "/src/nats-server.deb")
            assert dpkg.returncode == 0, dpkg.stdout + dpkg.stderr
            with (root / "etc/siaga/config.toml").open("a") as config:
                config.write(CLUSTER)
            server = in_root(
                root, "bash", "/src/siaga/install.sh", "--wheels", "/src/wheels", "--nats-server"
            )
            assert server.returncode == 0, server.stdout + server.stderr
            assert "enabled siaga-sync.service" in server.stdout
        with (root / "etc/siaga/config.toml").open("a") as config:
            config.write(LINE)
        (root / "etc/hostname").write_text("siaga-test\n")

        started = time.monotonic()
        with Container(root, tmp_path / "boot.log") as box:
            wait_until(
                lambda: (
                    box.show("siaga.service", "ActiveState") == "active"
                    and box.show("siaga-web.service", "ActiveState") == "active"
                ),
                "both units to be active",
                BOOT_TIMEOUT_S,
            )
            logger.warning("booted, units active in %.0f s", time.monotonic() - started)
            # READY=1 came with its status; the watchdog is armed.
            assert box.show("siaga.service", "StatusText") == "screening calls on 1 line(s)"
            assert box.show("siaga.service", "WatchdogUSec") == "30s"
            wait_until(lambda: page_status(box) == "200", "the web UI's login page", 60.0)

            stuck_pid = box.show("siaga.service", "MainPID")
            assert box.run(f"kill -STOP {stuck_pid}").returncode == 0
            stuck_at = time.monotonic()
            wait_until(
                lambda: (
                    box.show("siaga.service", "NRestarts") == "1"
                    and box.show("siaga.service", "ActiveState") == "active"
                ),
                "systemd to restart the stuck service",
                90.0,
            )
            assert time.monotonic() - stuck_at >= 25  # not before the watchdog ran out
            assert box.show("siaga.service", "MainPID") != stuck_pid
            assert "Watchdog timeout" in box.journal("siaga.service")

            assert box.run("systemctl stop siaga.service").returncode == 0
            assert box.show("siaga.service", "Result") == "success"
            assert box.show("siaga.service", "ExecMainStatus") == "0"
            assert "call log /var/lib/siaga/siaga.db closed" in box.journal("siaga.service")
            # The web UI does not depend on the line service.
            assert box.show("siaga-web.service", "ActiveState") == "active"

            assert_the_site_server_runs_and_the_box_shares_through_it(box)


def assert_the_site_server_runs_and_the_box_shares_through_it(box: Container) -> None:
    """nats-server with the installer's configuration and drop-in; siaga sync on it."""
    for unit in ("nats-server.service", "siaga-sync.service"):
        wait_until(lambda u=unit: box.show(u, "ActiveState") == "active", unit, 60.0)
    wait_until(
        lambda: "sync: connected to 127.0.0.1:4222" in box.journal("siaga-sync.service"),
        "siaga sync to connect to the box's own server",
        60.0,
    )
    assert 'Store Directory: "/var/lib/nats/jetstream"' in box.journal("nats-server.service")
    store = box.run("stat -c '%U %a' /var/lib/nats /var/lib/nats/jetstream").stdout.split()
    assert store == ["nats", "750", "nats", "750"]
    assert box.run("systemctl reload nats-server").returncode == 0
    wait_until(
        lambda: "Reloaded server configuration" in box.journal("nats-server.service"),
        "nats-server to reload",
        30.0,
    )
    assert box.run("systemctl stop nats-server").returncode == 0
    assert box.show("nats-server.service", "Result") == "success"
    assert "Server Exiting" in box.journal("nats-server.service")
    # Sharing waits for the server; the line service never noticed.
    assert box.show("siaga-sync.service", "ActiveState") == "active"
