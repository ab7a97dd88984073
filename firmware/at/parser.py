"""Pure functions that turn one AT line into meaning: URC events, final results, caller IDs.

Nothing here does I/O, keeps state or reads a clock, so every modem dialect in
`docs/modems.md` can be pinned down by plain unit tests. The channel
(`firmware.at.channel`) frames bytes into lines and asks these functions what each line is.

Robustness rule: a malformed line never raises. A payload we cannot make sense of becomes
the most conservative event (an `OtherUrc`, or a caller ID marked UNAVAILABLE), because a
parser exception in the reader would lose the next emergency call.
"""

from __future__ import annotations

import re
from enum import Enum

from firmware.at.urc import (
    CallConnected,
    CallEnded,
    CallerId,
    CallStatus,
    CallWaiting,
    Clip,
    CliValidity,
    Dtmf,
    ModemBooted,
    ModemPowerDown,
    OtherUrc,
    PromptFinished,
    Ring,
    Urc,
)

# Keys a DTMF URC may carry (27.007 +VTS alphabet).
_DTMF_KEYS = frozenset("0123456789*#ABCD")


class FinalResult(Enum):
    """A line that ends a command's reply (V.250 / 27.007 final result codes)."""

    OK = "OK"
    CONNECT = "CONNECT"
    ERROR = "ERROR"
    CME_ERROR = "+CME ERROR"
    CMS_ERROR = "+CMS ERROR"
    NOT_SUPPORTED = "COMMAND NOT SUPPORT"  # Huawei's ERROR for unknown commands
    NO_CARRIER = "NO CARRIER"
    BUSY = "BUSY"
    NO_ANSWER = "NO ANSWER"
    NO_DIALTONE = "NO DIALTONE"

    @property
    def ok(self) -> bool:
        """True when the command succeeded."""
        return self in (FinalResult.OK, FinalResult.CONNECT)


# Results that end any command; the call-progress ones only end ATA/ATD (otherwise they
# are URCs: NO CARRIER during an AT+CSQ poll is the caller hanging up).
_ALWAYS_FINAL = {
    "OK": FinalResult.OK,
    "ERROR": FinalResult.ERROR,
    "COMMAND NOT SUPPORT": FinalResult.NOT_SUPPORTED,
}
_DIAL_FINAL = {
    "NO CARRIER": FinalResult.NO_CARRIER,
    "BUSY": FinalResult.BUSY,
    "NO ANSWER": FinalResult.NO_ANSWER,
    "NO DIALTONE": FinalResult.NO_DIALTONE,
    "CONNECT": FinalResult.CONNECT,
}


def is_final_result(line: str, *, dial: bool = False) -> FinalResult | None:
    """The final result `line` represents, or None if it is not one.

    `dial` is True while ATA/ATD is pending: then call-progress results (NO CARRIER, BUSY,
    NO ANSWER, NO DIALTONE, CONNECT[ <rate>]) also end the command.
    """
    text = line.strip()
    if text in _ALWAYS_FINAL:
        return _ALWAYS_FINAL[text]
    if text.startswith("+CME ERROR"):
        return FinalResult.CME_ERROR
    if text.startswith("+CMS ERROR"):
        return FinalResult.CMS_ERROR
    if dial:
        if text in _DIAL_FINAL:
            return _DIAL_FINAL[text]
        if text.startswith("CONNECT "):
            return FinalResult.CONNECT
    return None


def is_dial_command(command: str) -> bool:
    """True for ATA/ATD..., whose reply may end in call-progress results."""
    text = command.strip().upper()
    return text == "ATA" or text.startswith("ATD")


# ---------------------------------------------------------------------------------------
# Response prefixes
# ---------------------------------------------------------------------------------------

_EXTENDED_COMMAND = re.compile(r"^AT([+^$%][A-Z0-9_]+)(=\?|\?|=(.*))?$", re.IGNORECASE)

