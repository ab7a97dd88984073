"""Command handlers of the virtual modem: a dispatch table, one small function per command.

Each handler takes the modem and one parsed `Command` and returns a `Reply`. `_COMMON` holds
the V.250/27.007 commands every family answers; `_VENDOR` holds vendor commands a family
answers only when they are listed in its profile's `extra_commands` (a SIM800 answers
`AT^CURC=0` with ERROR, as the real one does). Prompt commands come from the profile.
Handlers reach into the modem's package-private call machinery (`_answer`,
`_release_by_host`, ...): they are part of the modem, split out to keep files small.
`DialectModem` lists all they touch; the modem imports this module, never the reverse.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from .calls import CallState, ModemState, VirtualCall
from .commands import SMS_PROMPT, Command, Reply
from .profiles import FamilyProfile, PromptCommand
from .settings import Settings


class DialectModem(Protocol):
    """What the handlers use of `modem.DialectModem`."""

    profile: FamilyProfile
    settings: Settings
    registration: int
    operator: str
    sim_status: str
    imei: str
    signal: int
    network_time: bool
    deflect_supported: bool
    forwarding: dict[int, tuple[str, int]]  # +CCFC reason -> (number, no-reply seconds)
    clock: Callable[[], datetime] | None
    _cfun: int

    @property
    def loop(self) -> asyncio.AbstractEventLoop: ...
    @property
    def state(self) -> ModemState: ...
    @property
    def live_calls(self) -> list[VirtualCall]: ...
    def reboot(self, delay_s: float = 2.0, *, end_lines: bool = False) -> None: ...
    def _find(self, state: CallState) -> VirtualCall | None: ...
    def _find_id(self, call_id: int) -> VirtualCall | None: ...
    def _answer(self, call: VirtualCall) -> Reply: ...
    def _release_by_host(self, call: VirtualCall, release: str, cause: int = ...) -> Reply: ...
    def _host_audio(self, on: bool) -> bool: ...
    def _stop_prompt(self) -> None: ...
    def _reset_settings(self) -> None: ...
    def _play(self, command: Command, spec: PromptCommand) -> Reply: ...
    def _clcc_line(self, call: VirtualCall, stat: int | None = None) -> str: ...


Handler = Callable[[DialectModem, Command], Reply]

_S_REGISTER = re.compile(r"S\d+")
_DTMF_CHARS = "0123456789*#ABCD"
_CAUSE_BUSY = 17


def handler_for(profile: FamilyProfile, name: str) -> Handler | None:
    """The handler for command `name` on this family, or None (unknown command)."""
    if _S_REGISTER.fullmatch(name):
        return _s_register
    if name in profile.prompts:
        return _prompt
    handler = _COMMON.get(name)
    if handler is None and name in profile.extra_commands:
        handler = _VENDOR.get(name)
    return handler


def command_names(profile: FamilyProfile) -> list[str]:
    """Every command this family answers (for AT+CLAC)."""
    names = set(_COMMON) | set(profile.prompts) | (set(profile.extra_commands) & set(_VENDOR))
    return sorted(names)


# ------------------------------------------------------------------------ helpers


def _ok(modem: DialectModem, command: Command) -> Reply:
    return Reply()


def _flag(value: str) -> bool | None:
    """ "0"/"1" (or empty = 0) as a bool; None for anything else."""
    return {"": False, "0": False, "1": True}.get(value)


def _lines(*lines: str) -> Reply:
    return Reply(lines=list(lines))


def _info(text: str) -> Handler:
    """A handler that answers a query/execute with one fixed line (test command: OK)."""

    def handler(modem: DialectModem, command: Command) -> Reply:
        return Reply() if command.op in ("=", "=?") else _lines(text)

    return handler


# ------------------------------------------------------------------------ V.250 basics


def _echo(modem: DialectModem, command: Command) -> Reply:
    value = _flag(command.args)
    if value is None:
        return Reply(final="ERROR")
    modem.settings.echo = value
    return Reply()


def _reset(modem: DialectModem, command: Command) -> Reply:
    modem._reset_settings()
    return Reply()


def _identify(modem: DialectModem, command: Command) -> Reply:
    return Reply(lines=[line.format(imei=modem.imei) for line in modem.profile.ati])


def _s_register(modem: DialectModem, command: Command) -> Reply:
    return _lines("000") if command.op == "?" else Reply()


def _manufacturer(modem: DialectModem, command: Command) -> Reply:
    return Reply() if command.op == "=?" else _lines(modem.profile.manufacturer)


def _model(modem: DialectModem, command: Command) -> Reply:
    return Reply() if command.op == "=?" else _lines(modem.profile.model)


def _revision(modem: DialectModem, command: Command) -> Reply:
    return Reply() if command.op == "=?" else _lines(modem.profile.revision)


def _serial(modem: DialectModem, command: Command) -> Reply:
    return Reply() if command.op == "=?" else _lines(modem.imei)


def _clac(modem: DialectModem, command: Command) -> Reply:
    return Reply(lines=command_names(modem.profile))


# ------------------------------------------------------------------------ settings


def _setting(attribute: str, query: str, maximum: int = 1) -> Handler:
    """Handler for `AT+X=<n>` / `AT+X?` storing an int (or bool) in modem.settings."""

    def handler(modem: DialectModem, command: Command) -> Reply:
        current = getattr(modem.settings, attribute)
        if command.op == "?":
            return _lines(query.format(int(current)))
        if command.op == "=?":
            return _lines(f"{query.split(':')[0]}: (0-{maximum})")
        if command.op != "=":
            return Reply(final="ERROR")
        first = command.first("0")
        if not first.isdigit() or int(first) > maximum:
            return Reply(final="ERROR")
        value = int(first)
        setattr(modem.settings, attribute, bool(value) if isinstance(current, bool) else value)
        return Reply()

    return handler


def _ccwa(modem: DialectModem, command: Command) -> Reply:
    if command.op == "?":
        return _lines(f"+CCWA: {int(modem.settings.ccwa)}")
    if command.op == "=":
        # AT+CCWA=<n>[,<mode>[,<class>]]: <n> turns the +CCWA presentation on or off.
        modem.settings.ccwa = command.first("0") == "1"
    return Reply()


# 27.007 +CCFC: <reason> 0 unconditional, 1 busy, 2 no reply, 3 not reachable (4, 5:
# the groups); <mode> 0 disable, 1 enable, 2 query, 3 registration, 4 erasure.
_CCFC_REASONS = 5
_CCFC_DEFAULT_NO_REPLY_S = 20


def _ccfc(modem: DialectModem, command: Command) -> Reply:
    """Call forwarding, kept by the network (a reboot of the modem keeps it)."""
    if command.op == "=?":
        return _lines("+CCFC: (0-5)")
    params = command.params()
    if command.op != "=" or len(params) < 2 or not (params[0] + params[1]).isdigit():
        return Reply(final="ERROR")
    reason, mode = int(params[0]), int(params[1])
    if reason > _CCFC_REASONS or mode > 4:
        return Reply(final="ERROR")
    if mode == 2:
        return _lines(_ccfc_status(modem, reason))
    if mode in (0, 4):
        modem.forwarding.pop(reason, None)
        return Reply()
    number = params[2] if len(params) > 2 else ""
    if not number:
        return Reply(final="ERROR" if mode == 3 else "OK")
    after = params[7] if len(params) > 7 else ""
    modem.forwarding[reason] = (number, int(after) if after.isdigit() else _CCFC_DEFAULT_NO_REPLY_S)
    return Reply()


def _ccfc_status(modem: DialectModem, reason: int) -> str:
    entry = modem.forwarding.get(reason)
    if entry is None:
        return "+CCFC: 0,1"
    number, after = entry
    kind = 145 if number.startswith("+") else 129
    return f'+CCFC: 1,1,"{number}",{kind}' + (f",,,{after}" if reason == 2 else "")


def _ddet(modem: DialectModem, command: Command) -> Reply:
    if command.op == "?":
        return _lines(f"+DDET: {int(modem.settings.dtmf)},0,0,0")
    if command.op != "=":
        return Reply()
    params = command.params()
    value = _flag(params[0] if params else "")
    if value is None:
        return Reply(final="ERROR")
    modem.settings.dtmf = value
    # AT+DDET=1,<interval>,<reportmode>: reportmode 1 adds the tone duration (SIM800).
    modem.settings.dtmf_duration = value and len(params) > 2 and params[2] == "1"
    return Reply()


def _clcc(modem: DialectModem, command: Command) -> Reply:
    if command.op == "=?":
        return _lines("+CLCC: (0-1)") if modem.profile.clcc_urcs else Reply()
    if command.op == "=":
        value = _flag(command.first())
        if value is None or not modem.profile.clcc_urcs:
            return Reply(final="ERROR")
        modem.settings.clcc_urcs = value
        return Reply()
    if command.op == "?":
        return _lines(f"+CLCC: {int(modem.settings.clcc_urcs)}")
    return Reply(lines=[modem._clcc_line(call) for call in modem.live_calls])


# ------------------------------------------------------------------------ health


def _csq(modem: DialectModem, command: Command) -> Reply:
    if command.op == "=?":
        return _lines("+CSQ: (0-31,99),(0-7,99)")
    return _lines(f"+CSQ: {modem.signal},0")


def _cclk(modem: DialectModem, command: Command) -> Reply:
    """AT+CCLK?: the module's clock, local time and the zone in quarter hours. Without
    network time (`modem.network_time` False, or no clock) it is the RTC's power-on
    default, as on a SIM800 whose network sends no time."""
    if command.op != "?":
        return Reply()
    now = modem.clock() if modem.clock is not None and modem.network_time else None
    if now is None:
        return _lines('+CCLK: "04/01/01,00:00:00+00"')
    offset = now.utcoffset()
    quarters = round(offset.total_seconds() / 900) if offset is not None else 0
    return _lines(f'+CCLK: "{now:%y/%m/%d,%H:%M:%S}{quarters:+03d}"')


def _creg(modem: DialectModem, command: Command) -> Reply:
    if command.op == "?":
        return _lines(f"+CREG: {modem.settings.creg_n},{modem.registration}")
    if command.op == "=?":
        return _lines("+CREG: (0-2)")
    value = command.first("0")
    if value not in ("0", "1", "2"):
        return Reply(final="ERROR")
    modem.settings.creg_n = int(value)
    return Reply()


def _cgreg(modem: DialectModem, command: Command) -> Reply:
    return _lines(f"+CGREG: 0,{modem.registration}") if command.op == "?" else Reply()


def _cops(modem: DialectModem, command: Command) -> Reply:
    if command.op == "=?":
        return _lines(f'+COPS: (2,"{modem.operator}","{modem.operator}","51010"),,(0-4),(0-2)')
    if command.op != "?":
        return Reply()
    if modem.registration not in (1, 5):
        return _lines("+COPS: 0")
    act = modem.profile.cops_act
    suffix = f",{act}" if act is not None else ""
    return _lines(f'+COPS: 0,0,"{modem.operator}"{suffix}')


def _cpin(modem: DialectModem, command: Command) -> Reply:
    if command.op != "?":
        return Reply()
    if modem.sim_status == "NOT INSERTED":
        return Reply(final=10)
    return _lines(f"+CPIN: {modem.sim_status}")


def _cpas(modem: DialectModem, command: Command) -> Reply:
    if command.op == "=?":
        return _lines("+CPAS: (0,3,4)")
    code = {"idle": 0, "ringing": 3, "active": 4}[modem.state.value]
    return _lines(f"+CPAS: {code}")


def _cfun(modem: DialectModem, command: Command) -> Reply:
    if command.op == "?":
        return _lines(f"+CFUN: {modem._cfun}")
    if command.op == "=?":
        return _lines("+CFUN: (0,1,4),(0-1)")
    params = command.params()
    if not params or params[0] not in ("0", "1", "4"):
        return Reply(final="ERROR")
    modem._cfun = int(params[0])
    if len(params) > 1 and params[1] == "1":
        # AT+CFUN=1,1 resets the module: OK goes out first, then it reboots.
        modem.loop.call_soon(modem.reboot)
    return Reply()


# ------------------------------------------------------------------------ call control


def _answer(modem: DialectModem, command: Command) -> Reply:
    call = modem._find(CallState.RINGING)
    if call is None:  # nobody ringing, or the caller already gave up
        return Reply(final="NO CARRIER")
    return modem._answer(call)


def _hang_up(modem: DialectModem, command: Command) -> Reply:
    if command.args not in ("", "0"):
        return Reply(final="ERROR")
    if modem.settings.cvhu == 1:  # +CVHU=1: ATH is acknowledged but ignored for voice
        return Reply()
    call = modem._find(CallState.ACTIVE) or modem._find(CallState.RINGING)
    return Reply() if call is None else modem._release_by_host(call, "ATH")


def _chup(modem: DialectModem, command: Command) -> Reply:
    if command.op == "=?":
        return Reply()
    call = modem._find(CallState.ACTIVE) or modem._find(CallState.RINGING)
    return Reply() if call is None else modem._release_by_host(call, "AT+CHUP")


def _chld(modem: DialectModem, command: Command) -> Reply:
    if command.op == "=?":
        return _lines("+CHLD: (0,1,1x,2,2x,3,4)")
    arg = command.first()
    release = f"AT+CHLD={arg}"
    if arg == "0":  # UDUB: the alerting/waiting caller gets "busy"
        call = modem._find(CallState.WAITING) or modem._find(CallState.RINGING)
        return (
            Reply(final=3) if call is None else modem._release_by_host(call, release, _CAUSE_BUSY)
        )
    if arg == "1":  # release the active call, accept the waiting one
        return _release_and_accept(modem, release)
    if len(arg) > 1 and arg[0] == "1" and arg[1:].isdigit():
        call = modem._find_id(int(arg[1:]))
        return Reply(final=3) if call is None else modem._release_by_host(call, release)
    return Reply(final=3)  # holding calls is not emulated


def _release_and_accept(modem: DialectModem, release: str) -> Reply:
    active = modem._find(CallState.ACTIVE)
    waiting = modem._find(CallState.WAITING) or modem._find(CallState.RINGING)
    if active is None and waiting is None:
        return Reply(final=3)
    reply = Reply()
    if active is not None:
        reply.extend(modem._release_by_host(active, release))
    if waiting is not None:
        reply.extend(modem._answer(waiting))
    return reply


def _ctfr(modem: DialectModem, command: Command) -> Reply:
    if command.op == "=?":
        return Reply()
    number = command.first()
    call = modem._find(CallState.RINGING) or modem._find(CallState.WAITING)
    if command.op != "=" or not number:
        return Reply(final="ERROR")
    if call is None or not modem.deflect_supported:
        return Reply(final=3)
    reply = modem._release_by_host(call, "AT+CTFR")
    call.deflected_to = number
    return reply


def _send_tones(modem: DialectModem, keys: str) -> Reply:
    call = modem._find(CallState.ACTIVE)
    if call is None:
        return Reply(final=3)
    call.tones_sent += "".join(key for key in keys if key in _DTMF_CHARS)
    return Reply()


def _vts(modem: DialectModem, command: Command) -> Reply:
    return Reply() if command.op == "=?" else _send_tones(modem, command.args)


def _huawei_dtmf(modem: DialectModem, command: Command) -> Reply:
    params = command.params()  # AT^DTMF=<call id>,<key>
    if command.op != "=" or len(params) < 2:
        return Reply()
    return _send_tones(modem, params[1])


def _host_audio(modem: DialectModem, command: Command) -> Reply:
    """AT+CPCMREG=1|0 (SIMCom), AT+QPCMV=1,0|0 (Quectel), AT^DDSETEX=2 (Huawei): call
    audio to and from the voice port. Huawei's switch works only during a call."""
    if command.op in ("?", "=?") or modem.profile.host_audio_command != command.name:
        return Reply()
    params = command.params()
    value = params[0] if params else ""
    if value == modem.profile.host_audio_on:
        return Reply() if modem._host_audio(True) else Reply(final="ERROR")
    if value == "0" and command.name != "^DDSETEX":
        modem._host_audio(False)
        return Reply()
    return Reply(final="ERROR")


