"""A virtual GSM modem that speaks each family's real AT dialect over a pseudo-terminal.

The appliance opens `VirtualModem.port` with pyserial exactly as it opens a USB modem, so
its real serial code runs unchanged in tests and in `siaga simulate`. The network side
(callers ringing, hanging up, pressing keys) and faults (split writes, URCs inside a
reply, garbage, silence, reboot, unplug) are driven from Python. All timing goes through
the running asyncio loop, so `appliance.clock.VirtualTimeLoop` replays a month of calls
without waiting. Raw traffic is logged on `firmware.virtual_modem` at DEBUG.

Modules: `modem` (the modem and its call machinery), `dialect` (command handlers),
`profiles` (per-family data), `commands` (AT line parsing), `pty_link` (the pty),
`calls` (call records and states), `sound` (what a caller sounds like on the voice port).
"""

from .calls import (
    CallState,
    EndedBy,
    LineBusyError,
    ModemState,
    ModemUnavailableError,
    VirtualCall,
)
from .modem import VirtualModem
from .profiles import FAMILIES, FamilyProfile
from .settings import Settings
from .sound import CallerSound, SoundKind

__all__ = [
    "FAMILIES",
    "CallState",
    "CallerSound",
    "EndedBy",
    "FamilyProfile",
    "LineBusyError",
    "ModemState",
    "ModemUnavailableError",
    "Settings",
    "SoundKind",
    "VirtualCall",
    "VirtualModem",
]