# Set forms ("AT+X=...") normally answer only OK/ERROR, and their prefix is often also a
# URC name (+CLIP, +CCWA, +CTTS ...): claiming such lines for the reply would swallow the
# URC. These set forms do answer with information lines.
_SET_FORMS_WITH_INFO = frozenset(
    {"+CPMS", "+CMGL", "+CMGR", "+CMGS", "+CPBR", "+CPBF", "+CUSD", "+CSIM", "+CRSM"}
)
# Supplementary-service set forms that answer with information lines only in query mode 2
# (27.007 +CCWA=<n>,<mode>, +CLCK=<fac>,<mode>, +CCFC=<reason>,<mode>).
_QUERY_MODE_SET_FORMS = frozenset({"+CCWA", "+CLCK", "+CCFC"})


def response_prefix(command: str) -> str | None:
    """The prefix of the information lines that answer `command`, e.g. `AT+CSQ` → `+CSQ:`.

    None when the command has no prefixed reply (basic commands such as ATA, ATZ, ATE0,
    chained commands, and set forms that only answer OK). The channel uses the prefix to
    tell a reply line (`+CPIN: READY` for `AT+CPIN?`) from the same-looking URC.
    """
    match = _EXTENDED_COMMAND.match(command.strip())
    if match is None:
        return None
    name = match.group(1).upper()
    form, set_args = match.group(2), match.group(3)
    if form is not None and set_args is not None and not _set_form_replies(name, set_args):
        return None
    return f"{name}:"


def _set_form_replies(name: str, set_args: str) -> bool:
    """Whether the set form `AT<name>=<set_args>` answers with information lines."""
    if name in _SET_FORMS_WITH_INFO:
        return True
    if name in _QUERY_MODE_SET_FORMS:
        fields = split_fields(set_args)
        return fields is not None and len(fields) > 1 and fields[1] == "2"
    return False


# ---------------------------------------------------------------------------------------
# Caller ID
# ---------------------------------------------------------------------------------------


def split_fields(payload: str) -> list[str] | None:
    """Split a comma-separated AT payload, honouring double quotes; None if quotes are unbalanced.

    Quotes are removed and unquoted fields stripped of spaces: `"a,b",129,,` → [a,b, 129, "", ""].
    """
    fields: list[str] = []
    current: list[str] = []
    in_quotes = False
    for char in payload:
        if char == '"':
            in_quotes = not in_quotes
        elif char == "," and not in_quotes:
            fields.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    if in_quotes:
        return None
    fields.append("".join(current).strip())
    return fields


_DECIMAL = re.compile(r"-?[0-9]+")


def _int_or_none(text: str) -> int | None:
    """`text` as an int, or None when it is empty or not a decimal integer."""
    stripped = text.strip()
    # ASCII digits only: str.isdigit() also accepts "¹" or "²", which int() refuses.
    if not _DECIMAL.fullmatch(stripped):
        return None
    return int(stripped)


def _validity(code: int | None, number: str | None) -> CliValidity:
    """The CLI validity from its field, or inferred from the number when the field is absent."""
    if code is not None:
        try:
            return CliValidity(code)
        except ValueError:
            return CliValidity.OTHER  # a later 27.007 value we do not know
    return CliValidity.VALID if number else CliValidity.UNAVAILABLE


_UNAVAILABLE = CallerId(None, None, CliValidity.UNAVAILABLE)


def parse_clip_fields(payload: str, *, waiting: bool = False) -> CallerId:
    """Caller ID from a +CLIP payload (or a +CCWA payload when `waiting`); never raises.

    +CLIP layout (27.007): number, type, subaddr, satype, alpha, CLI validity; SIMCom fills
    every field (`"+44..",145,"",0,"",0`), Quectel leaves subaddress empty
    (`"0215..",129,,,"QUECTEL",0`), Huawei leaves all but validity empty
    (`"8288..",129,,,,0`), old firmware stops after the type. +CCWA layout: number, type,
    class, alpha, CLI validity, ...

    The number is kept exactly as sent (national `0812...`, `62812...` without '+', or a
    label) with the validity the modem gave (VALID when the field is absent and a number
    is there). What a label means (`PRIVATE`, `Unknown`, an alphanumeric sender such as
    `TELKOMSEL` or `BANK1`) is decided in one place, `appliance.numbers`, not here.
    Unbalanced quotes or an empty payload give an UNAVAILABLE caller ID.
    """
    fields = split_fields(payload)
    if fields is None or not payload.strip():
        return _UNAVAILABLE
    number = fields[0] or None
    number_type = _int_or_none(fields[1]) if len(fields) > 1 else None
    alpha_index, validity_index = (3, 4) if waiting else (4, 5)
    alpha = fields[alpha_index] if len(fields) > alpha_index else ""
    code = _int_or_none(fields[validity_index]) if len(fields) > validity_index else None
    validity = _validity(code, number)
    return CallerId(raw=number, number_type=number_type, validity=validity, alpha=alpha or None)


