"""What the virtual modem records about each call, and its states.

`VirtualCall` is the network-side record the simulator and tests read after (or during) a
call: who called, how it ended, who released it, which prompts the host played. The
states are `StrEnum`s so `call.state == "ringing"` also works for code that prefers words.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum

from .sound import CallerSound


class ModemState(StrEnum):
    """What the line is doing, from the network's point of view."""

    IDLE = "idle"
    RINGING = "ringing"
    ACTIVE = "active"


class CallState(StrEnum):
    """Life of one call: ringing (or waiting behind an active call), active, ended."""

    RINGING = "ringing"
    WAITING = "waiting"
    ACTIVE = "active"
    ENDED = "ended"


class EndedBy(StrEnum):
    """Which side ended a call."""

    CALLER = "caller"  # the remote party hung up or gave up ringing
    HOST = "host"  # the appliance released it (ATH, AT+CHUP, AT+CHLD, AT+CTFR, GSMBUSY)
    NETWORK = "network"  # no-reply timer, modem reboot or unplug


class LineBusyError(RuntimeError):
    """`incoming_call` while a call is in progress and call waiting is not enabled."""


class ModemUnavailableError(RuntimeError):
    """The modem cannot take a call: not started, unplugged or rebooting."""


@dataclass(eq=False)
class VirtualCall:
    """One call as the network saw it. Times are `loop.time()` seconds."""

    number: str | None
    number_type: int
    validity: int
    alpha: str | None
    call_id: int
    started_at: float
    state: CallState = CallState.RINGING
    rings: int = 0
    answered_at: float | None = None
    ended_at: float | None = None
    ended_by: EndedBy | None = None
    release: str | None = None  # "ATH", "AT+CHUP", "AT+CHLD=0", "AT+CTFR", "AT+GSMBUSY"
    deflected_to: str | None = None
    prompts: list[str] = field(default_factory=list)  # text or file, in play order
    keys_pressed: str = ""  # every key the caller pressed
    keys_reported: str = ""  # the keys the modem reported to the host as DTMF URCs
    tones_sent: str = ""  # keys the host sent to the caller (AT+VTS, AT^DTMF)
    voice_bytes: int = 0  # PCM bytes the host wrote to the voice port during the call
    sound: CallerSound = field(default_factory=CallerSound)  # what the caller's mic picks up
    audio_bytes_sent: int = 0  # PCM bytes of the caller's sound sent to the host
    # Pending loop timers (ring repeat, no-reply, prompt, DTMF): cancelled when the call ends.
    timers: list[asyncio.TimerHandle] = field(default_factory=list, repr=False)
    playing: str | None = field(default=None, repr=False)  # command name of the prompt in play
    prompt_timer: asyncio.TimerHandle | None = field(default=None, repr=False)
    audio_timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    @property
    def live(self) -> bool:
        """True until the call has ended."""
        return self.state is not CallState.ENDED

    def cancel_timers(self) -> None:
        """Stop everything scheduled for this call (ringing, prompts, key presses)."""
        for handle in self.timers:
            handle.cancel()
        self.timers.clear()
        self.stop_audio()
        self.stop_prompt()

    def stop_audio(self) -> None:
        """Stop streaming the caller's sound to the host."""
        if self.audio_timer is not None:
            self.audio_timer.cancel()
            self.audio_timer = None

    def stop_prompt(self) -> str | None:
        """Stop the prompt in play without completion; returns its command name, if any."""
        if self.prompt_timer is not None:
            self.prompt_timer.cancel()
            self.prompt_timer = None
        playing, self.playing = self.playing, None
        return playing
