"""Modem family adapters: which AT commands each modem family needs for our call flow.

A family turns an intent (initialise, reject, answer, play a prompt, deflect) into the
command string that family understands; the line layer sends it on its `ATChannel`.
Families hold no state and do no I/O, except `stream_pcm_prompt`, the host-side player
for Huawei sticks, which have no on-modem player. Dialects follow
`docs/modems.md` (§a dialogues, §b timing); choices that are
inferred rather than documented are marked "unverified" where they are made.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import re
import struct
import unicodedata
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import serial

logger = logging.getLogger(__name__)

RejectMethod = Literal["hangup", "chup", "busy"]

# Prompt files live on the modem's flash and are named in config: keep them to a safe
# alphabet so they can never break out of the quoted AT string or walk directories.
_SAFE_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_DIAL_NUMBER = re.compile(r"^\+?[0-9*#]{1,40}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


@dataclass(frozen=True)
class Prompt:
    """An in-call announcement: `text` for modem TTS, `file` (on the modem's flash) if recorded.

    `duration_s` is how long it plays; the line layer uses it as a fallback when a
    family reports no end of playback. `file` is a bare file name such as `tekan5.amr`.
    """

    name: str
    text: str
    duration_s: float
    file: str | None = None

    def __post_init__(self) -> None:
        # Validate at config time, not when a caller is already on the line.
        if self.file is not None and not _SAFE_FILE.match(self.file):
            raise ValueError(f"prompt {self.name!r}: unsafe file name {self.file!r}")
        if not self.duration_s >= 0:
            raise ValueError(f"prompt {self.name!r}: duration_s must be >= 0")


def at_text(text: str) -> str:
    """`text` made safe inside a double-quoted AT string argument.

    Modem TTS engines take plain ASCII: accents are folded (é → e), double quotes become
    single quotes, backslashes (27.007 string escapes) and control characters are dropped,
    and runs of whitespace collapse to one space.
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = _CONTROL.sub(" ", folded.replace('"', "'").replace("\\", " "))
    return " ".join(cleaned.split())


@dataclass(frozen=True)
class SettingCheck:
    """A modem setting screening depends on, and how to read it back.

    `query` is answered by a line starting with `prefix` whose first field is `expected`
    while the setting is on (`AT+CLIP?` -> `+CLIP: 1,1`). A modem that resets forgets
    these (docs/modems.md §a): the line reads them back on every health poll and after
    anything that smells of a reset, and sends its initialisation again when one is off.
    `missing` names what the line lacks without it (shown as "degraded: ...").
    """

    query: str
    prefix: str
    expected: str
    missing: str

    def is_on(self, lines: list[str]) -> bool:
        """True when the reply `lines` show the setting on."""
        for line in lines:
            if line.startswith(self.prefix):
                fields = line.removeprefix(self.prefix).split(",")
                return fields[0].strip() == self.expected
        return False


CALLER_ID_CHECK = SettingCheck("AT+CLIP?", "+CLIP:", "1", "no_caller_id")


class ModemFamily:
    """Base adapter: plain 3GPP TS 27.007 / V.250 behaviour.

    Subclasses override class attributes for the common cases and methods for prompts.
    """

    name: str = "generic"
    description: str = "any 3GPP TS 27.007 modem (no in-call prompts)"
    # True when prompts are streamed by the host as PCM on a separate voice port (Huawei).
    host_audio: bool = False
    _hangup: str = "ATH"  # V.250 H is the one hang-up every modem knows
    # Sent right after AT+CMEE=1, before caller ID is enabled (URC routing, noise off).
    _early_init: tuple[str, ...] = ()
    # Sent after the common call-reporting commands (hang-up control, DTMF, audio path).
    _late_init: tuple[str, ...] = ()
    # Tried after init; an ERROR reply is fine (capabilities that vary by firmware).
    _optional_init: tuple[str, ...] = ()
    # Settings read back besides caller ID (see `setting_checks`).
    _checks: tuple[SettingCheck, ...] = ()

    def __repr__(self) -> str:
        return f"<ModemFamily {self.name}>"

    def init_commands(self) -> list[str]:
        """Commands to send after ATZ/ATE0, in order; each should answer OK.

        AT+CCWA=1 only turns on the +CCWA report (<n>=1) so waiting calls are seen and
        logged; it leaves the network's call-waiting setting alone, so a caller who finds
        the line busy still gets busy and the network can try another line.
        """
        common = ["AT+CLIP=1", "AT+CRC=1", "AT+CCWA=1"]
        return ["AT+CMEE=1", *self._early_init, *common, *self._late_init]

    def optional_init_commands(self) -> list[str]:
        """Commands worth sending after `init_commands` whose ERROR is tolerable."""
        return list(self._optional_init)

    def setting_checks(self) -> list[SettingCheck]:
        """The settings screening depends on, to read back: caller ID on every family,
        key detection where it must be switched on, the voice path on Huawei sticks."""
        return [CALLER_ID_CHECK, *self._checks]

    def answer_command(self) -> str:
        """Answer the alerting call."""
        return "ATA"

    def after_answer_commands(self) -> list[str]:
        """Commands to send once the call is answered (audio routing); usually none."""
        return []

    def hangup_command(self) -> str:
        """Release the call (ringing or active) the way this family does it best."""
        return self._hangup

    def reject_command(self, method: RejectMethod) -> str:
        """Release an alerting call before answering.

        `hangup` uses the family's hang-up, `chup` AT+CHUP, `busy` AT+CHLD=0 (user
        determined user busy: the caller hears busy or is forwarded on busy).
        """
        if method == "hangup":
            return self.hangup_command()
        if method == "chup":
            return "AT+CHUP"
        if method == "busy":
            return "AT+CHLD=0"
        raise ValueError(f"unknown reject method {method!r}")

    def deflect_command(self, number: str) -> str:
        """Deflect the alerting call to `number` (27.007 +CTFR; needs network support)."""
        compact = number.replace(" ", "").replace("-", "")
        if not _DIAL_NUMBER.match(compact):
            raise ValueError(f"not a dialable number: {number!r}")
        number_type = 145 if compact.startswith("+") else 129
        return f'AT+CTFR="{compact}",{number_type}'

    def play_command(self, prompt: Prompt) -> str | None:
        """Command that plays `prompt` to the caller, or None when the modem cannot."""
        return None

    def listen_commands(self) -> list[str] | None:
        """Commands, once the call is answered, that send the caller's audio to the host's
        voice port as PCM; None when the family's audio is analogue only."""
        return None

    def stop_listen_commands(self) -> list[str]:
        """Commands that give the call's audio back to the modem's own path (the operator's
        handset on the analogue side) once Siaga has stopped listening."""
        return []

    def stop_play_command(self, prompt: Prompt | None = None) -> str | None:
        """Command that stops the prompt in play (`prompt`: the one started), or None."""
        return None


class GenericFamily(ModemFamily):
    """Any other 27.007 modem: ATH, no prompts; DTMF reports tried SIMCom-style.

    27.007 has no DTMF-receive command; most unbranded modules are SIMCom clones that
    answer `AT+DDET=1` with `+DTMF:` reports, so it is tried as an optional command.
    """

    _optional_init = ("AT+DDET=1",)


class Sim800Family(ModemFamily):
    """SIMCom SIM800/SIM900 (2G): AMR files via +CREC, TTS firmware via +CTTS."""

    name = "sim800"
    description = "SIMCom SIM800/SIM900"
    # AT+CVHU=0 makes ATH release voice calls; DDET report mode 0 gives `+DTMF: <key>`.
    _late_init = ("AT+CVHU=0", "AT+DDET=1,0,0,0")
    _checks = (SettingCheck("AT+DDET?", "+DDET:", "1", "no_key_detection"),)
    # Let the network set the module's clock (read with AT+CCLK?: is the Pi's clock right?).
    _optional_init = ("AT+CLTS=1",)

    def play_command(self, prompt: Prompt) -> str | None:
        """Recorded file (mode 4 = play, channel 0 = into the call, volume 90) or TTS."""
        if prompt.file is not None:
            return f'AT+CREC=4,"C:\\User\\{prompt.file}",0,90'
        return f'AT+CTTS=2,"{at_text(prompt.text)}"'

    def stop_play_command(self, prompt: Prompt | None = None) -> str | None:
        """AT+CREC=5 stops a file, AT+CTTS=0 stops speech (file assumed if unknown)."""
        if prompt is not None and prompt.file is None:
            return "AT+CTTS=0"
        return "AT+CREC=5"


class Sim7600Family(ModemFamily):
    """SIMCom SIM7600 (LTE): CCMXPLAY files, CTTS speech routed to the remote party."""

    name = "sim7600"
    description = "SIMCom SIM7600"
    _hangup = "AT+CHUP"
    # AT+CDTAM=1 sends TTS to the remote party instead of the local speaker.
    _late_init = ("AT+DDET=1", "AT+CDTAM=1")
    _checks = (SettingCheck("AT+DDET?", "+DDET:", "1", "no_key_detection"),)
    _optional_init = ("AT+CTZU=1",)  # the network's time sets the clock (AT+CCLK?)

    def play_command(self, prompt: Prompt) -> str | None:
        """Recorded file to the remote path (1), no repeat (0), or TTS."""
        if prompt.file is not None:
            return f'AT+CCMXPLAY="C:/{prompt.file}",1,0'
        return f'AT+CTTS=2,"{at_text(prompt.text)}"'

    def stop_play_command(self, prompt: Prompt | None = None) -> str | None:
        """AT+CCMXSTOP stops a file, AT+CTTS=0 stops speech (file assumed if unknown)."""
        if prompt is not None and prompt.file is None:
            return "AT+CTTS=0"
        return "AT+CCMXSTOP"

    def listen_commands(self) -> list[str] | None:
        """AT+CPCMREG=1: call audio as 8 kHz PCM on the USB audio port (interface 4).

        chan_quectel runs SIM7600s this way. That the module's own player (CCMXPLAY, CTTS
        to the remote side) still reaches the caller while PCM is routed to USB is taken
        from SIMCom's audio notes and must be confirmed on the bench (docs/hardware.md).
        """
        return ["AT+CPCMREG=1"]

    def stop_listen_commands(self) -> list[str]:
        """AT+CPCMREG=0: audio back to the module's codec and the desk handset."""
        return ["AT+CPCMREG=0"]


class Ec25Family(ModemFamily):
    """Quectel EC25/EC21/EG25/UC20: QPSND files and QWTTS speech into the call."""

    name = "ec25"
    description = "Quectel EC25/EC21/EG25/UC20"
    _hangup = "AT+CHUP"
    # URCs must come out on the AT port we read, not the default USB modem port.
    _early_init: tuple[str, ...] = ('AT+QURCCFG="urcport","usbat"',)
    # QTONEDET is not saved and reverts on reset: init re-sends it after every boot.
    _late_init = ("AT+QTONEDET=1",)
    _checks = (SettingCheck("AT+QTONEDET?", "+QTONEDET:", "1", "no_key_detection"),)
    _optional_init = ("AT+CTZU=3",)  # the network's time, as local time, sets the clock

    def play_command(self, prompt: Prompt) -> str | None:
        """File with uplink/downlink unmuted so the caller hears it, else in-call TTS.

        A recorded file wins over text: modem TTS engines speak English/Chinese, not
        Indonesian.
        """
        if prompt.file is not None:
            return f'AT+QPSND=1,"{prompt.file}",0,1,1'
        return f'AT+QWTTS=1,1,2,"{at_text(prompt.text)}"'

    def stop_play_command(self, prompt: Prompt | None = None) -> str | None:
        """AT+QPSND=0 stops a file. In-call speech (QWTTS) has no documented stop: None,
        the line lets it run out (or hangs up)."""
        if prompt is not None and prompt.file is None:
            return None
        return "AT+QPSND=0"

    def listen_commands(self) -> list[str] | None:
        """AT+QPCMV=1,0: call audio as 8 kHz PCM on the USB NMEA port (chan_quectel)."""
        return ["AT+QPCMV=1,0"]

    def stop_listen_commands(self) -> list[str]:
        """AT+QPCMV=0: audio back to the module's codec and the desk handset."""
        return ["AT+QPCMV=0"]


class M95Family(Ec25Family):
    """Quectel M95/M66 (2G): same call URCs and QTONEDET as EC25.

    In-call playback on M95 is not verified (docs/modems.md §a): we use the Quectel
    QPSND/QWTTS dialect of the EC25 family; check `AT+QWTTS=?` on the bench. No
    AT+QURCCFG (single UART) and ATH for hang-up, as in the profile table.
    """

    name = "m95"
    description = "Quectel M95/M66"
    _hangup = "ATH"
    _early_init = ()
    _late_init = ("AT+QTONEDET=1",)

    def listen_commands(self) -> list[str] | None:
        """None: a single UART and analogue audio; the host cannot hear the call."""
        return None

    def stop_listen_commands(self) -> list[str]:
        """Nothing to give back."""
        return []


class HuaweiFamily(ModemFamily):
    """Huawei E1550/E173 sticks: no on-modem player, the host streams PCM to the voice port."""

    name = "huawei"
    description = "Huawei E1550/E173"
    host_audio = True
    _hangup = "AT+CHUP"
    # ^CURC=0 silences the periodic ^RSSI/^MODE/^BOOT/^DSFLOWRPT chatter.
    _early_init = ("AT^CURC=0",)
    # ^CVOICE: 0 means the stick's voice path (the PCM port) is enabled (docs/modems.md).
    _checks = (SettingCheck("AT^CVOICE?", "^CVOICE:", "0", "no_voice_port"),)

    def after_answer_commands(self) -> list[str]:
        """AT^DDSETEX=2 routes call audio to the voice port (320-byte s16le frames)."""
        return ["AT^DDSETEX=2"]

    def listen_commands(self) -> list[str] | None:
        """Nothing more: after AT^DDSETEX=2 the stick streams the caller's audio on the
        voice port for the whole call (it has no analogue side to give it back to)."""
        return []


_FAMILIES: dict[str, ModemFamily] = {
    family.name: family
    for family in (
        Sim800Family(),
        Sim7600Family(),
        Ec25Family(),
        M95Family(),
        HuaweiFamily(),
        GenericFamily(),
    )
}
FAMILY_NAMES: tuple[str, ...] = tuple(_FAMILIES)


def family_by_name(name: str) -> ModemFamily:
    """The family called `name` (as in config); ValueError listing the known names."""
    try:
        return _FAMILIES[name.strip().lower()]
    except KeyError:
        raise ValueError(
            f"unknown modem family {name!r}; known: {', '.join(FAMILY_NAMES)}"
        ) from None


def _reply_text(reply: str, prefix: str) -> str:
    """A CGMI/CGMM reply without its optional `+CGMI:` prefix, upper-cased."""
    text = reply.strip()
    if text.upper().startswith(prefix):
        text = text[len(prefix) :]
    return text.strip().upper()


def detect_family(cgmi: str, cgmm: str) -> ModemFamily:
    """The family for a modem from its AT+CGMI (maker) and AT+CGMM (model) replies."""
    maker = _reply_text(cgmi, "+CGMI:")
    model = _reply_text(cgmm, "+CGMM:")
    name = _detect_name(maker, model)
    if name == "generic":
        logger.warning("unknown modem %r %r: using the generic family", cgmi, cgmm)
    return _FAMILIES[name]


def _detect_name(maker: str, model: str) -> str:
    if "SIMCOM" in maker:
        if "INCORPORATED" in maker or "SIM7" in model or "SIM7" in maker:
            return "sim7600"
        if "SIM8" in model or "SIM9" in model or "SIMCOM_LTD" in maker:
            return "sim800"
    if "QUECTEL" in maker:
        if any(model_id in model for model_id in ("EC25", "EC21", "EG25", "EC20", "UC20")):
            return "ec25"
        if any(model_id in model for model_id in ("M95", "M66")):
            return "m95"
    if "HUAWEI" in maker:
        return "huawei"
    return "generic"


# ---------------------------------------------------------------------------------------
# Host-side PCM prompt (Huawei voice port)
# ---------------------------------------------------------------------------------------

PCM_RATE_HZ = 8000
PCM_FRAME_BYTES = 320  # 20 ms of s16le mono at 8 kHz (chan_dongle FRAME_SIZE)
PCM_FRAME_S = PCM_FRAME_BYTES / 2 / PCM_RATE_HZ
# Unsent audio we keep when the port stalls; older frames are dropped, never queued
# without bound (late audio is worse than a gap).
_MAX_BACKLOG_BYTES = 5 * PCM_FRAME_BYTES


def pcm_tone_frame(frequency_hz: float = 400.0, amplitude: int = 1000) -> bytes:
    """One 20 ms s16le frame of a quiet sine; 400 Hz fits 8 whole periods, so frames join
    without clicks."""
    samples = PCM_FRAME_BYTES // 2
    values = (
        round(amplitude * math.sin(2 * math.pi * frequency_hz * n / PCM_RATE_HZ))
        for n in range(samples)
    )
    return struct.pack(f"<{samples}h", *values)


def read_pcm_recording(path: str | Path) -> bytes:
    """A prompt recording for the host-side player: a WAV file of 8 kHz, mono, 16-bit PCM
    (what the Huawei voice port carries; convert with `sox in.wav -r 8000 -c 1 -b 16
    out.wav`). Raises ValueError saying what is wrong with the file."""
    try:
        with wave.open(str(path), "rb") as recording:
            rate = recording.getframerate()
            channels = recording.getnchannels()
            width = recording.getsampwidth()
            if (rate, channels, width) != (PCM_RATE_HZ, 1, 2):
                raise ValueError(
                    f"{path}: need {PCM_RATE_HZ} Hz mono 16-bit PCM, got {rate} Hz, "
                    f"{channels} channel(s), {8 * width}-bit"
                )
            return recording.readframes(recording.getnframes())
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise ValueError(f"{path}: not a PCM WAV file ({exc})") from None


async def stream_pcm_prompt(
    voice_port: str, duration_s: float, recording: bytes | None = None
) -> None:
    """Play `recording` (s16le 8 kHz mono), or a placeholder tone for `duration_s` when
    there is none, on a Huawei voice port at real-time pace.

    Frames are paced by the loop's clock against absolute deadlines (no drift, and a
    virtual-time loop plays it in virtual time). Raises pyserial's SerialException (an
    OSError) when the port cannot be opened.
    """
    port: Any = serial.Serial(voice_port, 115200, timeout=0, write_timeout=0)
    try:
        await _pace_frames(port.fileno(), _frames(duration_s, recording))
    finally:
        port.close()


async def stream_pcm_prompt_to(fd: int, duration_s: float, recording: bytes | None = None) -> None:
    """`stream_pcm_prompt` on a voice port the caller already holds open (the line's
    listener owns it during a call: one opener per port, as the port is opened exclusive)."""
    await _pace_frames(fd, _frames(duration_s, recording))


def _frames(duration_s: float, recording: bytes | None) -> list[bytes]:
    """The 20 ms frames to send: the recording (last frame padded with silence), or the
    tone for `duration_s`."""
    if recording is None:
        return [pcm_tone_frame()] * max(0, round(duration_s / PCM_FRAME_S))
    padded = recording + b"\0" * (-len(recording) % PCM_FRAME_BYTES)
    return [padded[i : i + PCM_FRAME_BYTES] for i in range(0, len(padded), PCM_FRAME_BYTES)]


async def _pace_frames(fd: int, frames: list[bytes]) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    backlog = b""
    for index, frame in enumerate(frames):
        backlog = _trim_backlog(backlog + frame)
        try:
            written = os.write(fd, backlog)
        except BlockingIOError:
            written = 0
        backlog = backlog[written:]
        await asyncio.sleep(max(0.0, start + (index + 1) * PCM_FRAME_S - loop.time()))
    if backlog:
        logger.debug("voice port stalled: %d bytes of prompt not sent", len(backlog))


def _trim_backlog(backlog: bytes) -> bytes:
    """Drop the oldest bytes beyond the backlog limit, an even count to keep s16 alignment."""
    excess = len(backlog) - _MAX_BACKLOG_BYTES
    if excess <= 0:
        return backlog
    return backlog[excess + excess % 2 :]
