"""The recovery ladder's steps a line cannot take by itself (`appliance.recovery.ModemRecovery`).

The line knows no pins and no sysfs: when its modem stops answering, its ladder asks
these for a power cycle (the modem's power key, through the board's slot for the line:
`appliance/board_wiring.py`) and for a USB reset (the line's `usb_port`, through sysfs).
A step that cannot be taken here raises `RecoverySkipped`, and the ladder logs it skipped.
"""

from __future__ import annotations

from appliance.board_wiring import BoardWiring
from appliance.line import Line
from appliance.recovery import RecoverySkipped
from firmware.board import UsbPortReset


class RecoveryActions:
    """Power key and USB reset for every line; handed to each line as its `recovery`."""

    def __init__(self, board_wiring: BoardWiring | None, usb: UsbPortReset) -> None:
        """`board_wiring`: the board's slots (None: no board, e.g. the simulator);
        `usb`: the USB port resetter (a fake sysfs root in tests)."""
        self.board_wiring = board_wiring
        self.usb = usb

    async def power_cycle(self, line: Line) -> str:
        """Power-cycle the line's modem with its power key (a recovery ladder step)."""
        if self.board_wiring is None:
            raise RecoverySkipped("no board")
        return await self.board_wiring.power_cycle(line)

    async def usb_reset(self, line: Line) -> str:
        """Reset the line's USB port through sysfs (the recovery ladder's last step)."""
        port = line.config.usb_port
        if port is None:
            raise RecoverySkipped("the line has no usb_port")
        await self.usb.reset(port)
        return f"USB port {port} de-authorised and authorised again"