# ---------------------------------------------------------------------------------------
# URC lines
# ---------------------------------------------------------------------------------------

# QTONEDET reports the ASCII code of the key (EC2x audio manual 12.13).
_QTONEDET_KEYS = {code: chr(code) for code in map(ord, _DTMF_KEYS)}

_EXACT: dict[str, type[Urc]] = {
    "RDY": ModemBooted,
    "Call Ready": ModemBooted,
    "SMS Ready": ModemBooted,
    "+CPIN: READY": ModemBooted,
    "+CFUN: 1": ModemBooted,
    "+QIND: PB DONE": ModemBooted,
    "VOICE CALL: BEGIN": CallConnected,
}
_CALL_END_WORDS = {"NO CARRIER": "no_carrier", "BUSY": "busy", "NO ANSWER": "no_answer"}

# Power-down lines say the modem is going *off*: re-initialising would fail, so they are a
# distinct event, not ModemBooted. UNDER-/OVER-VOLTAGE WARNNING (sic) are only warnings.
_POWER_DOWN = {
    "NORMAL POWER DOWN": "normal",
    "UNDER-VOLTAGE POWER DOWN": "under_voltage",
    "OVER-VOLTAGE POWER DOWN": "over_voltage",
}

# Recognised URCs with no meaning for call handling. ^BOOT is here, not in ModemBooted: on
# E1550/E173 it repeats periodically until AT^CURC=0 (chan_dongle ignores it too); a real
# Huawei reset re-enumerates USB and shows up as a lost port instead.
_OTHER_PREFIXES = (
    "+CMTI:",
    "+CMT:",
    "+CDS:",
    "+CBM:",
    "+CREG:",
    "+CGREG:",
    "+CEREG:",
    "+CPIN:",
    "+CFUN:",
    "+CUSD:",
    "+CIEV:",
    "+CGEV:",
    "+QIND:",
    "+QUSIM:",
    "+PACSP",
    "^RSSI:",
    "^HRSSILVL:",
    "^MODE:",
    "^BOOT:",
    "^DSFLOWRPT:",
    "^SIMST:",
    "^SRVST:",
    "^STIN:",
    "^ORIG:",
    "^CONF:",
    "UNDER-VOLTAGE WARNNING",
    "OVER-VOLTAGE WARNNING",
)


def parse_line(line: str) -> Urc | None:
    """The URC event `line` announces, or None if it is not a known unsolicited line.

    Never raises: a known prefix with a malformed payload yields `OtherUrc`.
    """
    text = line.strip()
    if not text:
        return None
    if text == "RING":
        return Ring(text)
    if text in _EXACT:
        return _EXACT[text](text)
    if text in _CALL_END_WORDS:
        return CallEnded(text, cause=_CALL_END_WORDS[text])
    if text in _POWER_DOWN:
        return ModemPowerDown(text, cause=_POWER_DOWN[text])
    for prefix, handler in _PREFIX_HANDLERS:
        if text.startswith(prefix):
            return handler(text, text[len(prefix) :].strip())
    if text.startswith(_OTHER_PREFIXES):
        return OtherUrc(text)
    return None


def _crring(text: str, payload: str) -> Urc:
    return Ring(text, extended=True)


def _clip(text: str, payload: str) -> Urc:
    return Clip(text, caller=parse_clip_fields(payload))


def _ccwa(text: str, payload: str) -> Urc:
    return CallWaiting(text, caller=parse_clip_fields(payload, waiting=True))


