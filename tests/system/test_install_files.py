"""The installer's own files, checked without installing: the script and the config template."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from appliance.config import parse_config
from tests.system.debian_root import REPO_ROOT

TEMPLATE = REPO_ROOT / "docs" / "config-template.toml"
DEBIAN_NATS_CONF = "host: 127.0.0.1\nport: 4222\n"  # /etc/nats-server.conf as Debian ships it


def installer(script: str) -> str:
    """What `script` prints with install.sh sourced (its functions defined, nothing run)."""
    result = subprocess.run(
        ["bash", "-c", f'source "{REPO_ROOT / "install.sh"}" && {script}'],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_install_sh_is_shellcheck_clean() -> None:
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: apt-get install shellcheck (./dev test does)"
    result = subprocess.run(
        [shellcheck, str(REPO_ROOT / "install.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_install_sh_prints_its_usage_for_an_unknown_option() -> None:
    result = subprocess.run(
        ["bash", str(REPO_ROOT / "install.sh"), "--no-such-option"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--uninstall [--purge]" in result.stdout
    assert "[--hub]" in result.stdout and "[--nats-server]" in result.stdout


def test_the_config_template_is_valid_as_installed_and_with_its_line_filled_in() -> None:
    text = TEMPLATE.read_text(encoding="utf-8")
    installed = parse_config(tomllib.loads(text), source=str(TEMPLATE))
    assert installed.lines == ()
    assert str(installed.database.path) == "/var/lib/siaga/siaga.db"
    # Uncomment the example line: what a technician does first.
    example = text[text.index("# [[lines]]") :]
    filled = text.replace(example, re.sub(r"^# ", "", example, flags=re.MULTILINE))
    config = parse_config(tomllib.loads(filled), source="filled-in template")
    (line,) = config.lines
    assert (line.name, str(line.port)) == ("line1", "/dev/siaga/line1")
    assert str(line.voice_port) == "/dev/siaga/line1-voice"


def test_the_template_names_ports_the_udev_rules_create() -> None:
    rules = (REPO_ROOT / "udev" / "99-siaga-modems.rules").read_text(encoding="utf-8")
    for port in re.findall(r"/dev/(siaga/[a-z0-9_-]+)", TEMPLATE.read_text(encoding="utf-8")):
        assert f'SYMLINK+="{port}"' in rules, port


def test_every_file_the_installer_copies_exists() -> None:
    script = (REPO_ROOT / "install.sh").read_text(encoding="utf-8")
    copied = set(re.findall(r'"\$CHECKOUT/([^"]+)"', script))
    assert {"docs/config-template.toml", "udev/99-siaga-modems.rules"} <= copied
    for relative in (path for path in copied if "$" not in path):
        assert (REPO_ROOT / relative).exists(), relative
    for unit in ("siaga.service", "siaga-web.service", "siaga-sync.service"):
        assert (REPO_ROOT / "systemd" / unit).is_file()
    assert (REPO_ROOT / "install.sh").stat().st_mode & 0o111  # executable


def test_the_hub_template_is_valid_with_its_own_database_and_with_its_cluster_filled_in() -> None:
    text = installer("hub_config_template")
    installed = parse_config(tomllib.loads(text), source="hub.toml")
    assert installed.cluster is None  # siaga-hub.service waits for it
    assert str(installed.database.path) == "/var/lib/siaga/province.db"
    block = text[text.index("# [cluster]") :]
    filled = text.replace(block, re.sub(r"^# ", "", block, flags=re.MULTILINE))
    cluster = parse_config(tomllib.loads(filled), source="filled-in hub.toml").cluster
    assert cluster is not None
    assert (cluster.appliance, cluster.user) == ("hub", "siaga-admin")
    assert str(cluster.password_file) == "/etc/siaga/nats/siaga-admin.password"


def test_the_nats_server_configuration_is_valid_before_and_after_the_accounts(
    tmp_path: Path,
) -> None:
    nats_server = shutil.which("nats-server") or "/usr/sbin/nats-server"
    assert Path(nats_server).exists(), "nats-server is missing: apt-get install nats-server"
    config = tmp_path / "nats-server.conf"
    text = installer("nats_server_template")
    assert 'listen: "0.0.0.0:4222"' in text and "include nats-accounts.conf" in text
    config.write_text(text.replace("/var/lib/nats", str(tmp_path / "jetstream")))
    accounts = tmp_path / "nats-accounts.conf"
    accounts.write_text(installer("nats_accounts_placeholder"))
    command = ["nats-accounts", "--site", "serang", "--out", str(tmp_path / "nats"), "box1"]
    made = subprocess.run(
        [sys.executable, "-m", "web_ui.cli", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stderr
    for accounts_text in (accounts.read_text(), (tmp_path / "nats/nats-accounts.conf").read_text()):
        accounts.write_text(accounts_text)
        checked = subprocess.run(
            [nats_server, "-c", str(config), "-t"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_only_debians_own_nats_server_conf_is_replaced(tmp_path: Path) -> None:
    config = tmp_path / "nats-server.conf"
    ours = installer("nats_server_template")
    for text, replaced in (
        (DEBIAN_NATS_CONF, True),
        ("# a comment\nport: 4222\n\nhost: 127.0.0.1  # loopback\n", True),
        (DEBIAN_NATS_CONF + "jetstream {}\n", False),
        ("host: 0.0.0.0\nport: 4222\n", False),
        (ours, False),
    ):
        config.write_text(text)
        script = f'source "{REPO_ROOT / "install.sh"}" && NATS_CONF="$0" nats_conf_is_debians'
        is_debians = subprocess.run(["bash", "-c", script, config], timeout=60, check=False)
        assert (is_debians.returncode == 0) == replaced, text
