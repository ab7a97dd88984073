"""Tests of the operating-system side: systemd units, udev rules, sd_notify, the installer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.system.debian_root import mounted
from tests.system.rootfs import build_wheelhouse, prepared_root


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: takes minutes (builds a Debian root); still part of ./dev test"
    )


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This checkout and its dependencies as wheels for the Debian root's Python."""
    return build_wheelhouse(tmp_path_factory.mktemp("wheels"), tmp_path_factory.mktemp("build"))


@pytest.fixture
def debian_root(tmp_path: Path, wheelhouse: Path) -> Iterator[Path]:
    """A fresh Debian root with the checkout and wheels in /src, /proc and /dev mounted."""
    with prepared_root(tmp_path / "root", wheelhouse) as root, mounted(root):
        yield root
