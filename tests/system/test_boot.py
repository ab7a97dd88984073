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

A second root is the province hub with its own NATS server (`install.sh --hub`, then
`siaga nats-accounts`, hub.toml's [cluster] filled in with the administrator's account,
and `install.sh --nats-server`): `siaga-hub.service` connects with that account and
consumes every site's streams (a client without an account is refused), the line
service is neither enabled nor started, the web UI serves the login page over HTTPS from
the hub's database (province.db), a call record a site's box publishes with its own
account is in that database (`siaga report --site`), and `systemctl stop siaga-hub` ends
it (Result=success) with nothing lost, a start resuming it.
"""

from __future__ import annotations

import csv
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
# The hub's [cluster] table in hub.toml: its own server, the administrator's account.
HUB_CLUSTER = (
    '\n[cluster]\nsite = "banten"\nappliance = "hub"\nservers = ["nats://127.0.0.1:4222"]\n'
    'user = "siaga-admin"\npassword_file = "/etc/siaga/nats/siaga-admin.password"\n'
)
SIAGA = "/opt/siaga/venv/bin/siaga"
# One call record as a site's box sends it (siaga sync's subject, message id and body),
# with the box's own account, through the project's client code; run inside the hub.
PUBLISH_CALL = """\
import asyncio, time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from appliance.cluster.connection import close_quietly, connect
from appliance.cluster.messages import CallMessage, call_subject, message_id
from appliance.config import ClusterConfig

box = ClusterConfig(
    site="banten",
    appliance="box1",
    servers=("nats://127.0.0.1:4222",),
    user="box1",
    password_file=Path("/etc/siaga/nats/box1.password"),
)
ended = time.time()
started = ended - 42.0
record = CallMessage(
    origin="box1",
    seq=1,
    id=1,
    line="line1",
    caller="+6281234567890",
    number_class="number",
    started_at=datetime.fromtimestamp(started, ZoneInfo("Asia/Jakarta")).isoformat(),
    started_ts=started,
    decision="pass",
    ended_ts=ended,
    end_cause="hangup",
    line_seconds=42.0,
)


async def publish() -> None:
    try:  # the server's accounts are in force: no way in without one
        anonymous = await connect(box.model_copy(update={"password_file": None}), "box1")
    except Exception as exc:
        print("without a password:", exc)
    else:
        await close_quietly(anonymous)
        print("without a password: connected")
    nc = await connect(box, "box1")
    try:
        ack = await nc.jetstream().publish(
            call_subject(box.site, box.appliance),
            record.model_dump_json().encode(),
            headers={"Nats-Msg-Id": message_id(box.site, box.appliance, record.seq)},
        )
        print(ack.stream)
    finally:
        await close_quietly(nc)


