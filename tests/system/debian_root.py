"""A Debian 12 root for the installer's test: built once with debootstrap, cached as a tarball.

`debootstrap --variant=minbase` plus python3, python3-venv and openssl (what install.sh
needs; openssl makes the web UI's certificates) and systemd (so `systemctl enable` and
`systemd-analyze verify --root` run inside it), taken from the same Debian mirror apt on
this machine uses. The built root is stored as an uncompressed tarball under
var/test-roots/, named by a hash of everything that shapes it, so later runs only unpack
it (seconds) instead of bootstrapping it again (minutes).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / "var" / "test-roots"
SUITE = "bookworm"
VARIANT = "minbase"
PACKAGES = ("python3", "python3-venv", "openssl", "systemd")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# Bump when the way the root is built changes, so stale caches are not reused.
RECIPE_VERSION = 1
BOOTSTRAP_TIMEOUT_S = 900


def apt_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian archive this machine's apt uses (a proxy or local mirror included).

    `SIAGA_TEST_MIRROR` overrides it; without either, deb.debian.org.
    """
    override = os.environ.get("SIAGA_TEST_MIRROR")
    if override:
        return override
    for source in sorted(sources_dir.glob("sources.list.d/*.sources")):
        for uri in re.findall(r"^URIs:\s*(\S+)", source.read_text(), flags=re.MULTILINE):
            if uri.rstrip("/").endswith("/debian"):
                return uri
    for source in [
        sources_dir / "sources.list",
        *sorted(sources_dir.glob("sources.list.d/*.list")),
    ]:
        if not source.exists():
            continue
        for uri in re.findall(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)", source.read_text(), re.MULTILINE):
            if uri.rstrip("/").endswith("/debian"):
                return uri
    return DEFAULT_MIRROR


def cache_key() -> str:
    """A hash of what shapes the root (not of the mirror: any mirror gives the same root)."""
    recipe = {
        "suite": SUITE,
        "variant": VARIANT,
        "packages": sorted(PACKAGES),
        "arch": platform.machine(),
        "recipe": RECIPE_VERSION,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def cached_tarball(cache_dir: Path = CACHE_DIR) -> Path:
    """The root's tarball, bootstrapping and storing it first when it is not cached yet."""
    tarball = cache_dir / f"{SUITE}-{VARIANT}-{cache_key()}.tar"
    if tarball.exists():
        return tarball
    cache_dir.mkdir(parents=True, exist_ok=True)
    build_dir = cache_dir / f"build-{cache_key()}"
    shutil.rmtree(build_dir, ignore_errors=True)
    try:
        bootstrap(build_dir, apt_mirror())
        partial = tarball.with_suffix(".tar.part")
        subprocess.run(
            ["tar", "-C", str(build_dir), "--numeric-owner", "-cf", str(partial), "."],
            check=True,
        )
        partial.rename(tarball)  # atomic: a killed run never leaves a half tarball
    finally:
        shutil.rmtree(build_dir, ignore_errors=True)
    for stale in cache_dir.glob(f"{SUITE}-{VARIANT}-*.tar"):
        if stale != tarball:
            stale.unlink()  # built by an older recipe: never used again
    return tarball


def bootstrap(target: Path, mirror: str) -> None:
    """debootstrap a minimal bookworm with PACKAGES into `target`, apt caches emptied."""
    logger.warning("building a Debian %s root from %s (a few minutes, once)", SUITE, mirror)
    subprocess.run(
        [
            "debootstrap",
            f"--variant={VARIANT}",
            f"--include={','.join(PACKAGES)}",
            SUITE,
            str(target),
            mirror,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=BOOTSTRAP_TIMEOUT_S,
    )
    for deb in (target / "var/cache/apt/archives").glob("*.deb"):
        deb.unlink()


def unpack(tarball: Path, target: Path) -> None:
    """A fresh copy of the cached root in `target` (owners kept: this runs as root)."""
    target.mkdir(parents=True)
    subprocess.run(["tar", "-C", str(target), "--numeric-owner", "-xf", str(tarball)], check=True)


@contextlib.contextmanager
def mounted(root: Path) -> Iterator[Path]:
    """/proc and /dev (bound from the host) inside `root`, always unmounted afterwards."""
    mounts: list[Path] = []
    try:
        (root / "proc").mkdir(exist_ok=True)
        subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
        mounts.append(root / "proc")
        (root / "dev").mkdir(exist_ok=True)
        subprocess.run(["mount", "--bind", "/dev", str(root / "dev")], check=True)
        mounts.append(root / "dev")
        yield root
    finally:
        for point in reversed(mounts):
            done = subprocess.run(["umount", str(point)], check=False)
            if done.returncode != 0:
                logger.warning("umount %s failed; detaching it lazily", point)
                subprocess.run(["umount", "--lazy", str(point)], check=False)
