"""install.sh in a Debian 12 root made for the test: install, again (no change), uninstall.

The web UI's certificates too: the CA is made once and kept; the server certificate is
renewed when the names change or it nears its end, and the new one verifies against the
same CA (what the desks' browsers trust).

The root comes from debian_root.py (debootstrap once, then a cached tarball), the project
as wheels built here (rootfs.py) passed with --wheels, so the root needs no PyPI. /proc
and /dev are mounted inside it for the duration and always unmounted.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.system.debian_root import REPO_ROOT
from tests.system.rootfs import in_root
from tests.system.units import values

pytestmark = pytest.mark.slow
logger = logging.getLogger(__name__)

# What install.sh touches, and so what must be identical after a second run.
WATCHED = (
    "opt/siaga",
    "etc/siaga",
    "var/lib/siaga",
    "etc/systemd/system",
    "etc/systemd/journald.conf.d",
    "etc/udev/rules.d",
    "etc/passwd",
    "etc/group",
    "etc/shadow",
    "etc/gshadow",
)


def install(root: Path, *args: str) -> str:
    started = time.monotonic()
    result = in_root(root, "bash", "/src/siaga/install.sh", *args)
    logger.warning("install.sh %s: %.0f s", " ".join(args), time.monotonic() - started)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def snapshot(root: Path) -> dict[str, tuple[object, ...]]:
    """Path -> (type, mode, uid, gid, sha256 or link target) of everything install.sh owns."""
    found: dict[str, tuple[object, ...]] = {}
    for watched in WATCHED:
        top = root / watched
        paths = [top, *top.rglob("*")] if top.is_dir() else [top]
        for path in paths:
            if not path.exists() and not path.is_symlink():
                continue
            status = path.lstat()
            if path.is_symlink():
                content: object = os.readlink(path)
            elif path.is_file():
                content = hashlib.sha256(path.read_bytes()).hexdigest()
            else:
                content = None
            found[str(path.relative_to(root))] = (
                status.st_mode,
                status.st_uid,
                status.st_gid,
                content,
            )
    return found


def test_install_twice_changes_nothing_the_second_time_and_uninstall_keeps_the_data(
    debian_root: Path,
) -> None:
    root = debian_root
    first = install(root, "--wheels", "/src/wheels")
    assert "created system user siaga" in first
    assert "enabled siaga.service" in first and "enabled siaga-web.service" in first
    assert "systemd is not running here" in first
    assert "no gpio group" in first
    assert_installed(root)
    before = snapshot(root)

    second = install(root, "--wheels", "/src/wheels")
    assert "nothing to change" in second, second
    assert snapshot(root) == before

    # On Raspberry Pi OS there is a gpio group: the user joins it, the GPIO drop-in comes.
    assert in_root(root, "groupadd", "--system", "gpio").returncode == 0
    third = install(root, "--wheels", "/src/wheels")
    assert "added siaga to group gpio" in third
    assert (root / "etc/systemd/system/siaga.service.d/gpio.conf").is_file()
    assert "nothing to change" in install(root, "--wheels", "/src/wheels")

    assert_certificates_renewed_under_the_same_ca(root)

    # The installed program works as the siaga user and writes only its data directory.
    added = in_root(
        root,
        "/opt/siaga/venv/bin/siaga",
        "block",
        "add",
        "081234567890",
        "--reason",
        "installer test",
        "--config",
        "/etc/siaga/config.toml",
        user="siaga",
    )
    assert added.returncode == 0, added.stderr
    assert (root / "var/lib/siaga/siaga.db").is_file()

    assert_the_hub_and_the_nats_server_roles(root)

    removed = install(root, "--uninstall")
    assert "removed user siaga" in removed
    for gone in (
        "opt/siaga",
        "etc/systemd/system/siaga.service",
        "etc/systemd/system/siaga-sync.service",
        "etc/systemd/system/siaga-hub.service",
        "etc/systemd/system/siaga-web.service.d",
        "etc/systemd/system/nats-server.service.d",
        "etc/udev/rules.d/99-siaga-modems.rules",
    ):
        assert not (root / gone).exists(), gone
    assert "kept nats-server" in removed
    assert (root / "etc/nats-server.conf").is_file() and (root / "etc/siaga/hub.toml").is_file()
    assert not (root / "etc/systemd/system/multi-user.target.wants/siaga.service").is_symlink()
    assert "siaga:" not in (root / "etc/passwd").read_text()
    assert (root / "etc/siaga/config.toml").is_file()
    assert (root / "var/lib/siaga/siaga.db").is_file()

    purged = install(root, "--uninstall", "--purge")
    assert "removed /var/lib/siaga" in purged
    assert not (root / "etc/siaga").exists() and not (root / "var/lib/siaga").exists()


def assert_installed(root: Path) -> None:
    """What the first run must leave: user, venv, config, directories, rules, units."""
    assert "siaga:" in (root / "etc/passwd").read_text()
    groups = in_root(root, "id", "-nG", "siaga").stdout.split()
    assert "dialout" in groups
    config = root / "etc/siaga/config.toml"
    assert config.read_text() == (REPO_ROOT / "docs/config-template.toml").read_text()
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    data = (root / "var/lib/siaga").stat()
    assert (oct(data.st_mode & 0o777), data.st_uid) == ("0o750", owner_uid(root, "siaga"))
    assert (root / "etc/siaga/prompts").is_dir()
    assert_certificates(root)
    for unit in ("siaga.service", "siaga-web.service", "siaga-sync.service"):
        installed = root / "etc/systemd/system" / unit
        assert installed.read_text() == (REPO_ROOT / "systemd" / unit).read_text()
    for unit in ("siaga.service", "siaga-web.service"):
        assert (root / "etc/systemd/system/multi-user.target.wants" / unit).is_symlink()
    # Sharing is enabled only by a [cluster] table, which the template has not.
    assert not (root / "etc/systemd/system/multi-user.target.wants/siaga-sync.service").exists()
    rules = root / "etc/udev/rules.d/99-siaga-modems.rules"
    assert rules.read_text() == (REPO_ROOT / "udev/99-siaga-modems.rules").read_text()
    assert (root / "etc/systemd/journald.conf.d/siaga.conf").is_file()
    assert not (root / "etc/systemd/system/siaga.service.d").exists()  # no gpio group
    check = in_root(
        root, "/opt/siaga/venv/bin/siaga", "config", "check", "/etc/siaga/config.toml", user="siaga"
    )
    assert check.returncode == 0, check.stdout + check.stderr
    # The installed units, unchanged, where their ExecStart exists.
    verify = in_root(
        root,
        "systemd-analyze",
        "verify",
        "/etc/systemd/system/siaga.service",
        "/etc/systemd/system/siaga-web.service",
        "/etc/systemd/system/siaga-sync.service",
    )
    output = verify.stdout + verify.stderr
    assert verify.returncode == 0 and not output, output


UNITS = "etc/systemd/system"
WANTS = f"{UNITS}/multi-user.target.wants"
HUB_CLUSTER = (
    '\n[cluster]\nsite = "banten"\nappliance = "hub"\nservers = ["nats://127.0.0.1:4222"]\n'
)


def assert_the_hub_and_the_nats_server_roles(root: Path) -> None:
    """--hub, then --nats-server, on the installed box: each role added, then kept."""
    hub = install(root, "--wheels", "/src/wheels", "--hub")
    assert "created /etc/siaga/hub.toml: fill in its [cluster] table" in hub
    assert "disabled siaga.service: the hub takes no calls" in hub
    installed = root / UNITS / "siaga-hub.service"
    assert installed.read_text() == (REPO_ROOT / "systemd/siaga-hub.service").read_text()
    assert not (root / WANTS / "siaga.service").exists()
    assert not (root / WANTS / "siaga-hub.service").exists()  # not before its [cluster]
    hub_toml = root / "etc/siaga/hub.toml"
    status = hub_toml.stat()
    assert (oct(status.st_mode & 0o777), status.st_gid) == ("0o640", owner_uid(root, "siaga"))
    (web_exec,) = values(REPO_ROOT / "systemd/siaga-web.service", "ExecStart")
    assert values(root / UNITS / "siaga-web.service.d/hub.conf", "ExecStart") == [
        "",
        web_exec.replace("/etc/siaga/config.toml", "/etc/siaga/hub.toml"),
    ]
    with hub_toml.open("a") as config:
        config.write(HUB_CLUSTER)
    check = in_root(
        root, "/opt/siaga/venv/bin/siaga", "config", "check", "/etc/siaga/hub.toml", user="siaga"
    )
    assert check.returncode == 0 and "province.db" in check.stdout, check.stdout + check.stderr
    kept = install(root, "--wheels", "/src/wheels")  # no --hub: the role stays
    assert "enabled siaga-hub.service" in kept and "enabled siaga.service" not in kept
    assert "nothing to change" in install(root, "--wheels", "/src/wheels")
    verify = in_root(
        root,
        "systemd-analyze",
        "verify",
        f"/{UNITS}/siaga-hub.service",
        f"/{UNITS}/siaga-web.service",
    )
    assert verify.returncode == 0 and not verify.stdout + verify.stderr, verify.stderr

    # The site's NATS server: Debian's package first, then the option.
    missing = in_root(root, "bash", "/src/siaga/install.sh", "--nats-server")
    assert missing.returncode == 1 and "apt-get install nats-server" in missing.stderr
    shutil.copy(nats_server_deb(root / "src"), root / "src/nats-server.deb")
    dpkg = in_root(root, "dpkg", "-i", "/src/nats-server.deb")
    assert dpkg.returncode == 0, dpkg.stdout + dpkg.stderr
    assert (root / "etc/nats-server.conf").read_text() == "host: 127.0.0.1\nport: 4222\n"
    nats = install(root, "--wheels", "/src/wheels", "--nats-server")
    assert "installed /etc/nats-server.conf" in nats and "installed /etc/nats-accounts.conf" in nats
    assert 'listen: "0.0.0.0:4222"' in (root / "etc/nats-server.conf").read_text()
    dropin = root / UNITS / "nats-server.service.d/siaga.conf"
    assert (
        dropin.read_text() == (REPO_ROOT / "systemd/nats-server.service.d/siaga.conf").read_text()
    )
    assert (root / WANTS / "nats-server.service").is_symlink()
    assert_nats_server_config_valid(root)

    # The accounts siaga nats-accounts writes: beside the server's file at the next run.
    accounts = in_root(
        root,
        "/opt/siaga/venv/bin/siaga",
        "nats-accounts",
        "--site",
        "banten",
        "--out",
        "/etc/siaga/nats",
        "box1",
    )
    assert accounts.returncode == 0, accounts.stdout + accounts.stderr
    copied = install(root, "--wheels", "/src/wheels")  # both roles kept
    assert "installed /etc/nats-accounts.conf" in copied
    written = root / "etc/siaga/nats/nats-accounts.conf"
    beside = root / "etc/nats-accounts.conf"
    assert beside.read_text() == written.read_text()
    nats_gid = int(in_root(root, "getent", "group", "nats").stdout.split(":")[2])
    status = beside.stat()
    assert (oct(status.st_mode & 0o777), status.st_uid, status.st_gid) == ("0o640", 0, nats_gid)
    # The hub (as siaga) reads the administrator's password; the boxes' stay root's.
    siaga = owner_uid(root, "siaga")
    folder = (root / "etc/siaga/nats").stat()
    assert (oct(folder.st_mode & 0o777), folder.st_gid) == ("0o750", siaga)
    assert (root / "etc/siaga/nats/siaga-admin.password").stat().st_uid == siaga
    assert (root / "etc/siaga/nats/box1.password").stat().st_uid == 0
    assert_nats_server_config_valid(root)
    assert "nothing to change" in install(root, "--wheels", "/src/wheels")


def assert_nats_server_config_valid(root: Path) -> None:
    """`nats-server -t` on the installed configuration, and its unit with the drop-in."""
    tested = in_root(root, "nats-server", "-c", "/etc/nats-server.conf", "-t")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    verify = in_root(root, "systemd-analyze", "verify", "/lib/systemd/system/nats-server.service")
    assert verify.returncode == 0 and not verify.stdout + verify.stderr, verify.stderr


def nats_server_deb(scratch: Path) -> Path:
    """Debian's nats-server package: from apt's cache here, else fetched with apt-get."""
    cached = sorted(Path("/var/cache/apt/archives").glob("nats-server_*.deb"))
    if cached:
        return cached[-1]
    fetched = subprocess.run(
        ["apt-get", "download", "nats-server"],
        cwd=scratch,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert fetched.returncode == 0, fetched.stderr
    (deb,) = scratch.glob("nats-server_*.deb")
    return deb


TLS = "etc/siaga/tls"


def assert_certificates(root: Path) -> None:
    """The CA's key for root alone, the server's key for the service, the chain valid."""
    tls = root / TLS
    siaga = owner_uid(root, "siaga")
    expected = {
        "siaga-ca.key": ("0o600", 0, 0),
        "siaga-ca.crt": ("0o644", 0, 0),
        "server.key": ("0o640", 0, siaga),
        "server.crt": ("0o644", 0, 0),
    }
    for name, (mode, uid, gid) in expected.items():
        status = (tls / name).stat()
        assert (oct(status.st_mode & 0o777), status.st_uid, status.st_gid) == (mode, uid, gid)
    directory = tls.stat()
    assert (oct(directory.st_mode & 0o777), directory.st_gid) == ("0o750", siaga)
    verified = in_root(
        root, "openssl", "verify", "-CAfile", f"/{TLS}/siaga-ca.crt", f"/{TLS}/server.crt"
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    names = (tls / "server.names").read_text()
    assert "DNS:localhost" in names and "IP:127.0.0.1" in names


def assert_certificates_renewed_under_the_same_ca(root: Path) -> None:
    """A new name, then a certificate near its end: each renewed; the CA never changes."""
    tls = root / TLS
    ca = (tls / "siaga-ca.crt").read_bytes(), (tls / "siaga-ca.key").read_bytes()
    (tls / "extra-names").write_text("# the centre's DNS name\nsiaga.dinkes.lan\n10.112.0.5\n")
    renamed = install(root, "--wheels", "/src/wheels")
    assert "made the web UI's certificate" in renamed and "authority" not in renamed, renamed
    names = (tls / "server.names").read_text()
    assert "DNS:siaga.dinkes.lan" in names and "IP:10.112.0.5" in names
    assert "nothing to change" in install(root, "--wheels", "/src/wheels")

    # A certificate made a day before it ends (as an old one would be): renewed.
    short = in_root(
        root,
        "bash",
        "-c",
        'source /src/siaga/install.sh && SERVER_DAYS=1 tls_make_server_cert "$TLS_DIR"'
        ' "$(tls_wanted_sans)" old',
    )
    assert short.returncode == 0, short.stdout + short.stderr
    renewed = install(root, "--wheels", "/src/wheels")
    assert "made the web UI's certificate" in renewed, renewed
    ends = in_root(
        root,
        "openssl",
        "x509",
        "-noout",
        "-checkend",
        str(700 * 86400),
        "-in",
        f"/{TLS}/server.crt",
    )
    assert ends.returncode == 0, "the renewed certificate is not good for two years"
    assert ca == ((tls / "siaga-ca.crt").read_bytes(), (tls / "siaga-ca.key").read_bytes())
    assert_certificates(root)


def owner_uid(root: Path, user: str) -> int:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2])
    raise AssertionError(f"no user {user}")
