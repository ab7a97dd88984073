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
import time
from pathlib import Path

import pytest

from tests.system.debian_root import REPO_ROOT
from tests.system.rootfs import in_root

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

    removed = install(root, "--uninstall")
    assert "removed user siaga" in removed
    for gone in (
        "opt/siaga",
        "etc/systemd/system/siaga.service",
        "etc/systemd/system/siaga-sync.service",
        "etc/udev/rules.d/99-siaga-modems.rules",
    ):
        assert not (root / gone).exists(), gone
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
