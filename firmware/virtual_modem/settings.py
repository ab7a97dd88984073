"""The virtual modem's volatile settings (echo, caller ID, key detection...), which a
real module forgets on ATZ, AT&F, reboot and replug."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Settings:
    """Volatile settings, lost on ATZ/AT&F, reboot and replug (like real modules)."""

    echo: bool = True
    cmee: int = 0
    clip: bool = False
    crc: bool = False
    ccwa: bool = False
    clcc_urcs: bool = False
    dtmf: bool = False  # AT+DDET=1 / AT+QTONEDET=1
    dtmf_duration: bool = False  # AT+DDET=1,<interval>,1: "+DTMF: 5,100"
    cvhu: int = 0  # 1: ATH does not end voice calls (27.007 +CVHU)
    gsmbusy: bool = False  # SIM800: the module rejects every call itself
    creg_n: int = 0
    cmgf: int = 0
    curc: int = 1  # Huawei periodic URCs (not emulated; only remembered)