def _voice_call(text: str, payload: str) -> Urc:
    """SIM7600 `VOICE CALL: BEGIN` / `VOICE CALL: END: 000008` (duration HHMMSS)."""
    if payload.startswith("END"):
        return CallEnded(text, cause="voice_call_end")
    if payload.startswith("BEGIN"):
        return CallConnected(text)
    return OtherUrc(text)


def _missed_call(text: str, payload: str) -> Urc:
    return CallEnded(text, cause="missed_call")


def _cend(text: str, payload: str) -> Urc:
    """Huawei `^CEND:<id>,<dur>,<end_status>[,<cc_cause>]`: the 4th field is optional.

    Any ^CEND ends the call whatever its field count: missing an end-of-call is worse
    than a malformed cause field.
    """
    return CallEnded(text, cause="cend", call_id=_leading_call_id(payload))


def _conn(text: str, payload: str) -> Urc:
    """Huawei `^CONN:<id>,<type>`: the call with that id is now active."""
    return CallConnected(text, call_id=_leading_call_id(payload))


def _leading_call_id(payload: str) -> int | None:
    """The first comma-separated field as a call id (`2,0,29,17` -> 2), or None."""
    return _int_or_none(payload.split(",", 1)[0])


def _clcc(text: str, payload: str) -> Urc:
    """`+CLCC: <id>,<dir>,<stat>,<mode>,<mpty>[,<number>,<type>[,<alpha>]]`."""
    fields = split_fields(payload)
    if fields is None or len(fields) < 5:
        return OtherUrc(text)
    head = [_int_or_none(field) for field in fields[:3]]
    if None in head:
        return OtherUrc(text)
    call_id, direction, state = (value or 0 for value in head)
    number = fields[5] if len(fields) > 5 and fields[5] else None
    number_type = _int_or_none(fields[6]) if len(fields) > 6 else None
    return CallStatus(
        text,
        call_id=call_id,
        direction=direction,
        state=state,
        number=number,
        number_type=number_type,
    )


def _dtmf_key(text: str, payload: str) -> Urc:
    """`+DTMF: 5`, `+DTMF: 5,160` (key, duration ms), `+RXDTMF: 5`, `^DDTMF: 5`."""
    key = payload.split(",", 1)[0].strip().strip('"').upper()
    if key in _DTMF_KEYS:
        return Dtmf(text, key=key)
    return OtherUrc(text)


def _qtonedet(text: str, payload: str) -> Urc:
    """Quectel `+QTONEDET: 53`: the ASCII code of the key; unknown codes (M66 false 70) ignored."""
    code = _int_or_none(payload)
    if code is not None and code in _QTONEDET_KEYS:
        return Dtmf(text, key=_QTONEDET_KEYS[code])
    return OtherUrc(text)


def _play_status(text: str, payload: str) -> Urc:
    """`+CREC: 0`, `+CTTS: 0`, `+QPSND: 0`, `+QWTTS: 0`: 0 = played to the end.

    Any other status (`+QWTTS: 4111` = interrupted by a call event) still ends playback.
    """
    status = _int_or_none(payload.split(",", 1)[0])
    if status is None:
        return OtherUrc(text)
    return PromptFinished(text, ok=status == 0)


def _audiostate(text: str, payload: str) -> Urc:
    """SIM7600 `+AUDIOSTATE: audio play stop` ends a CCMXPLAY; `audio play` starts it."""
    if payload.strip().lower() == "audio play stop":
        return PromptFinished(text, ok=True)
    return OtherUrc(text)


_PREFIX_HANDLERS = (
    ("+CRING:", _crring),
    ("+CLIP:", _clip),
    ("+CCWA:", _ccwa),
    ("+CLCC:", _clcc),
    ("VOICE CALL:", _voice_call),
    ("MISSED_CALL:", _missed_call),
    ("^CEND:", _cend),
    ("^CONN:", _conn),
    ("+DTMF:", _dtmf_key),
    ("+RXDTMF:", _dtmf_key),
    ("^DDTMF:", _dtmf_key),
    ("+QTONEDET:", _qtonedet),
    ("+CREC:", _play_status),
    ("+CTTS:", _play_status),
    ("+QPSND:", _play_status),
    ("+QWTTS:", _play_status),
    ("+AUDIOSTATE:", _audiostate),
)
