"""Reading systemd unit files as (section, key, value) entries: keys may repeat."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SYSTEMD_DIR = REPO_ROOT / "systemd"


def entries(path: Path) -> list[tuple[str, str, str]]:
    """Every `Key=value` of a unit file with its section, comments and blanks left out."""
    found: list[tuple[str, str, str]] = []
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        found.append((section, key.strip(), value.strip()))
    return found


def values(path: Path, key: str, section: str = "Service") -> list[str]:
    """The values of `key` in `section`, in file order."""
    return [value for s, k, value in entries(path) if (s, k) == (section, key)]
