"""The virtual modem: one family's AT dialect and a GSM network caller, over a real pty.

The host (the appliance's real serial code) opens `VirtualModem.port` with pyserial and
cannot tell it from a modem. The simulator and tests drive the *network* side
(`incoming_call`, `caller_hangs_up`, `caller_presses`) and inject faults. Everything runs
in the running asyncio loop: every delay is `loop.call_later`, so under
`appliance.clock.VirtualTimeLoop` a 60 s call costs no real time.

Wire framing: replies are `\\r\\n<line>\\r\\n`; URCs use the family's line ending
(SIM7600: `\\r\\r\\n<line>\\r\\r\\n`). Echo is byte-for-byte as received, until `ATE0`;
a command runs at its CR, before any bytes after it are echoed.

`transcript` holds (loop time, "rx" | "tx", line) for every command line received (also
when silent or off) and every line sent; echo is left out, injected bytes are one "tx"
entry. `silent` only stops command handling: URCs (RING, ...) still flow.

Faults of the line's health checks (docs/faults.md): `silent_reset()` (a brown-out in
autobaud: settings and calls lost, no boot lines), `refused` (settings answered with an
error, e.g. `+CME ERROR: SIM not inserted`), `hung` (no replies and no URCs at all, a call
up or not), `error_to_everything` (every command answered ERROR) and `call_left_up()` (a
call already off-hook when the host opens the port, as after a restart of the host).

Faults of the caller data (one call, one row, one number): `ring_burst(n)` (bare RINGs
with no call behind them), `stale_no_carrier` (a NO CARRIER between the next call's first
RING and its +CLIP), `second_clip_number` (a second +CLIP with another number in each ring
cycle), `clip_from_ring = 2` (+CLIP only with the second RING) and `clcc_hides_number`
(AT+CLCC lists a ringing call without its number).

Prompt durations: `prompt_duration_s` if set; otherwise TTS lasts
`max(tts_min_s, tts_s_per_char * len(text))` (0.08 s/char, at least 2 s) and a file
`file_prompt_s` (4 s).
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gsmmodem.pdu import decodeSmsPdu

from .calls import (
    CallState,
    EndedBy,
    LineBusyError,
    ModemState,
    ModemUnavailableError,
    VirtualCall,
)
from .commands import (
    SMS_PROMPT,
    Command,
    CommandSyntaxError,
    Reply,
    format_error,
    split_commands,
)
from .dialect import handler_for
from .profiles import FAMILIES, EndStyle, FamilyProfile, PromptCommand, clip_fields
from .pty_link import PtyLink
from .settings import Settings
from .sound import CallerSound


@dataclass(frozen=True)
class SentSms:
    """One SMS the host sent through this modem, decoded from its PDU."""

    number: str
    text: str
    pdu: bytes


log = logging.getLogger("firmware.virtual_modem")
_voice_log = logging.getLogger("firmware.virtual_modem.voice")
_MAX_QUEUED_AUDIO_BYTES = 16_000  # half a second of PCM waiting for a host that is not reading

TRANSCRIPT_MAX = 10_000
CALL_HISTORY_MAX = 10_000
DTMF_KEYS = frozenset("0123456789*#ABCD")
_MAX_LINE_BYTES = 2048  # a real modem discards an over-long command line
_CEND_STATUS = 29  # ^CEND <end_status> seen in captured Huawei logs
_CAUSE_NORMAL, _CAUSE_NO_ANSWER = 16, 19  # 24.008 cc causes (busy, 17, is in dialect)

CallCallback = Callable[[VirtualCall], None]
PromptCallback = Callable[[VirtualCall, str], None]


class VirtualModem:
    """A modem of one family on a pseudo-terminal, with a scriptable network side."""

    def __init__(
        self,
        family: str = "sim800",
        *,
        name: str = "vm0",
        imei: str = "356938035643809",
        ring_interval_s: float = 5.0,
        no_reply_s: float | None = None,
        line_ending: bytes | None = None,
        operator: str = "TELKOMSEL",
        signal: int = 20,
        seed: int | None = None,
    ) -> None:
        if family not in FAMILIES:
            raise ValueError(f"unknown modem family {family!r}; known: {sorted(FAMILIES)}")
        self.profile: FamilyProfile = FAMILIES[family]
        self.family = family
        self.name = name
        self.imei = imei
        self.ring_interval_s = ring_interval_s
        self.ring_jitter_s = 0.0  # uniform +- jitter on each ring period
        self.no_reply_s = no_reply_s  # network no-answer timer; None: ring until caller quits
        self.urc_line_ending = line_ending or self.profile.urc_line_ending
        # Health values the host polls; tests may change them at any time.
        self.operator = operator
        self.signal = signal
        self.registration = 1  # +CREG <stat>: 1 home, 5 roaming, 2 searching, 3 denied
        self.sim_status = "READY"  # +CPIN: READY | SIM PIN | NOT INSERTED
        # Behaviour knobs.
        self.deflect_supported = True  # False: AT+CTFR -> +CME ERROR: 3 (not provisioned)
        # Call forwarding (AT+CCFC) the network keeps for this SIM: reason -> (number,
        # no-reply seconds). Never forwards a call here: it is what the line registered.
        self.forwarding: dict[int, tuple[str, int]] = {}
        self.cend_fields = 4  # Huawei ^CEND with (4) or without (3) the cc_cause field
        self.prompt_duration_s: float | None = None
        self.file_prompt_s = 4.0
        self.tts_s_per_char = 0.08
        self.tts_min_s = 2.0
        self.dtmf_tone_ms = 100
        # Call audio on the voice port: a real modem sends a 20 ms frame every 20 ms; a
        # simulation may send bigger chunks less often (the host must cope with both).
        self.audio_chunk_s = 0.02
        # Faults.
        self.split_writes = False  # every line in 2-3 chunks, 1-5 ms (loop time) apart
        self.clip_delay_s = 0.0  # gap between RING and +CLIP
        self.urc_inside_next_reply = False  # next reply wraps URCs between info and OK
        self.urc_hold_max_s = 5.0  # how long a held reply/URC waits for its partner
        self.silent = False  # read and drop commands, answer nothing
        self.hung = False  # firmware hang: no echo, no replies and no URCs at all
        self.error_to_everything = False  # every command line is answered ERROR
        # Settings refused: command name ("+CLIP") -> the final result its set form gets.
        self.refused: dict[str, str] = {}
        # Faults of the caller data (one call, one row, one number: docs/faults.md).
        self.clip_from_ring = 1  # +CLIP only from this RING of a call on (2: late +CLIP)
        self.second_clip_number: str | None = None  # each +CLIP followed by one for this
        self.stale_no_carrier = False  # one-shot: a NO CARRIER between the next RING and +CLIP
        self.clcc_hides_number = False  # AT+CLCC lists a ringing call without its number
        # Callbacks for the simulator; run via loop.call_soon, after the reply is written.
        self.on_answered: CallCallback | None = None
        self.on_prompt_started: PromptCallback | None = None
        self.on_prompt_finished: CallCallback | None = None
        self.on_ended: CallCallback | None = None
        self.clock: Callable[[], datetime] | None = None  # wall clock for MISSED_CALL lines
        self.network_time = True  # the network sends its time (AT+CCLK? reports `clock`)
        # Records for tests and the simulator.
        self.transcript: deque[tuple[float, str, str]] = deque(maxlen=TRANSCRIPT_MAX)
        self.calls: deque[VirtualCall] = deque(maxlen=CALL_HISTORY_MAX)
        self.settings = Settings()
        self.sms_sent: list[SentSms] = []  # SMS the host sent (AT+CMGS), decoded
        self._sms_data: bytearray | None = None  # collecting a PDU after "> "
        self._rng = random.Random(seed)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._link: PtyLink | None = None
        self._voice: PtyLink | None = None
        self._plugged = False
        self._powered = False
        self._cfun = 1
        self._live: list[VirtualCall] = []
        self._rx_buffer = bytearray()
        self._held_urcs: list[str] = []
        self._held_reply: Reply | None = None
        self._hold_timer: asyncio.TimerHandle | None = None
        self._boot_timer: asyncio.TimerHandle | None = None

    # ----------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Create the ptys (AT, and voice where the family has one) in the loop; no boot lines."""
        if self._loop is not None:
            raise RuntimeError(f"{self.name}: already started")
        self._loop = asyncio.get_running_loop()
        self._open_links(avoid=())
        log.info("%s: %s virtual modem on %s", self.name, self.family, self.port)

    def close(self) -> None:
        """Release the ptys and timers. Live calls end (network) without callbacks."""
        self._power_off(notify=False)
        self._close_links()

    def reboot(self, delay_s: float = 2.0, *, end_lines: bool = False) -> None:
        """Drop calls, reset settings, go deaf for `delay_s`, then send the boot lines.
        `end_lines`: first report each live call ended (`NO CARRIER`, ...), as some
        firmware does as it resets."""
        self._require_plugged()
        if end_lines:
            lines = [
                line
                for call in self._live
                for line in self._remote_end_lines(call, EndedBy.NETWORK)
            ]
            self._emit_urcs(lines)
        self._power_off(notify=True)
        self._boot_timer = self.loop.call_later(delay_s, self._boot)

    def silent_reset(self) -> None:
        """Reset without a word (a SIM800 in autobaud after a brown-out): calls drop with
        no end lines, every setting is lost (+CLIP, +CRC, DTMF detection, echo comes back),
        and no boot line is printed; the modem answers again at once."""
        self._require_plugged()
        self._power_off(notify=True)
        self._powered = True
        log.info("%s: silent reset", self.name)

    def call_left_up(self, number: str | None = "081234567890") -> VirtualCall:
        """A call already connected (off-hook) before the host opened the port: what a
        restarted host finds when it was killed mid-call and the modem kept the call."""
        if not self.is_up:
            raise ModemUnavailableError(f"{self.name}: modem is not up")
        call = VirtualCall(
            number=number,
            number_type=145 if number and number.startswith("+") else 129 if number else 128,
            validity=0 if number else 1,
            alpha=None,
            call_id=self._free_call_id(),
            started_at=self.loop.time(),
        )
        self._adopt(call)
        call.state = CallState.ACTIVE
        call.answered_at = self.loop.time()
        return call

    def unplug(self) -> None:
        """Close master and slave: the host's read hits EOF/hang-up, writes fail with EIO."""
        if not self._plugged:
            return
        self._power_off(notify=True)
        self._close_links()
        log.info("%s: unplugged", self.name)

    async def replug(self, *, send_boot_lines: bool = True) -> str:
        """Come back on a new pty path with default settings and fresh byte counters.

        The boot lines go out at once, usually before the host has reopened the port;
        pyserial's `open()` flushes its input, so a host may never see them (as with a real
        USB modem). `send_boot_lines=False` leaves them out altogether.
        """
        if self._plugged:
            raise RuntimeError(f"{self.name}: still plugged in")
        old = tuple(link.path for link in (self._link, self._voice) if link is not None)
        self._open_links(avoid=old)
        if send_boot_lines:
            self._emit_urcs(list(self.profile.boot_lines))
        log.info("%s: replugged on %s", self.name, self.port)
        await asyncio.sleep(0)
        return self.port

    # ----------------------------------------------------------------- read-only views

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The loop the modem runs in (set by `start`)."""
        if self._loop is None:
            raise ModemUnavailableError(f"{self.name}: not started")
        return self._loop

    @property
    def port(self) -> str:
        """The slave path the host opens (changes on replug)."""
        if self._link is None:
            raise ModemUnavailableError(f"{self.name}: not started")
        return self._link.path

    @property
    def voice_port(self) -> str | None:
        """Huawei only: the PCM audio tty path; None for other families."""
        return self._voice.path if self._voice is not None else None

    @property
    def bytes_received(self) -> int:
        """Bytes the host wrote that the modem has read, on the current port."""
        return self._link.bytes_received if self._link is not None else 0

    @property
    def bytes_sent(self) -> int:
        """Bytes the modem has written for the host to read, on the current port."""
        return self._link.bytes_sent if self._link is not None else 0

    @property
    def voice_bytes_unread(self) -> int:
        """Caller audio sent on the voice port that the host has not read yet."""
        return self._voice.unread_bytes if self._voice is not None else 0

    @property
    def voice_bytes_received(self) -> int:
        """PCM bytes the host wrote to the voice port."""
        return self._voice.bytes_received if self._voice is not None else 0

    @property
    def is_up(self) -> bool:
        """Plugged in and powered (not rebooting)."""
        return self._plugged and self._powered

    @property
    def state(self) -> ModemState:
        """idle, ringing (a call alerting) or active (a call connected)."""
        if self._find(CallState.ACTIVE) is not None:
            return ModemState.ACTIVE
        if self._find(CallState.RINGING) is not None:
            return ModemState.RINGING
        return ModemState.IDLE

    @property
    def live_calls(self) -> list[VirtualCall]:
        """Calls not yet ended, oldest first."""
        return list(self._live)

    # ----------------------------------------------------------------- network side

    def incoming_call(
        self,
        number: str | None,
        number_type: int | None = None,
        validity: int | None = None,
        alpha: str | None = None,
        sound: CallerSound | None = None,
    ) -> VirtualCall:
        """A caller dials this line: ringing starts now (or +CCWA behind an active call).

        `sound` is what the caller's microphone picks up once answered (default: a quiet
        room); it reaches the host on the voice port while host audio is switched on.

        Raises ModemUnavailableError when the modem is down and LineBusyError when a call
        is in progress without call waiting (both are RuntimeErrors).
        """
        if not self.is_up:
            raise ModemUnavailableError(f"{self.name}: modem is not up")
        number = number or None
        if validity is None:
            validity = 0 if number else 1
        if number_type is None:
            number_type = 128 if not number else 145 if number.startswith("+") else 129
        call = VirtualCall(
            number=number,
            number_type=number_type,
            validity=validity,
            alpha=alpha,
            call_id=self._free_call_id(),
            started_at=self.loop.time(),
        )
        if sound is not None:
            call.sound = sound
        if self._live:
            return self._call_waiting(call)
        self._adopt(call)
        if self.settings.gsmbusy:
            self._finish(call, EndedBy.HOST, "AT+GSMBUSY")
            return call
        self._start_alerting(call)
        return call

    def caller_hangs_up(self, call: VirtualCall | None = None) -> None:
        """The caller hangs up (active) or gives up ringing; default: the oldest live call."""
        if call is None:
            call = self._live[0] if self._live else None
        if call is None or not call.live:
            log.debug("%s: caller_hangs_up with no live call", self.name)
            return
        self._end_by_remote(call, EndedBy.CALLER)

    def caller_presses(self, keys: str, gap_s: float = 0.3) -> None:
        """The caller of the active call presses `keys`, one every `gap_s` from now."""
        unknown = set(keys) - DTMF_KEYS
        if unknown:
            raise ValueError(f"not DTMF keys: {sorted(unknown)}")
        call = self._find(CallState.ACTIVE)
        if call is None:
            log.info("%s: keys %r pressed with no active call: ignored", self.name, keys)
            return
        for index, key in enumerate(keys):
            self._call_later(call, index * gap_s, self._press, call, key)

    # ----------------------------------------------------------------- faults

    def ring_burst(self, rings: int) -> None:
        """`rings` bare RING lines at once, with no call behind them and no +CLIP (a noisy
        line or a confused firmware: 10,000 a second were seen); the modem stays idle."""
        self.inject(b"\r\nRING\r\n" * rings)

    def inject(self, data: bytes) -> None:
        """Write raw bytes to the host now (garbage, 0xFF, half lines)."""
        if self._link is None:
            return
        self.transcript.append((self.loop.time(), "tx", data.decode("latin-1")))
        self._link.send([(0.0, data)])

    # ----------------------------------------------------------------- host bytes in

    def _on_host_data(self, data: bytes) -> None:
        if self._sms_data is not None:
            data = self._take_sms_data(data)
            if not data:
                return
        # A real modem echoes each character as it arrives and runs a command at its CR,
        # before it sees what follows: so "ATE0\rAT\r" in one read echoes only "ATE0\r".
        for segment in re.split(b"(?<=\r)", data):
            if not segment:
                continue
            if self.is_up and not self.silent and not self.hung and self.settings.echo:
                self._write(segment)
            self._rx_buffer += segment
            if segment.endswith(b"\r"):
                line = self._rx_buffer.decode("latin-1").strip()
                self._rx_buffer.clear()
                if line:
                    self._on_command_line(line)
        if len(self._rx_buffer) > _MAX_LINE_BYTES:
            log.warning("%s: discarding %d bytes without CR", self.name, len(self._rx_buffer))
            self._rx_buffer.clear()

    def _on_command_line(self, line: str) -> None:
        self.transcript.append((self.loop.time(), "rx", line))
        if not self.is_up or self.silent or self.hung:
            log.debug("%s: dropped %r (silent, hung or down)", self.name, line)
            return
        if self.error_to_everything:
            self._write_lines(["ERROR"], urc=False)
            return
        if self._held_reply is not None:
            self._release_held()  # host did not wait for the final result: flush it first
        if line[:2].upper() != "AT":
            log.debug("%s: ignored non-AT line %r", self.name, line)
            return
        self._send_reply(self._execute(line[2:]))

    def _execute(self, body: str) -> Reply:
        try:
            commands = split_commands(body)
        except CommandSyntaxError:
            return Reply(final="ERROR")
        reply = Reply()
        for command in commands:
            handler = handler_for(self.profile, command.name)
            if handler is None:
                reply.final = self.profile.unknown_reply
                break
            if command.op == "=" and command.name in self.refused:
                reply.final = self.refused[command.name]
                break
            reply.extend(handler(self, command))
            if reply.final != "OK":
                break
        return reply

    def _on_voice_data(self, data: bytes) -> None:
        call = self._find(CallState.ACTIVE)
        if call is not None:
            call.voice_bytes += len(data)

    # ----------------------------------------------------------------- bytes out

    def _write(self, data: bytes) -> None:
        if self._link is None:
            return
        if not self.split_writes or len(data) < 2:
            self._link.send([(0.0, data)])
            return
        pieces = self._rng.randint(2, min(3, len(data)))
        cuts = sorted(self._rng.sample(range(1, len(data)), pieces - 1))
        bounds = [0, *cuts, len(data)]
        self._link.send(
            (0.0 if i == 0 else self._rng.uniform(0.001, 0.005), data[bounds[i] : bounds[i + 1]])
            for i in range(len(bounds) - 1)
        )

    def _write_lines(self, lines: list[str], *, urc: bool) -> None:
        ending = self.urc_line_ending if urc else b"\r\n"
        now = self.loop.time()
        for line in lines:
            self.transcript.append((now, "tx", line))
            self._write(ending + line.encode() + ending)

    def _emit_urcs(self, lines: list[str]) -> None:
        """Send unsolicited lines as one burst (or hold them for urc_inside_next_reply)."""
        if not lines or not self.is_up or self.hung:
            return
        if self.urc_inside_next_reply:
            self._held_urcs += lines
            if self._held_reply is not None:
                self._release_held()
            else:
                self._arm_hold()
            return
        self._write_lines(lines, urc=True)

    def _send_reply(self, reply: Reply) -> None:
        self._write_lines(reply.lines, urc=False)
        if not self.urc_inside_next_reply:
            self._finish_reply(reply)
            return
        self._held_reply = reply
        if self._held_urcs:
            self._release_held()
        else:
            self._arm_hold()

    def _finish_reply(self, reply: Reply) -> None:
        final = reply.final
        if final == SMS_PROMPT:  # AT+CMGS: no result yet, the data block comes first
            self._sms_data = bytearray()
            self._write(b"\r\n> ")
            return
        if isinstance(final, int):
            final = format_error(final, self.settings.cmee)
        self._write_lines(reply.urcs_before, urc=True)
        self._write_lines([final], urc=False)
        self._write_lines(reply.urcs_after, urc=True)

    def _arm_hold(self) -> None:
        if self._hold_timer is None:
            self._hold_timer = self.loop.call_later(self.urc_hold_max_s, self._release_held)

    def _release_held(self) -> None:
        """Write held URCs, then the held reply's final result; the fault is one-shot."""
        self._cancel_hold()
        urcs, self._held_urcs = self._held_urcs, []
        reply, self._held_reply = self._held_reply, None
        self.urc_inside_next_reply = False
        self._write_lines(urcs, urc=True)
        if reply is not None:
            self._finish_reply(reply)

    def _cancel_hold(self) -> None:
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None

    # ----------------------------------------------------------------- call machinery

    def _adopt(self, call: VirtualCall) -> None:
        self.calls.append(call)
        self._live.append(call)

    def _find(self, state: CallState) -> VirtualCall | None:
        return next((call for call in self._live if call.state is state), None)

    def _find_id(self, call_id: int) -> VirtualCall | None:
        return next((call for call in self._live if call.call_id == call_id), None)

    def _free_call_id(self) -> int:
        used = {call.call_id for call in self._live}
        return next(i for i in range(1, 8) if i not in used)

    def _call_later(
        self, call: VirtualCall, delay_s: float, fn: Callable[..., Any], *args: Any
    ) -> None:
        now = self.loop.time()
        call.timers = [h for h in call.timers if not h.cancelled() and h.when() > now]
        call.timers.append(self.loop.call_later(delay_s, fn, *args))

    def _notify(self, callback: Callable[..., None] | None, *args: Any) -> None:
        if callback is not None:
            self.loop.call_soon(callback, *args)

    def _call_waiting(self, call: VirtualCall) -> VirtualCall:
        busy = any(c.state is not CallState.ACTIVE for c in self._live)
        if busy or not self.settings.ccwa:
            raise LineBusyError(f"{self.name}: a call is already in progress")
        self._adopt(call)
        call.state = CallState.WAITING
        self._wait_tick(call)
        self._arm_no_reply(call)
        return call

    def _wait_tick(self, call: VirtualCall) -> None:
        if call.state is not CallState.WAITING:
            return
        call.rings += 1
        self._emit_urcs([f'+CCWA: "{call.number or ""}",{call.number_type},1'])
        self._call_later(call, self._ring_period(), self._wait_tick, call)

    def _start_alerting(self, call: VirtualCall) -> None:
        call.state = CallState.RINGING
        self._ring(call, first=True)
        self._arm_no_reply(call)

    def _arm_no_reply(self, call: VirtualCall) -> None:
        if self.no_reply_s is not None:
            self._call_later(call, self.no_reply_s, self._no_reply, call)

    def _ring_period(self) -> float:
        jitter = self._rng.uniform(-self.ring_jitter_s, self.ring_jitter_s)
        return max(0.1, self.ring_interval_s + jitter)

    def _ring(self, call: VirtualCall, first: bool = False) -> None:
        if call.state is not CallState.RINGING:
            return
        call.rings += 1
        lines = ["+CRING: VOICE" if self.settings.crc else "RING"]
        if first and self.stale_no_carrier:
            self.stale_no_carrier = False
            lines.append("NO CARRIER")  # left over from an earlier call, delivered late
        clip = self.settings.clip and call.rings >= self.clip_from_ring
        if clip and self.clip_delay_s > 0:
            self._call_later(call, self.clip_delay_s, self._emit_clip, call)
        elif clip:
            lines += self._clip_lines(call)
        if first and self.settings.clcc_urcs:
            lines.append(self._clcc_line(call))
        self._emit_urcs(lines)
        self._call_later(call, self._ring_period(), self._ring, call)

    def _emit_clip(self, call: VirtualCall) -> None:
        if call.state is CallState.RINGING:
            self._emit_urcs(self._clip_lines(call))

    def _clip_lines(self, call: VirtualCall) -> list[str]:
        """The call's +CLIP, and a second one with another number (`second_clip_number`)."""
        lines = [self._clip_line(call)]
        if self.second_clip_number is not None:
            other = VirtualCall(self.second_clip_number, 129, 0, None, call.call_id, 0.0)
            lines.append(self._clip_line(other))
        return lines

    def _no_reply(self, call: VirtualCall) -> None:
        if call.state in (CallState.RINGING, CallState.WAITING):
            self._end_by_remote(call, EndedBy.NETWORK)

    def _press(self, call: VirtualCall, key: str) -> None:
        if call.state is not CallState.ACTIVE:
            return
        call.keys_pressed += key
        if self.profile.dtmf_enable is not None and not self.settings.dtmf:
            log.info("%s: key %s not reported: DTMF detection is off", self.name, key)
            return
        call.keys_reported += key
        line = self.profile.dtmf_urc.format(key=key, code=ord(key))
        if self.settings.dtmf_duration:
            line += f",{self.dtmf_tone_ms}"
        self._emit_urcs([line])

    def _answer(self, call: VirtualCall) -> Reply:
        """Connect `call`; the reply carries the family's connect lines."""
        call.cancel_timers()
        call.state = CallState.ACTIVE
        call.answered_at = self.loop.time()
        reply = Reply()
        if self.profile.end_style is EndStyle.SIMCOM_LTE:
            reply.urcs_before.append("VOICE CALL: BEGIN")
        elif self.profile.end_style is EndStyle.HUAWEI:
            reply.urcs_after.append(f"^CONN:{call.call_id},0")
        if self.settings.clcc_urcs:
            reply.urcs_after.append(self._clcc_line(call))
        self._notify(self.on_answered, call)
        return reply

    def _release_by_host(
        self, call: VirtualCall, release: str, cause: int = _CAUSE_NORMAL
    ) -> Reply:
        """End `call` on the host's command; the reply carries the family's end lines."""
        reply = Reply()
        style = self.profile.end_style
        if style is EndStyle.SIMCOM_LTE and call.state is CallState.ACTIVE:
            reply.urcs_before.append(f"VOICE CALL: END: {self._duration_text(call)}")
        elif style is EndStyle.HUAWEI:
            reply.urcs_after.append(self._cend_line(call, cause))
        if self.settings.clcc_urcs:
            reply.urcs_after.append(self._clcc_line(call, stat=6))
        self._finish(call, EndedBy.HOST, release)
        return reply

    def _end_by_remote(self, call: VirtualCall, by: EndedBy) -> None:
        lines: list[str] = []
        spec = self.profile.prompts.get(call.playing or "")
        if spec is not None and spec.interrupted_urc:
            lines.append(spec.interrupted_urc)
        if self.settings.clcc_urcs:
            lines.append(self._clcc_line(call, stat=6))
        lines += self._remote_end_lines(call, by)
        self._finish(call, by, None)
        self._emit_urcs(lines)

    def _remote_end_lines(self, call: VirtualCall, by: EndedBy) -> list[str]:
        style = self.profile.end_style
        if call.state is CallState.WAITING:
            return [self._cend_line(call, _CAUSE_NORMAL)] if style is EndStyle.HUAWEI else []
        if style is EndStyle.HUAWEI:
            no_answer = by is EndedBy.NETWORK and call.state is CallState.RINGING
            return [self._cend_line(call, _CAUSE_NO_ANSWER if no_answer else _CAUSE_NORMAL)]
        if style is EndStyle.SIMCOM_LTE:
            if call.state is CallState.RINGING:  # captured log: no NO CARRIER after this
                return [f"MISSED_CALL: {self._clock_text()} {call.number or ''}".rstrip()]
            return [f"VOICE CALL: END: {self._duration_text(call)}", "NO CARRIER"]
        return ["NO CARRIER"]

    def _finish(
        self, call: VirtualCall, by: EndedBy, release: str | None, *, notify: bool = True
    ) -> None:
        call.cancel_timers()
        call.state = CallState.ENDED
        call.ended_at = self.loop.time()
        call.ended_by = by
        call.release = release
        self._live.remove(call)
        log.debug("%s: call %d ended by %s (%s)", self.name, call.call_id, by, release)
        if notify:
            self._notify(self.on_ended, call)
            # A waiting call starts ringing once the line is free (after the end lines).
            self.loop.call_soon(self._promote_waiting)

    def _promote_waiting(self) -> None:
        waiting = self._find(CallState.WAITING)
        if waiting is None or len(self._live) > 1 or not self.is_up:
            return
        waiting.cancel_timers()
        self._start_alerting(waiting)

    def _play(self, command: Command, spec: PromptCommand) -> Reply:
        """Start an in-call prompt: OK now, the completion URC after its duration."""
        params = command.params()
        mode = params[0] if params else ""
        if command.op == "=?":
            return Reply()
        if spec.stop_mode is not None and mode == spec.stop_mode:
            self._stop_prompt()
            return Reply()
        if command.op != "=" or len(params) <= spec.arg_index:
            return Reply(final="ERROR")
        if spec.start_mode is not None and mode != spec.start_mode:
            return Reply(final="ERROR")
        call = self._find(CallState.ACTIVE)
        if call is None:
            return Reply(final=spec.outside_call_error)
        text = params[spec.arg_index]
        call.stop_prompt()  # a new prompt replaces the one in play, without completion
        call.prompts.append(text)
        call.playing = command.name
        duration_s = self._prompt_duration(spec, text)
        call.prompt_timer = self.loop.call_later(duration_s, self._prompt_done, call, spec)
        self._notify(self.on_prompt_started, call, text)
        return Reply()

    def _take_sms_data(self, data: bytes) -> bytes:
        """Collect an SMS PDU after the "> " prompt until Ctrl-Z (send) or ESC (cancel);
        returns the bytes that follow it, which are commands again."""
        assert self._sms_data is not None
        for index, byte in enumerate(data):
            if byte in (0x1A, 0x1B):
                block, self._sms_data = bytes(self._sms_data), None
                self._write_lines(self._sms_result(block, cancelled=byte == 0x1B), urc=False)
                return data[index + 1 :]
            self._sms_data.append(byte)
        return b""

    def _sms_result(self, block: bytes, *, cancelled: bool) -> list[str]:
        if cancelled:
            return ["OK"]
        try:
            decoded = decodeSmsPdu(block.decode("ascii").strip())
        except Exception as exc:  # the host sent a bad PDU: the modem says so, as a real one
            log.info("%s: bad SMS PDU %r: %s", self.name, block[:40], exc)
            return ["+CMS ERROR: 304" if self.settings.cmee else "ERROR"]
        self.sms_sent.append(SentSms(str(decoded["number"]), str(decoded["text"]), block))
        return [f"+CMGS: {len(self.sms_sent) % 256}", "OK"]

    def _host_audio(self, on: bool) -> bool:
        """Route call audio to the voice port (or back); False if it cannot be done now.

        The setting lasts for the call in progress: hosts send it again on every call
        (chan_dongle and chan_quectel do), and the virtual modem forgets it at the call's
        end so no audio flows to nobody between calls.
        """
        call = self._find(CallState.ACTIVE)
        if call is None or self._voice is None:
            return not on or self.profile.host_audio_command != "^DDSETEX"
        if on and call.audio_timer is None:
            self._send_audio(call)
        elif not on:
            call.stop_audio()
        return True

    def _send_audio(self, call: VirtualCall) -> None:
        """Send the next chunk of the caller's sound and schedule the one after."""
        call.audio_timer = None
        voice = self._voice
        if call.state is not CallState.ACTIVE or voice is None or voice.closed:
            return
        chunk = call.sound.next_chunk(self.audio_chunk_s)
        # Nobody reading: a real UART drops the audio; so do we, without a warning per chunk.
        if voice.queued_bytes < _MAX_QUEUED_AUDIO_BYTES:
            voice.send([(0.0, chunk)])
            call.audio_bytes_sent += len(chunk)
        call.audio_timer = self.loop.call_later(self.audio_chunk_s, self._send_audio, call)

    def _stop_prompt(self) -> None:
        call = self._find(CallState.ACTIVE)
        if call is not None:
            call.stop_prompt()

    def _prompt_duration(self, spec: PromptCommand, text: str) -> float:
        if self.prompt_duration_s is not None:
            return self.prompt_duration_s
        if spec.kind == "tts":
            return max(self.tts_min_s, self.tts_s_per_char * len(text))
        return self.file_prompt_s

    def _prompt_done(self, call: VirtualCall, spec: PromptCommand) -> None:
        call.prompt_timer = None
        call.playing = None
        if call.state is CallState.ACTIVE:
            self._emit_urcs([spec.done_urc])
            self._notify(self.on_prompt_finished, call)

    # ----------------------------------------------------------------- line formats

    def _clip_line(self, call: VirtualCall) -> str:
        fields = clip_fields(self.profile.clip_style, call.alpha, call.validity)
        return f'+CLIP: "{call.number or ""}",{call.number_type}{fields}'

    def _clcc_line(self, call: VirtualCall, stat: int | None = None) -> str:
        if stat is None:
            stat = {CallState.ACTIVE: 0, CallState.WAITING: 5}.get(call.state, 4)
        alpha = ',""' if self.profile.clcc_alpha else ""
        number = call.number or ""
        if self.clcc_hides_number and call.state is CallState.RINGING:
            return f"+CLCC: {call.call_id},1,{stat},0,0"
        return f'+CLCC: {call.call_id},1,{stat},0,0,"{number}",{call.number_type}{alpha}'

    def _cend_line(self, call: VirtualCall, cause: int) -> str:
        duration = self._duration_s(call)
        line = f"^CEND:{call.call_id},{duration},{_CEND_STATUS}"
        return f"{line},{cause}" if self.cend_fields >= 4 else line

    def _duration_s(self, call: VirtualCall) -> int:
        if call.answered_at is None:
            return 0
        return round(self.loop.time() - call.answered_at)

    def _duration_text(self, call: VirtualCall) -> str:
        seconds = self._duration_s(call)
        return f"{seconds // 3600:02d}{seconds // 60 % 60:02d}{seconds % 60:02d}"

    def _clock_text(self) -> str:
        """Time of day as SIM7600 prints it in MISSED_CALL (e.g. 08:48AM)."""
        if self.clock is not None:
            return self.clock().strftime("%I:%M%p")
        seconds = int(self.loop.time()) % 86400  # no wall clock given: loop time of day
        hour, minute = seconds // 3600, seconds // 60 % 60
        return f"{(hour % 12) or 12:02d}:{minute:02d}{'AM' if hour < 12 else 'PM'}"

    # ----------------------------------------------------------------- power

    def _reset_settings(self) -> None:
        self.settings = Settings()

    def _power_off(self, *, notify: bool) -> None:
        """The modem loses power: calls drop silently, settings and buffers are lost."""
        for call in list(self._live):
            self._finish(call, EndedBy.NETWORK, None, notify=notify)
        self._powered = False
        self._reset_settings()
        self._cfun = 1
        self._rx_buffer.clear()
        self._cancel_hold()
        self._held_urcs.clear()
        self._held_reply = None
        if self._boot_timer is not None:
            self._boot_timer.cancel()
            self._boot_timer = None

    def _boot(self) -> None:
        self._boot_timer = None
        self._powered = True
        log.info("%s: booted", self.name)
        self._emit_urcs(list(self.profile.boot_lines))

    def _require_plugged(self) -> None:
        if not self._plugged:
            raise ModemUnavailableError(f"{self.name}: not plugged in")

    def _open_links(self, avoid: tuple[str, ...]) -> None:
        self._link = self._new_link(f"{self.name}", self._on_host_data, log, avoid)
        if self.profile.voice_port:
            self._voice = self._new_link(
                f"{self.name}-voice", self._on_voice_data, _voice_log, avoid
            )
        self._plugged = True
        self._powered = True
        self._reset_settings()

    def _new_link(
        self,
        tag: str,
        on_data: Callable[[bytes], None],
        logger: logging.Logger,
        avoid: tuple[str, ...],
    ) -> PtyLink:
        link = PtyLink(self.loop, tag, on_data, logger)
        if link.path in avoid:  # like ttyUSB renumbering: never come back on the old path
            other = PtyLink(self.loop, tag, on_data, logger)
            link.close()
            link = other
        return link

    def _close_links(self) -> None:
        self._plugged = False
        self._powered = False
        for link in (self._link, self._voice):
            if link is not None:
                link.close()
