"""USB port reset through sysfs: de-authorise a USB device, then authorise it again.

Writing 0 to `/sys/bus/usb/devices/<port>/authorized` unbinds the device's drivers (the
modem's ttys vanish); writing 1 makes the kernel probe it again, as a replug would. It
needs write access to that file (root, or a udev rule giving the service's group write
permission, and a systemd unit that does not make /sys read-only for it). The sysfs root
is a parameter, so tests use a directory of plain files.
"""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

logger = logging.getLogger(__name__)

SYSFS_USB_DEVICES = Path("/sys/bus/usb/devices")
USB_PORT = re.compile(r"^[0-9]+-[0-9]+(\.[0-9]+)*$")  # bus-port[.port...], e.g. 1-1.2
DEAUTHORISED_S = 1.0  # how long the device stays de-authorised


class UsbResetError(OSError):
    """The port could not be reset (no such device, no permission)."""


class UsbPortReset:
    """Resets USB devices by their port path (`1-1.2`) under a sysfs root."""

    def __init__(self, sysfs_root: Path = SYSFS_USB_DEVICES) -> None:
        self.sysfs_root = sysfs_root

    def authorized_file(self, port: str) -> Path:
        """The `authorized` flag of the device on `port`; ValueError for a bad port name."""
        if not USB_PORT.match(port):
            raise ValueError(f"{port!r} is not a USB port path such as '1-1.2'")
        return self.sysfs_root / port / "authorized"

    async def reset(self, port: str, off_s: float = DEAUTHORISED_S) -> None:
        """Write 0, wait `off_s` (loop time), write 1; UsbResetError if either write fails."""
        flag = self.authorized_file(port)
        self._write(flag, "0")
        try:
            await asyncio.sleep(off_s)
        finally:
            self._write(flag, "1")  # never leave the modem de-authorised
        logger.info("usb: device on port %s re-authorised", port)

    @staticmethod
    def _write(flag: Path, value: str) -> None:
        try:
            with flag.open("w", encoding="ascii") as handle:
                handle.write(value)
        except OSError as exc:
            raise UsbResetError(f"cannot write {value} to {flag}: {exc}") from exc