asyncio.run(publish())
"""


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


# Two installs, a boot, a watchdog running out and a site server: 105 s of test and 8 s of
# setup alone on a quiet 2-core machine (2026-12-07), past the suite's 120 s on a busy one.
@pytest.mark.timeout(300)
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


def test_the_province_hub_runs_under_systemd_on_its_own_nats_server(
    tmp_path: Path, wheelhouse: Path
) -> None:
    """A machine of its own, set up as docs/cluster.md tells a province technician."""
    with prepared_root(tmp_path / "root", wheelhouse) as root:
        with mounted(root):
            hub = in_root(root, "bash", "/src/siaga/install.sh", "--wheels", "/src/wheels", "--hub")
            assert hub.returncode == 0, hub.stdout + hub.stderr
            assert "created /etc/siaga/hub.toml" in hub.stdout
            shutil.copy(nats_server_deb(root / "src"), root / "src/nats-server.deb")
            dpkg = in_root(root, "dpkg", "-i", "/src/nats-server.deb")
            assert dpkg.returncode == 0, dpkg.stdout + dpkg.stderr
            # The site's accounts (one box), the administrator's among them, for the hub.
            accounts = in_root(
                root, SIAGA, "nats-accounts", "--site", "banten", "--out", "/etc/siaga/nats", "box1"
            )
            assert accounts.returncode == 0, accounts.stdout + accounts.stderr
            with (root / "etc/siaga/hub.toml").open("a") as config:
                config.write(HUB_CLUSTER)
            server = in_root(
                root, "bash", "/src/siaga/install.sh", "--wheels", "/src/wheels", "--nats-server"
            )
            assert server.returncode == 0, server.stdout + server.stderr
            for done in ("installed /etc/nats-accounts.conf", "enabled siaga-hub.service"):
                assert done in server.stdout, server.stdout
        (root / "etc/hostname").write_text("siaga-hub\n")
        (root / "src/publish_call.py").write_text(PUBLISH_CALL)

        started = time.monotonic()
        with Container(root, tmp_path / "boot.log") as hub_box:
            units = ("nats-server.service", "siaga-hub.service", "siaga-web.service")
            wait_until(
                lambda: all(hub_box.show(unit, "ActiveState") == "active" for unit in units),
                "the server, the hub and the web UI to be active",
                BOOT_TIMEOUT_S,
            )
            logger.warning("booted, units active in %.0f s", time.monotonic() - started)
            wait_until(
                lambda: "hub: consuming every site's" in hub_box.journal("siaga-hub.service"),
                "the hub to connect with the administrator's account and consume",
                60.0,
            )
            hub_log = hub_box.journal("siaga-hub.service")
            assert "database /var/lib/siaga/province.db" in hub_log
            assert "Authorization Violation" not in hub_log
            # The hub takes no calls: the line service is not enabled, and never started.
            assert hub_box.show("siaga.service", "UnitFileState") == "disabled"
            assert hub_box.show("siaga.service", "ActiveState") == "inactive"
            assert hub_box.show("siaga.service", "ExecMainStartTimestampMonotonic") == "0"

            # The web UI on the hub's database, over HTTPS with the installer's certificate.
            web_exec = hub_box.show("siaga-web.service", "ExecStart")
            assert "--config /etc/siaga/hub.toml" in web_exec, web_exec
            assert "/etc/siaga/config.toml" not in web_exec
            wait_until(lambda: page_status(hub_box) == "200", "the web UI's login page", 60.0)
            setup_link = "/var/lib/siaga/province.db.setup-link"
            assert setup_link in hub_box.journal("siaga-web.service")
            assert hub_box.run(f"test -s {setup_link}").returncode == 0

            assert_a_sites_call_reaches_the_hubs_database(hub_box)

            # The unit's SIGTERM ends it as Ctrl-C does: the database closed, exit status 0.
            assert hub_box.run("systemctl stop siaga-hub").returncode == 0
            assert hub_box.show("siaga-hub.service", "Result") == "success"
            assert hub_box.show("siaga-hub.service", "ActiveState") == "inactive"
            assert hub_box.show("siaga-hub.service", "ExecMainStatus") == "0"
            assert "siaga hub stopped" in hub_box.journal("siaga-hub.service")
            assert calls_of_the_site(hub_box) == "1"
            # The web UI goes on serving the database without the hub.
            assert hub_box.show("siaga-web.service", "ActiveState") == "active"
            # Started again (as after editing hub.toml), it resumes its consumers.
            assert hub_box.run("systemctl start siaga-hub").returncode == 0
            wait_until(
                lambda: hub_box.journal("siaga-hub.service").count("hub: consuming") == 2,
                "the hub to consume again",
                60.0,
            )
            assert calls_of_the_site(hub_box) == "1"


def assert_a_sites_call_reaches_the_hubs_database(hub_box: Container) -> None:
    """A box's call record through the hub's server, then `siaga report` on the hub."""
    assert calls_of_the_site(hub_box) is None  # no call of site banten yet
    published = hub_box.run("/opt/siaga/venv/bin/python3 /src/publish_call.py")
    said = published.stdout.splitlines()
    assert len(said) == 2, published.stdout + published.stderr
    assert "Authorization Violation" in said[0], said[0]
    assert said[1] == "SIAGA_CALLS"  # the server took it
    wait_until(lambda: calls_of_the_site(hub_box), "the call in the hub's report", 30.0)
    assert calls_of_the_site(hub_box) == "1"


def calls_of_the_site(hub_box: Container) -> str | None:
    """Site banten's calls in `siaga report` on the hub's database (as `siaga`), or None
    while the database has none of that site's calls (the report refuses the site)."""
    shown = hub_box.run(
        f"runuser -u siaga -- {SIAGA} report --config /etc/siaga/hub.toml --site banten --csv"
    )
    if shown.returncode != 0:
        assert "no calls of site 'banten' here" in shown.stderr, shown.stderr
        return None
    rows = {row["period"]: row for row in csv.DictReader(shown.stdout.splitlines())}
    return rows["total"]["calls"]
