"""Is the system clock right? A Raspberry Pi has no battery-backed clock.

After a power cut the Pi boots with the time it last saved (fake-hwclock) until NTP, or
the network time a modem reports, sets it. Calls logged before that carry wrong times, and
a report built on them puts calls on the wrong day. So the appliance asks the kernel
whether the clock is synchronised (adjtimex(2): the kernel's NTP state, set by
systemd-timesyncd, chrony or ntpd alike), marks call rows started while it is not with
`time_trusted = 0` (the column has been in the call log from the start, default 1), and
raises an alarm when the clock stays unsynchronised. Without NTP (no internet), the
network's time read from the modems (`AT+CCLK?`, see `appliance.housekeeping`) vouches
for the clock instead.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)

TIME_ERROR = 5  # adjtimex() return value: the clock is not synchronised
STA_UNSYNC = 0x0040  # timex.status bit: the same, as NTP daemons set it
UNSYNCED_ALARM_AFTER_S = 600.0


class _Timex(ctypes.Structure):
    """struct timex (linux/timex.h) on 64-bit and 32-bit Linux: longs and ints in order."""

    _fields_ = [
        ("modes", ctypes.c_uint),
        ("offset", ctypes.c_long),
        ("freq", ctypes.c_long),
        ("maxerror", ctypes.c_long),
        ("esterror", ctypes.c_long),
        ("status", ctypes.c_int),
        ("constant", ctypes.c_long),
        ("precision", ctypes.c_long),
        ("tolerance", ctypes.c_long),
        ("time_sec", ctypes.c_long),
        ("time_usec", ctypes.c_long),
        ("tick", ctypes.c_long),
        ("ppsfreq", ctypes.c_long),
        ("jitter", ctypes.c_long),
        ("shift", ctypes.c_int),
        ("stabil", ctypes.c_long),
        ("jitcnt", ctypes.c_long),
        ("calcnt", ctypes.c_long),
        ("errcnt", ctypes.c_long),
        ("stbcnt", ctypes.c_long),
        ("tai", ctypes.c_int),
        ("_padding", ctypes.c_int * 11),
    ]


def kernel_clock_synchronised() -> bool | None:
    """True when the kernel's clock is NTP-synchronised, False when not, None when the
    question cannot be asked (not Linux, no libc): then nobody can say, and times are
    trusted as before."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        timex = _Timex()  # modes = 0: read only
        state = int(libc.adjtimex(ctypes.byref(timex)))
    except (OSError, AttributeError) as exc:
        logger.debug("adjtimex unavailable: %s", exc)
        return None
    if state < 0:
        logger.debug("adjtimex failed: errno %d", ctypes.get_errno())
        return None
    return state != TIME_ERROR and not timex.status & STA_UNSYNC


@dataclass
class ClockWatch:
    """Follows the clock's state; says when it changes and when to raise the alarm."""

    probe: Callable[[], bool | None] = kernel_clock_synchronised
    alarm_after_s: float = UNSYNCED_ALARM_AFTER_S
    trusted: bool = True
    _unsynced_since: float | None = None
    _alarmed: bool = False

    def check(self, now_ts: float) -> list[str]:
        """Probe the clock; the events to log: `clock_unsynced`, `clock_synced`, or
        `clock_unsynced_alarm` once it has been unsynchronised for `alarm_after_s`."""
        synchronised = self.probe()
        trusted = synchronised is not False
        events: list[str] = []
        if trusted != self.trusted:
            events.append("clock_synced" if trusted else "clock_unsynced")
            self.trusted = trusted
            self._unsynced_since = None if trusted else now_ts
            self._alarmed = False
        if (
            not trusted
            and not self._alarmed
            and self._unsynced_since is not None
            and now_ts - self._unsynced_since >= self.alarm_after_s
        ):
            self._alarmed = True
            events.append("clock_unsynced_alarm")
        return events
