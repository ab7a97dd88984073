"""Putting this checkout into a Debian test root: wheels built here, install.sh run in it.

The project goes in as wheels built on this machine (`pip wheel` of the checkout; its
dependencies downloaded for the root's Python 3.11 and cached under var/test-wheels/ by
a hash of pyproject.toml and requirements.lock, at the versions the lock pins), passed to
install.sh with --wheels, so the root needs no PyPI.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.system.debian_root import REPO_ROOT, cached_tarball, unpack

logger = logging.getLogger(__name__)

WHEEL_CACHE = REPO_ROOT / "var" / "test-wheels"
LOCK = REPO_ROOT / "requirements.lock"
ROOT_PYTHON = "3.11"  # bookworm's python3
CHECKOUT_PARTS = (
    "install.sh",
    "pyproject.toml",
    "requirements.lock",
    "README.md",
    "udev",
    "systemd",
    "docs",
)
CHECKOUT_PACKAGES = ("firmware", "appliance", "web_ui")
CHROOT_ENV = ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"]


def copy(source: Path, target: Path) -> None:
    """A file or a whole folder, compiled Python left out."""
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        shutil.copy2(source, target)


def pip(*args: str) -> None:
    """This environment's pip, quietly."""
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        check=True,
        timeout=600,
    )


def build_wheelhouse(directory: Path, scratch: Path) -> Path:
    """This checkout as a wheel, plus its dependencies as wheels for the root's Python."""
    source = scratch / "source"  # built from a copy: no build/ in the checkout
    source.mkdir()
    for part in ("pyproject.toml", "README.md", *CHECKOUT_PACKAGES):
        copy(REPO_ROOT / part, source / part)
    pip("wheel", "--no-deps", "-w", str(directory), str(source))
    (wheel,) = directory.glob("siaga-*.whl")
    pinned = (REPO_ROOT / "pyproject.toml").read_bytes() + LOCK.read_bytes()
    key = hashlib.sha256(pinned).hexdigest()[:16]
    dependencies = WHEEL_CACHE / f"deps-py{ROOT_PYTHON}-{key}"
    if not dependencies.exists():
        partial = dependencies.with_name(dependencies.name + ".part")
        shutil.rmtree(partial, ignore_errors=True)
        pip(
            "download",
            "--only-binary=:all:",
            f"--python-version={ROOT_PYTHON}",
            "--constraint",
            str(LOCK),
            "-d",
            str(partial),
            str(wheel),
        )
        (partial / wheel.name).unlink()
        partial.rename(dependencies)
        for stale in WHEEL_CACHE.glob(f"deps-py{ROOT_PYTHON}-*"):
            if stale != dependencies:
                shutil.rmtree(stale)  # for an older pyproject.toml
    for dependency in dependencies.iterdir():
        shutil.copy2(dependency, directory)
    return directory


def is_mounted_under(root: Path) -> bool:
    """True when anything is mounted at or below `root`."""
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return any(point == str(root) or point.startswith(f"{root}/") for point in points)


@contextlib.contextmanager
def prepared_root(root: Path, wheelhouse: Path) -> Iterator[Path]:
    """A fresh Debian root at `root`: checkout in /src/siaga, wheels in /src/wheels.

    Deleted afterwards, but never while anything is still mounted inside it (the host's
    /dev is bound there during a test).
    """
    assert os.geteuid() == 0, "debootstrap, chroot and mount need root: run ./dev test as root"
    started = time.monotonic()
    unpack(cached_tarball(), root)
    try:
        source = root / "src" / "siaga"
        source.mkdir(parents=True)
        for part in (*CHECKOUT_PARTS, *CHECKOUT_PACKAGES):
            copy(REPO_ROOT / part, source / part)
        shutil.copytree(wheelhouse, root / "src" / "wheels")
        logger.warning("Debian root ready in %.0f s", time.monotonic() - started)
        yield root
    finally:
        if is_mounted_under(root):
            raise RuntimeError(f"{root} still has mounts; left in place")
        shutil.rmtree(root)


def in_root(root: Path, *command: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `command` chrooted in `root` (as `user`), with a clean environment."""
    chroot = ["chroot", f"--userspec={user}:{user}", str(root)] if user else ["chroot", str(root)]
    return subprocess.run(
        [*chroot, *CHROOT_ENV, *command], capture_output=True, text=True, timeout=600, check=False
    )
