"""Per-family AT dialect data for the virtual modem (see docs/modems.md).

Everything that differs between SIM800, SIM7600, Quectel EC25/M95, Huawei E173 and a
plain 27.007 "generic" modem lives here as data: identification strings, +CLIP field
layout, DTMF URC, call-state URCs, prompt commands, boot lines. The command handlers in
`dialect` and the call logic in `modem` read it; they hold no family `if`s beyond
the `EndStyle` switch.

Decisions where the reference leaves a choice (marked *inferred* in docs/modems.md):
- generic: a 2G module that follows 27.007 plus SIMCom-style `AT+DDET=1` -> `+DTMF: 5`
  (most unbranded modules are SIMCom clones), no on-modem player, no boot lines.
- huawei: DTMF `^DDTMF: 5` needs no enabling command; no on-modem player (the host writes
  PCM to the voice port); after `reboot()` it sends a single `^BOOT:` line.
- M95: SIMCom-style `+CLIP` layout and SIM800-style boot lines (Quectel 2G firmware).
- 2G families (SIM800, M95) answer `+COPS?` without the access-technology field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class ClipStyle(Enum):
    """Field layout after `<number>,<type>` in +CLIP."""

    SIMCOM = "simcom"  # +CLIP: "n",129,"",0,"alpha",0
    QUECTEL = "quectel"  # +CLIP: "n",129,,,"alpha",0
    HUAWEI = "huawei"  # +CLIP: "n",129,,,,0
    GENERIC = "generic"  # +CLIP: "n",129


class EndStyle(Enum):
    """How the family reports call ends and answers."""

    NO_CARRIER = "no_carrier"  # NO CARRIER for every end
    SIMCOM_LTE = "simcom_lte"  # VOICE CALL: BEGIN/END, MISSED_CALL
    HUAWEI = "huawei"  # ^CONN / ^CEND


@dataclass(frozen=True)
class PromptCommand:
    """An in-call playback command: OK at once, `done_urc` when the clip has played.

    `start_mode`: the first parameter that means "play" (None: any); `stop_mode`: the first
    parameter that means "stop" (e.g. `AT+CREC=5`); `arg_index`: which parameter holds the
    text or file name.
    """

    kind: str  # "tts" or "file"
    arg_index: int
    done_urc: str
    start_mode: str | None = None
    stop_mode: str | None = None
    interrupted_urc: str | None = None  # sent when the caller hangs up mid-playback
    outside_call_error: int = 3  # +CME ERROR code when no call is active


@dataclass(frozen=True)
class FamilyProfile:
    """Everything family-specific the virtual modem needs."""

    name: str
    manufacturer: str
    model: str
    revision: str
    ati: tuple[str, ...]  # "{imei}" is replaced
    clip_style: ClipStyle
    end_style: EndStyle
    urc_line_ending: bytes = b"\r\n"
    cops_act: int | None = None  # None: 2G module, no <AcT> field
    dtmf_enable: str | None = "+DDET"  # command that enables DTMF URCs; None = always on
    dtmf_urc: str = "+DTMF: {key}"  # {key} the key, {code} its ASCII code
    clcc_urcs: bool = False  # supports AT+CLCC=1 state URCs
    clcc_alpha: bool = False  # +CLCC lines end with ,"" (SIM800)
    prompts: dict[str, PromptCommand] = field(default_factory=dict)
    extra_commands: frozenset[str] = frozenset()  # vendor commands beyond the 27.007 set
    boot_lines: tuple[str, ...] = ()
    unknown_reply: str = "ERROR"
    # Call audio to the host as PCM on a second tty: the command that routes it there and
    # the first parameter value that turns it on (off is "0"). None: analogue audio only.
    host_audio_command: str | None = None
    host_audio_on: str = "1"

    @property
    def voice_port(self) -> bool:
        """True when the family has a second tty carrying the call's PCM audio."""
        return self.host_audio_command is not None


_SIMCOM_2G_BOOT = ("RDY", "+CFUN: 1", "+CPIN: READY", "Call Ready", "SMS Ready")