def _cmgs(modem: DialectModem, command: Command) -> Reply:
    """AT+CMGS=<TPDU length> in PDU mode: the "> " prompt, then the PDU and Ctrl-Z."""
    if command.op == "=?":
        return Reply()
    params = command.params()
    if command.op != "=" or not params or not params[0].isdigit():
        return Reply(final="ERROR")
    if modem.settings.cmgf != 0:
        return Reply(final="ERROR")  # text mode is not emulated
    return Reply(final=SMS_PROMPT)


def _prompt(modem: DialectModem, command: Command) -> Reply:
    return modem._play(command, modem.profile.prompts[command.name])


def _stop_prompt(modem: DialectModem, command: Command) -> Reply:
    modem._stop_prompt()
    return Reply()


# ------------------------------------------------------------------------ SMS & misc


def _cpms(modem: DialectModem, command: Command) -> Reply:
    if command.op == "=?":
        return _lines('+CPMS: ("SM","ME"),("SM","ME"),("SM","ME")')
    if command.op == "?":
        return _lines('+CPMS: "SM",0,30,"SM",0,30,"SM",0,30')
    return _lines("+CPMS: 0,30,0,30,0,30")


def _quectel_urccfg(modem: DialectModem, command: Command) -> Reply:
    return _lines('+QURCCFG: "urcport","usbat"') if command.op == "?" else Reply()


