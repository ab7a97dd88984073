"""Typed unsolicited result codes (URCs) a modem sends on its own, and caller-ID values.

These are the only things the line state machines above ever see from a modem: the
channel turns each received line into one of these events (see `firmware.at.parser`).
All events are immutable, hashable dataclasses so they can be queued and compared in tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

_DIAL_EXTRAS = frozenset("+*# -.()/")  # besides digits, what a dial string may hold


class CliValidity(IntEnum):
    """3GPP TS 27.007 +CLIP `<CLI validity>`: why a number is (not) present."""

    VALID = 0
    WITHHELD = 1  # caller withheld the number ("private")
    UNAVAILABLE = 2  # network could not provide it (interworking, SIM-less, ...)
    PAYPHONE = 3
    OTHER = 4


@dataclass(frozen=True, slots=True)
class CallerId:
    """A caller ID exactly as the modem reported it.

    `raw` is the number field unmodified (None when the field was empty), `number_type` the
    type-of-address octet (129 national/unknown, 145 international, 128 unknown/withheld),
    `validity` the CLI-validity field, `alpha` the phonebook/alpha tag if any.
    """

    raw: str | None
    number_type: int | None
    validity: CliValidity
    alpha: str | None = None

    @property
    def has_number(self) -> bool:
        """True when the modem delivered a dial string (digits, with at most `+`, `*`, `#`
        and visual separators): not a label such as `PRIVATE` or `TELKOMSEL`."""
        if self.validity is not CliValidity.VALID or not self.raw:
            return False
        return any(ch.isdigit() for ch in self.raw) and all(
            ch.isdigit() or ch in _DIAL_EXTRAS for ch in self.raw
        )


@dataclass(frozen=True, slots=True)
class Urc:
    """Base class of every unsolicited event; `text` is the line it was parsed from."""

    text: str


@dataclass(frozen=True, slots=True)
class Ring(Urc):
    """`RING` or `+CRING: VOICE`: an incoming call is alerting (repeats every few seconds)."""

    extended: bool = False


@dataclass(frozen=True, slots=True)
class Clip(Urc):
    """`+CLIP: ...`: caller ID of the alerting call (follows each RING)."""

    caller: CallerId = CallerId(None, None, CliValidity.UNAVAILABLE)


@dataclass(frozen=True, slots=True)
class CallWaiting(Urc):
    """`+CCWA: ...`: a second call arrived while one is in progress."""

    caller: CallerId = CallerId(None, None, CliValidity.UNAVAILABLE)


@dataclass(frozen=True, slots=True)
class CallConnected(Urc):
    """`VOICE CALL: BEGIN` (SIMCom LTE) or `^CONN:` (Huawei): the call is now active.

    `call_id` is the modem's id of the call when the line names it (Huawei), else None.
    """

    call_id: int | None = None


@dataclass(frozen=True, slots=True)
class CallEnded(Urc):
    """The call ended: `NO CARRIER`, `BUSY`, `NO ANSWER`, `VOICE CALL: END`, `MISSED_CALL`, `^CEND`.

    `cause` is a short machine word: `no_carrier`, `busy`, `no_answer`, `voice_call_end`,
    `missed_call`, `cend`.
    """

    cause: str = "no_carrier"
    call_id: int | None = None  # the modem's id of the ended call, when named (Huawei ^CEND)


@dataclass(frozen=True, slots=True)
class CallStatus(Urc):
    """`+CLCC: <id>,<dir>,<stat>,<mode>,<mpty>[,<number>,<type>[,<alpha>]]` (state URC or reply)."""

    call_id: int = 0
    direction: int = 1
    state: int = 4  # 0 active, 1 held, 2 dialing, 3 alerting, 4 incoming, 5 waiting, 6 disconnect
    number: str | None = None
    number_type: int | None = None


@dataclass(frozen=True, slots=True)
class Dtmf(Urc):
    """A key the remote party pressed: `+DTMF: 5`, `+RXDTMF: 5`, `+QTONEDET: 53`, `^DDTMF: 5`."""

    key: str = ""


@dataclass(frozen=True, slots=True)
class PromptFinished(Urc):
    """In-call playback ended: `+CREC: 0`, `+CTTS: 0`, `+AUDIOSTATE: audio play stop`,
    `+QPSND: 0`, `+QWTTS: 0`. `ok` is False when the modem reports an interrupted play."""

    ok: bool = True


@dataclass(frozen=True, slots=True)
class ModemBooted(Urc):
    """A line the modem sends after (re)booting: `RDY`, `Call Ready`, `SMS Ready`,
    `+QIND: PB DONE`, `+CFUN: 1`, `^BOOT...`. Settings such as +CLIP=1 are lost: re-initialise."""


@dataclass(frozen=True, slots=True)
class OtherUrc(Urc):
    """A recognised URC with no meaning for call handling (+CMTI, ^RSSI, +CREG: n, ...)."""


@dataclass(frozen=True, slots=True)
class ModemPowerDown(Urc):
    """The modem announced it is switching off: `NORMAL POWER DOWN` (PWRKEY/AT+CPOWD),
    `UNDER-VOLTAGE POWER DOWN`, `OVER-VOLTAGE POWER DOWN` (SIM800 brown-out).

    Unlike `ModemBooted`, re-initialising now would fail: the line should go to FAILED and
    power-cycle the modem. `cause` is `normal`, `under_voltage` or `over_voltage`.
    """

    cause: str = "normal"
