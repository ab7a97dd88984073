"""USB port reset: de-authorise a USB device and authorise it again, or reset it.

Writing 0 to `/sys/bus/usb/devices/<port>/authorized` unbinds the device's drivers (the
modem's ttys vanish); writing 1 makes the kernel probe it again, as a replug would. That
needs root and a writable /sys, which the hardened `siaga.service` does not give. So when
that write is refused, the device is reset through its own node instead: the
USBDEVFS_RESET ioctl on `/dev/bus/usb/<bus>/<device>` (found from the port's `busnum`
and `devnum` in sysfs, which stay readable), a node the udev rules give the service's
group and the unit allows. The sysfs and /dev roots are parameters, so tests use
directories of plain files.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import re
from pathlib import Path

logger = logging.getLogger(__name__)

SYSFS_USB_DEVICES = Path("/sys/bus/usb/devices")
USB_PORT = re.compile(r"^[0-9]+-[0-9]+(\.[0-9]+)*$")  # bus-port[.port...], e.g. 1-1.2
DEAUTHORISED_S = 1.0  # how long the device stays de-authorised
DEV_BUS_USB = Path("/dev/bus/usb")
USBDEVFS_RESET = 0x5514  # _IO('U', 20), linux/usbdevice_fs.h


class UsbResetError(OSError):
    """The port could not be reset (no such device, no permission)."""


class UsbPortReset:
    """Resets USB devices by their port path (`1-1.2`) under a sysfs root."""

    def __init__(self, sysfs_root: Path = SYSFS_USB_DEVICES, dev_root: Path = DEV_BUS_USB) -> None:
        self.sysfs_root = sysfs_root
        self.dev_root = dev_root

    def authorized_file(self, port: str) -> Path:
        """The `authorized` flag of the device on `port`; ValueError for a bad port name."""
        if not USB_PORT.match(port):
            raise ValueError(f"{port!r} is not a USB port path such as '1-1.2'")
        return self.sysfs_root / port / "authorized"

    async def reset(self, port: str, off_s: float = DEAUTHORISED_S) -> None:
        """Write 0, wait `off_s` (loop time), write 1; if sysfs refuses the first write,
        USBDEVFS_RESET on the device node. UsbResetError when neither works."""
        flag = self.authorized_file(port)
        try:
            self._write(flag, "0")
        except UsbResetError as sysfs_error:
            try:
                self.ioctl_reset(port)
            except UsbResetError as node_error:
                raise UsbResetError(f"{sysfs_error}; and {node_error}") from node_error
            logger.info("usb: device on port %s reset (USBDEVFS_RESET)", port)
            return
        try:
            await asyncio.sleep(off_s)
        finally:
            self._write(flag, "1")  # never leave the modem de-authorised
        logger.info("usb: device on port %s re-authorised", port)

    def device_node(self, port: str) -> Path:
        """`/dev/bus/usb/BBB/DDD` of the device on `port`, from its sysfs numbers."""
        folder = self.authorized_file(port).parent
        try:
            bus = int((folder / "busnum").read_text().strip())
            device = int((folder / "devnum").read_text().strip())
        except (OSError, ValueError) as exc:
            raise UsbResetError(f"no USB device on port {port}: {exc}") from exc
        return self.dev_root / f"{bus:03d}" / f"{device:03d}"

    def ioctl_reset(self, port: str) -> None:
        """Reset the device on `port` through its node (USBDEVFS_RESET)."""
        node = self.device_node(port)
        try:
            fd = os.open(node, os.O_WRONLY)
        except OSError as exc:
            raise UsbResetError(f"cannot open {node}: {exc}") from exc
        try:
            fcntl.ioctl(fd, USBDEVFS_RESET, 0)
        except OSError as exc:
            raise UsbResetError(f"USBDEVFS_RESET on {node} failed: {exc}") from exc
        finally:
            os.close(fd)

    @staticmethod
    def _write(flag: Path, value: str) -> None:
        try:
            with flag.open("w", encoding="ascii") as handle:
                handle.write(value)
        except OSError as exc:
            raise UsbResetError(f"cannot write {value} to {flag}: {exc}") from exc