def _huawei_cvoice(modem: DialectModem, command: Command) -> Reply:
    if command.op == "?":
        return _lines("^CVOICE:0,8000,16,20")  # 0 = voice enabled
    return _lines("^CVOICE:(0)") if command.op == "=?" else Reply()


_COMMON: dict[str, Handler] = {
    "E": _echo,
    "Z": _reset,
    "&F": _reset,
    "&W": _ok,
    "&C": _ok,
    "&D": _ok,
    "V": _ok,
    "Q": _ok,
    "X": _ok,
    "I": _identify,
    "A": _answer,
    "H": _hang_up,
    "+CGMI": _manufacturer,
    "+GMI": _manufacturer,
    "+CGMM": _model,
    "+GMM": _model,
    "+CGMR": _revision,
    "+GMR": _revision,
    "+CGSN": _serial,
    "+GSN": _serial,
    "+CIMI": _info("510101234567890"),
    "+GCAP": _info("+GCAP: +CGSM"),
    "+CLAC": _clac,
    "+CSQ": _csq,
    "+CCLK": _cclk,
    "+CTZU": _ok,  # network time zone updates (SIMCom LTE, Quectel)
    "+CREG": _creg,
    "+CGREG": _cgreg,
    "+COPS": _cops,
    "+CPIN": _cpin,
    "+CPAS": _cpas,
    "+CFUN": _cfun,
    "+CLCC": _clcc,
    "+CLIP": _setting("clip", "+CLIP: {},1"),
    "+CRC": _setting("crc", "+CRC: {}"),
    "+CCWA": _ccwa,
    "+CCFC": _ccfc,
    "+CVHU": _setting("cvhu", "+CVHU: {}"),
    "+CMEE": _setting("cmee", "+CMEE: {}", maximum=2),
    "+CHUP": _chup,
    "+CHLD": _chld,
    "+CTFR": _ctfr,
    "+VTS": _vts,
    "+CMGF": _setting("cmgf", "+CMGF: {}"),
    "+CMGS": _cmgs,
    "+CNMI": _ok,
    "+CSMP": _ok,
    "+CSCA": _info('+CSCA: "+628110000005",145'),
    "+CPMS": _cpms,
    "+CSCS": _info('+CSCS: "IRA"'),
    "+CNUM": _ok,
    "+IPR": _ok,
    "+IFC": _ok,
}

_VENDOR: dict[str, Handler] = {
    # SIMCom
    "+DDET": _ddet,
    "+GSMBUSY": _setting("gsmbusy", "+GSMBUSY: {}"),
    "+CLTS": _ok,  # network time updates (SIMCom 2G)
    "+CDTAM": _ok,
    "+CCMXSTOP": _stop_prompt,
    "+CPCMREG": _host_audio,
    # Quectel
    "+QTONEDET": _setting("dtmf", "+QTONEDET: {}"),
    "+QURCCFG": _quectel_urccfg,
    "+QTTS": _ok,  # local-speaker TTS: nothing reaches the caller
    "+QPCMV": _host_audio,
    "+QAUDMOD": _ok,
    # Huawei
    "^CURC": _setting("curc", "^CURC: {}"),
    "^CVOICE": _huawei_cvoice,
    "^DDSETEX": _host_audio,
    "^DTMF": _huawei_dtmf,
    "^USSDMODE": _ok,
}
