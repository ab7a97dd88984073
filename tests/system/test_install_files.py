"""The installer's own files, checked without installing: the script and the config template."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib

from appliance.config import parse_config
from tests.system.debian_root import REPO_ROOT

TEMPLATE = REPO_ROOT / "docs" / "config-template.toml"


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