FAMILIES: dict[str, FamilyProfile] = {
    "sim800": FamilyProfile(
        name="sim800",
        manufacturer="SIMCOM_Ltd",
        model="SIM800",
        revision="Revision:1418B04SIM800L24",
        ati=("SIM800 R14.18",),
        clip_style=ClipStyle.SIMCOM,
        end_style=EndStyle.NO_CARRIER,
        clcc_urcs=True,
        clcc_alpha=True,
        prompts={
            "+CREC": PromptCommand("file", 1, "+CREC: 0", start_mode="4", stop_mode="5"),
            "+CTTS": PromptCommand("tts", 1, "+CTTS: 0", start_mode="2", stop_mode="0"),
        },
        extra_commands=frozenset({"+DDET", "+GSMBUSY", "+CREC", "+CTTS", "+CLTS"}),
        boot_lines=_SIMCOM_2G_BOOT,
    ),
    "sim7600": FamilyProfile(
        name="sim7600",
        manufacturer="SIMCOM INCORPORATED",
        model="SIMCOM_SIM7600E-H",
        revision="+CGMR: LE20B04SIM7600M22",
        ati=(
            "Manufacturer: SIMCOM INCORPORATED",
            "Model: SIMCOM_SIM7600E-H",
            "Revision: SIM7600M22_V1.1",
            "IMEI: {imei}",
            "+GCAP: +CGSM",
        ),
        clip_style=ClipStyle.SIMCOM,
        end_style=EndStyle.SIMCOM_LTE,
        urc_line_ending=b"\r\r\n",
        cops_act=7,
        dtmf_urc="+RXDTMF: {key}",
        clcc_urcs=True,
        prompts={
            "+CTTS": PromptCommand("tts", 1, "+CTTS: 0", start_mode="2", stop_mode="0"),
            "+CCMXPLAY": PromptCommand("file", 0, "+AUDIOSTATE: audio play stop"),
        },
        extra_commands=frozenset(
            {"+DDET", "+CTTS", "+CDTAM", "+CCMXPLAY", "+CCMXSTOP", "+CPCMREG"}
        ),
        boot_lines=("RDY", "+CPIN: READY", "SMS DONE", "PB DONE"),
        host_audio_command="+CPCMREG",
    ),
    "ec25": FamilyProfile(
        name="ec25",
        manufacturer="Quectel",
        model="EC25",
        revision="EC25EFAR06A06M4G",
        ati=("Quectel", "EC25", "Revision: EC25EFAR06A06M4G"),
        clip_style=ClipStyle.QUECTEL,
        end_style=EndStyle.NO_CARRIER,
        cops_act=7,
        dtmf_enable="+QTONEDET",
        dtmf_urc="+QTONEDET: {code}",
        prompts={
            "+QWTTS": PromptCommand(
                "tts", 3, "+QWTTS: 0", interrupted_urc="+QWTTS: 4111", outside_call_error=903
            ),
            "+QPSND": PromptCommand("file", 1, "+QPSND: 0", start_mode="1", stop_mode="0"),
        },
        extra_commands=frozenset(
            {"+QTONEDET", "+QURCCFG", "+QWTTS", "+QPSND", "+QTTS", "+QPCMV", "+QAUDMOD"}
        ),
        boot_lines=("RDY", "+CPIN: READY", "+QUSIM: 1", "+QIND: SMS DONE", "+QIND: PB DONE"),
        host_audio_command="+QPCMV",
    ),
    "m95": FamilyProfile(
        name="m95",
        manufacturer="Quectel",
        model="M95",
        revision="M95FAR02A08",
        ati=("Quectel_Ltd", "Quectel_M95", "Revision: M95FAR02A08"),
        clip_style=ClipStyle.SIMCOM,
        end_style=EndStyle.NO_CARRIER,
        dtmf_enable="+QTONEDET",
        dtmf_urc="+QTONEDET: {code}",
        prompts={
            "+QWTTS": PromptCommand(
                "tts", 3, "+QWTTS: 0", interrupted_urc="+QWTTS: 4111", outside_call_error=903
            ),
            "+QPSND": PromptCommand("file", 1, "+QPSND: 0", start_mode="1", stop_mode="0"),
        },
        extra_commands=frozenset({"+QTONEDET", "+QURCCFG", "+QWTTS", "+QPSND", "+QAUDMOD"}),
        boot_lines=_SIMCOM_2G_BOOT,
    ),
    "huawei": FamilyProfile(
        name="huawei",
        manufacturer="huawei",
        model="E173",
        revision="11.126.85.00.209",
        ati=(
            "Manufacturer: huawei",
            "Model: E173",
            "Revision: 11.126.85.00.209",
            "IMEI: {imei}",
            "+GCAP: +CGSM,+DS,+ES",
        ),
        clip_style=ClipStyle.HUAWEI,
        end_style=EndStyle.HUAWEI,
        cops_act=2,
        dtmf_enable=None,
        dtmf_urc="^DDTMF: {key}",
        extra_commands=frozenset({"^CURC", "^CVOICE", "^DDSETEX", "^DTMF", "^USSDMODE"}),
        boot_lines=("^BOOT:20483742,0,0,0,72",),
        unknown_reply="COMMAND NOT SUPPORT",
        host_audio_command="^DDSETEX",
        host_audio_on="2",
    ),
    "generic": FamilyProfile(
        name="generic",
        manufacturer="Generic",
        model="GSM MODEM",
        revision="1.0",
        ati=("GSM MODEM",),
        clip_style=ClipStyle.GENERIC,
        end_style=EndStyle.NO_CARRIER,
        extra_commands=frozenset({"+DDET"}),
    ),
}


def clip_fields(style: ClipStyle, alpha: str | None, validity: int) -> str:
    """The +CLIP fields after `<number>,<type>` for a family, with the leading comma."""
    if style is ClipStyle.SIMCOM:
        return f',"",0,"{alpha or ""}",{validity}'
    if style is ClipStyle.QUECTEL:
        return f',,,"{alpha or ""}",{validity}'
    if style is ClipStyle.HUAWEI:
        return f",,,,{validity}"
    return ""
