"""The virtual modem speaks each family's AT dialect over a real pseudo-terminal.

The host side here is plain `os.read`/`os.write` on the slave path, read with
`loop.add_reader` inside `VirtualTimeLoop`, so minutes of ringing take no real time.
Each test builds its own loop (no pytest-asyncio).
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import os
import re
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import serial

from appliance.clock import VirtualTimeLoop
from firmware.virtual_modem import (
    FAMILIES,
    CallState,
    EndedBy,
    LineBusyError,
    ModemState,
    ModemUnavailableError,
    VirtualCall,
    VirtualModem,
)
from firmware.virtual_modem.commands import Command, format_error, split_commands

FINAL = re.compile(rb"\r\n(OK|ERROR|NO CARRIER|COMMAND NOT SUPPORT|\+CME ERROR: [^\r]*)\r\n")


class Host:
    """The appliance's end of the wire, reduced to raw reads and writes."""

    def __init__(self, loop: asyncio.AbstractEventLoop, path: str) -> None:
        self._loop = loop
        self.fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        self.data = bytearray()
        self.reads: list[bytes] = []
        self.written = 0
        self.mark = 0  # start of the not-yet-consumed part of `data`
        self.closed = False
        self.eof = False
        self.read_error: OSError | None = None
        self._changed = asyncio.Event()
        loop.add_reader(self.fd, self._on_readable)

    def in_flight(self, modem: VirtualModem) -> bool:
        """Bytes still in the kernel between us and the modem (keeps virtual time still)."""
        if self.closed or self.eof:
            return False
        return len(self.data) != modem.bytes_sent or self.written != modem.bytes_received

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self.fd, 4096)
        except BlockingIOError:
            return
        except OSError as exc:
            self.read_error = exc
            chunk = b""
        if not chunk:
            self.eof = True
            self._loop.remove_reader(self.fd)
        self.data += chunk
        self.reads.append(chunk)
        self._changed.set()

    def send(self, line: str) -> None:
        self.written += os.write(self.fd, line.encode() + b"\r")

    async def until(self, pattern: bytes | re.Pattern[bytes], within_s: float = 30.0) -> str:
        """Wait until `pattern` appears after the mark; return the text up to its end
        (for a plain bytes needle: up to the end of the line it is on)."""
        if isinstance(pattern, re.Pattern):
            regex = pattern
        elif pattern.endswith(b"\n"):
            regex = re.compile(re.escape(pattern))
        else:
            regex = re.compile(re.escape(pattern) + rb"[^\n]*\n")

        async def wait() -> re.Match[bytes]:
            while (match := regex.search(self.data, self.mark)) is None:
                self._changed.clear()
                await self._changed.wait()
            return match

        match = await asyncio.wait_for(wait(), within_s)
        text = self.data[self.mark : match.end()].decode("latin-1")
        self.mark = match.end()
        return text

    async def command(self, line: str) -> str:
        self.send(line)
        return await self.until(FINAL)

    def rest(self) -> str:
        """Everything received after the mark (consumes it)."""
        text = self.data[self.mark :].decode("latin-1")
        self.mark = len(self.data)
        return text

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if not self.eof:
                self._loop.remove_reader(self.fd)
            os.close(self.fd)


Scenario = Callable[[VirtualModem, Host], Awaitable[None]]


def run(scenario: Scenario, family: str = "sim800", **options: Any) -> VirtualModem:
    """Run `scenario` against a started modem and a connected host in a fresh virtual loop."""
    loop = VirtualTimeLoop(start=1000.0)
    modem = VirtualModem(family, **options)

    async def main() -> None:
        await modem.start()
        hosts = [Host(loop, modem.port)]
        loop.add_in_flight_probe(lambda: hosts[-1].in_flight(modem))
        try:
            await scenario(modem, hosts[0])
        finally:
            hosts[0].close()
            modem.close()

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return modem


def lines(text: str) -> list[str]:
    return [line for line in re.split(r"\r+\n", text) if line]


def tx_lines(modem: VirtualModem) -> list[str]:
    return [line for _, direction, line in modem.transcript if direction == "tx"]


async def ring_and_answer(
    modem: VirtualModem, host: Host, number: str = "081234567890"
) -> VirtualCall:
    await host.command("ATE0")
    await host.command("AT+CLIP=1")
    call = modem.incoming_call(number)
    await host.until(b"+CLIP:")
    await host.command("ATA")
    await asyncio.sleep(0.01)
    host.rest()  # Huawei's ^CONN follows the OK
    return call


# ------------------------------------------------------------------------ parsing


def test_split_commands_handles_basic_extended_and_concatenated() -> None:
    assert split_commands("E0+CLIP=1;+CRC=1") == [
        Command("E", "", "0"),
        Command("+CLIP", "=", "1"),
        Command("+CRC", "=", "1"),
    ]
    assert split_commands("+CREG?") == [Command("+CREG", "?")]
    assert split_commands("^CVOICE?") == [Command("^CVOICE", "?")]
    assert split_commands("&F") == [Command("&F")]
    assert split_commands("S0=0") == [Command("S0", "=", "0")]
    assert split_commands('+CTTS=2,"a;b, c"')[0].params() == ["2", "a;b, c"]


def test_cme_error_styles_follow_cmee() -> None:
    assert format_error(3, 0) == "ERROR"
    assert format_error(3, 1) == "+CME ERROR: 3"
    assert format_error(3, 2) == "+CME ERROR: operation not allowed"


# ------------------------------------------------------------------------ dialect


def test_echo_is_on_until_ate0() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        assert await host.command("AT") == "AT\r\r\nOK\r\n"
        assert await host.command("ATE0") == "ATE0\r\r\nOK\r\n"
        assert await host.command("AT") == "\r\nOK\r\n"
        # Several commands in one write: each runs at its CR, before the next is echoed.
        host.send("ATE1\rAT+CGMM\rATE0\rAT")
        assert await host.until(b"OK\r\n\r\nOK\r\n") == (
            "\r\nOK\r\nAT+CGMM\r\r\nSIM800\r\n\r\nOK\r\nATE0\r\r\nOK\r\n\r\nOK\r\n"
        )

    run(scenario)


def test_atz_restores_echo_and_clears_clip() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0")
        await host.command("AT+CLIP=1")
        assert "+CLIP: 1,1" in await host.command("AT+CLIP?")
        await host.command("ATZ")
        assert await host.command("AT+CLIP?") == "AT+CLIP?\r\r\n+CLIP: 0,1\r\n\r\nOK\r\n"

    run(scenario)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_identification_per_family(family: str) -> None:
    profile = FAMILIES[family]

    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0")
        assert lines(await host.command("AT+CGMI")) == [profile.manufacturer, "OK"]
        assert lines(await host.command("AT+CGMM")) == [profile.model, "OK"]
        assert lines(await host.command("AT+CGSN")) == ["356938035643809", "OK"]
        assert lines(await host.command("AT+GSN")) == ["356938035643809", "OK"]
        assert lines(await host.command("AT+CPIN?")) == ["+CPIN: READY", "OK"]
        assert lines(await host.command("AT+CREG?")) == ["+CREG: 0,1", "OK"]
        assert lines(await host.command("AT+CSQ")) == ["+CSQ: 20,0", "OK"]
        assert lines(await host.command("AT+COPS?"))[0].startswith('+COPS: 0,0,"TELKOMSEL"')

    run(scenario, family)


def test_expected_manufacturer_strings() -> None:
    assert [FAMILIES[f].manufacturer for f in ("sim800", "sim7600", "ec25", "m95", "huawei")] == [
        "SIMCOM_Ltd",
        "SIMCOM INCORPORATED",
        "Quectel",
        "Quectel",
        "huawei",
    ]


@pytest.mark.parametrize(
    ("family", "command", "reply"),
    [
        ("sim800", "AT+BOGUS", "ERROR"),
        ("sim800", "AT^CURC=0", "ERROR"),  # another family's vendor command
        ("ec25", "AT+DDET=1", "ERROR"),
        ("huawei", "AT+BOGUS", "COMMAND NOT SUPPORT"),
        ("huawei", "AT^CURC=0", "OK"),
        ("ec25", "AT+QTONEDET=1", "OK"),
    ],
)
def test_unknown_and_foreign_commands_are_rejected(family: str, command: str, reply: str) -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0")
        assert lines(await host.command(command)) == [reply]

    run(scenario, family)


def test_cmee_selects_error_style_on_the_wire() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0")
        assert lines(await host.command('AT+CTTS=2,"hi"')) == ["ERROR"]
        await host.command("AT+CMEE=1")
        assert lines(await host.command('AT+CTTS=2,"hi"')) == ["+CME ERROR: 3"]
        await host.command("AT+CMEE=2")
        assert lines(await host.command('AT+CTTS=2,"hi"')) == ["+CME ERROR: operation not allowed"]

    run(scenario)


def test_concatenated_commands_and_huawei_cvoice() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0;+CLIP=1;+CRC=1")
        assert modem.settings.clip and modem.settings.crc and not modem.settings.echo
        assert lines(await host.command("AT^CVOICE?")) == ["^CVOICE:0,8000,16,20", "OK"]

    run(scenario, "huawei")


# ------------------------------------------------------------------------ ringing


def test_ringing_repeats_ring_and_clip_every_interval() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0")
        await host.command("AT+CLIP=1")
        call = modem.incoming_call("+6281234567890")
        assert modem.state is ModemState.RINGING
        await asyncio.sleep(19)
        rings = [t for t, d, line in modem.transcript if d == "tx" and line == "RING"]
        assert [round(b - a, 6) for a, b in itertools.pairwise(rings)] == [5.0] * 3
        burst = '\r\nRING\r\n\r\n+CLIP: "+6281234567890",145,"",0,"",0\r\n'
        assert host.rest() == burst * 4
        assert call.rings == 4 and call.state is CallState.RINGING

    run(scenario)


def test_national_number_gets_type_129_and_crc_gives_cring() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0;+CLIP=1;+CRC=1")
        modem.incoming_call("081234567890")
        text = await host.until(b"+CLIP:")
        assert "+CRING: VOICE" in text
        assert lines(text + host.rest())[-1] == '+CLIP: "081234567890",129,"",0,"",0'

    run(scenario)


@pytest.mark.parametrize(
    ("family", "clip"),
    [
        ("sim800", '+CLIP: "",128,"",0,"",1'),
        ("sim7600", '+CLIP: "",128,"",0,"",1'),
        ("ec25", '+CLIP: "",128,,,"",1'),
        ("m95", '+CLIP: "",128,"",0,"",1'),
        ("huawei", '+CLIP: "",128,,,,1'),
        ("generic", '+CLIP: "",128'),
    ],
)
def test_withheld_number_clip_form_per_family(family: str, clip: str) -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0;+CLIP=1")
        modem.incoming_call(None)
        text = await host.until(b"+CLIP:")
        await asyncio.sleep(0.1)
        assert lines(text + host.rest()) == ["RING", clip]

    run(scenario, family)


def test_clip_without_at_clip_is_not_sent() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0")
        modem.incoming_call("0811")
        await asyncio.sleep(6)
        assert lines(host.rest()) == ["RING", "RING"]

    run(scenario)


def test_quectel_clip_carries_alpha() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0;+CLIP=1")
        modem.incoming_call("02151082965", alpha="QUECTEL")
        assert lines(await host.until(b"0\r\n")) == [
            "RING",
            '+CLIP: "02151082965",129,,,"QUECTEL",0',
        ]

    run(scenario, "ec25")


# ------------------------------------------------------------------------ call flow


@pytest.mark.parametrize(
    ("family", "answer", "hangup"),
    [
        ("sim800", ["OK"], ["NO CARRIER"]),
        ("sim7600", ["VOICE CALL: BEGIN", "OK"], ["VOICE CALL: END: 000008", "NO CARRIER"]),
        ("ec25", ["OK"], ["NO CARRIER"]),
        ("m95", ["OK"], ["NO CARRIER"]),
        ("huawei", ["OK", "^CONN:1,0"], ["^CEND:1,8,29,16"]),
        ("generic", ["OK"], ["NO CARRIER"]),
    ],
)
def test_answer_and_caller_hang_up_lines_per_family(
    family: str, answer: list[str], hangup: list[str]
) -> None:
    answered: list[VirtualCall] = []
    ended: list[VirtualCall] = []

    async def scenario(modem: VirtualModem, host: Host) -> None:
        modem.on_answered = answered.append
        modem.on_ended = ended.append
        await host.command("ATE0;+CLIP=1")
        call = modem.incoming_call("+6281234567890")
        await host.until(b"+CLIP:")
        host.send("ATA")
        assert lines(await host.until(answer[-1].encode() + b"\r\n")) == answer
        assert modem.state is ModemState.ACTIVE
        assert lines(await host.command("AT+CPAS"))[0] == "+CPAS: 4"
        await asyncio.sleep(8)
        modem.caller_hangs_up()
        assert lines(await host.until(hangup[-1].encode())) == hangup
        assert call.ended_by is EndedBy.CALLER and call.release is None
        assert call.answered_at is not None and call.ended_at == pytest.approx(
            call.answered_at + 8, abs=0.1
        )
        await asyncio.sleep(0)
        assert answered == [call] and ended == [call]
        assert modem.state is ModemState.IDLE

    run(scenario, family)


def test_sim7600_frames_urcs_with_double_cr() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0;+CLIP=1")
        modem.incoming_call("+6281234567890")
        assert await host.until(b"RING\r\r\n") == "\r\r\nRING\r\r\n"

    run(scenario, "sim7600")


@pytest.mark.parametrize(
    ("family", "gave_up"),
    [
        ("sim800", ["NO CARRIER"]),
        ("sim7600", ["MISSED_CALL: 12:16AM +6281234567890"]),
        ("ec25", ["NO CARRIER"]),
        ("huawei", ["^CEND:1,0,29,16"]),
    ],
)
def test_caller_gives_up_while_ringing_per_family(family: str, gave_up: list[str]) -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0;+CLIP=1")
        call = modem.incoming_call("+6281234567890")
        await asyncio.sleep(7)
        modem.caller_hangs_up(call)
        text = await host.until(gave_up[-1].encode())
        assert [line for line in lines(text) if not line.startswith("+CLIP")] == [
            "RING",
            "RING",
            *gave_up,
        ]
        assert call.ended_by is EndedBy.CALLER and call.rings == 2
        # The host answers too late: the call is gone.
        assert lines(await host.command("ATA")) == ["NO CARRIER"]

    run(scenario, family)


def test_huawei_cend_can_omit_the_cause_field() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        modem.cend_fields = 3
        call = await ring_and_answer(modem, host)
        await asyncio.sleep(5)
        modem.caller_hangs_up(call)
        await host.until(b"^CEND:")
        await asyncio.sleep(0.01)
        assert tx_lines(modem)[-1] == "^CEND:1,5,29"

    run(scenario, "huawei")


@pytest.mark.parametrize(
    ("command", "release"),
    [("ATH", "ATH"), ("AT+CHUP", "AT+CHUP"), ("AT+CHLD=0", "AT+CHLD=0")],
)
def test_host_releases_a_ringing_call(command: str, release: str) -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0;+CLIP=1")
        call = modem.incoming_call("0811")
        await host.until(b"+CLIP:")
        assert lines(await host.command(command)) == ["OK"]
        assert call.state is CallState.ENDED
        assert (call.ended_by, call.release) == (EndedBy.HOST, release)
        await asyncio.sleep(20)
        assert lines(host.rest()) == []  # no more RINGs

    run(scenario)


def test_host_hang_up_of_active_call_on_sim7600_and_huawei() -> None:
    async def sim7600(modem: VirtualModem, host: Host) -> None:
        call = await ring_and_answer(modem, host)
        await asyncio.sleep(12)
        assert lines(await host.command("AT+CHUP")) == ["VOICE CALL: END: 000012", "OK"]
        assert call.release == "AT+CHUP"

    async def huawei(modem: VirtualModem, host: Host) -> None:
        await ring_and_answer(modem, host)
        await asyncio.sleep(3)
        host.send("AT+CHUP")
        await host.until(b"^CEND:1,3,29,16\r\n")

    run(sim7600, "sim7600")
    run(huawei, "huawei")


def test_deflection_records_target_or_fails_when_not_provisioned() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0;+CMEE=1;+CLIP=1")
        call = modem.incoming_call("0811")
        await host.until(b"+CLIP:")
        modem.deflect_supported = False
        assert lines(await host.command('AT+CTFR="112"')) == ["+CME ERROR: 3"]
        assert call.state is CallState.RINGING
        modem.deflect_supported = True
        assert lines(await host.command('AT+CTFR="0254123456",129')) == ["OK"]
        assert (call.release, call.deflected_to) == ("AT+CTFR", "0254123456")

    run(scenario)


def test_network_no_reply_timer_ends_an_unanswered_call() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0")
        call = modem.incoming_call("0811")
        await asyncio.sleep(25)
        assert call.ended_by is EndedBy.NETWORK
        assert call.ended_at == pytest.approx(call.started_at + 20)
        assert lines(host.rest()) == ["RING"] * 4 + ["NO CARRIER"]

    run(scenario, no_reply_s=20.0)


def test_second_call_is_busy_without_call_waiting_and_waits_with_it() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        first = await ring_and_answer(modem, host)
        with pytest.raises(LineBusyError):
            modem.incoming_call("0822")
        await host.command("AT+CCWA=1,1")
        second = modem.incoming_call("0822")
        assert second.state is CallState.WAITING
        await host.until(b'+CCWA: "0822",129,1')
        clcc = lines(await host.command("AT+CLCC"))
        assert clcc == [
            '+CLCC: 1,1,0,0,0,"081234567890",129,""',
            '+CLCC: 2,1,5,0,0,"0822",129,""',
            "OK",
        ]
        modem.caller_hangs_up(first)
        await host.until(b"NO CARRIER")
        await host.until(b"RING")  # the waiting call now alerts normally
        assert second.state is CallState.RINGING

    run(scenario)


def test_clcc_state_urcs_on_sim800() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0;+CLIP=1;+CLCC=1")
        call = modem.incoming_call("0811")
        await host.until(b'+CLCC: 1,1,4,0,0,"0811",129,""')
        await host.command("ATA")
        await host.until(b'+CLCC: 1,1,0,0,0,"0811",129,""')
        modem.caller_hangs_up(call)
        await host.until(b"NO CARRIER")
        assert '+CLCC: 1,1,6,0,0,"0811",129,""' in tx_lines(modem)

    run(scenario)


# ------------------------------------------------------------------------ DTMF


@pytest.mark.parametrize(
    ("family", "enable", "urcs"),
    [
        ("sim800", "AT+DDET=1", ["+DTMF: 5", "+DTMF: #"]),
        ("sim7600", "AT+DDET=1", ["+RXDTMF: 5", "+RXDTMF: #"]),
        ("ec25", "AT+QTONEDET=1", ["+QTONEDET: 53", "+QTONEDET: 35"]),
        ("m95", "AT+QTONEDET=1", ["+QTONEDET: 53", "+QTONEDET: 35"]),
        ("huawei", "AT", ["^DDTMF: 5", "^DDTMF: #"]),
        ("generic", "AT+DDET=1", ["+DTMF: 5", "+DTMF: #"]),
    ],
)
def test_dtmf_urc_per_family(family: str, enable: str, urcs: list[str]) -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        call = await ring_and_answer(modem, host)
        await host.command(enable)
        modem.caller_presses("5#", gap_s=0.5)
        await host.until(urcs[-1].encode())
        times = [t for t, d, line in modem.transcript if d == "tx" and line in urcs]
        assert times[1] - times[0] == pytest.approx(0.5)
        assert call.keys_reported == "5#"

    run(scenario, family)


def test_dtmf_is_not_reported_until_detection_is_enabled() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        call = await ring_and_answer(modem, host)
        modem.caller_presses("12")
        await asyncio.sleep(1)
        assert call.keys_pressed == "12" and call.keys_reported == ""
        await host.command("AT+DDET=1,100,1")
        modem.caller_presses("3")
        await host.until(b"+DTMF: 3,100")

    run(scenario)


# ------------------------------------------------------------------------ prompts


@pytest.mark.parametrize(
    ("family", "command", "done", "duration_s"),
    [
        ("sim800", 'AT+CREC=4,"C:\\User\\1.amr",0,90', "+CREC: 0", 4.0),
        ("sim800", 'AT+CTTS=2,"Tekan lima"', "+CTTS: 0", 2.0),
        ("sim7600", 'AT+CTTS=2,"Tekan lima untuk operator sekarang"', "+CTTS: 0", 2.72),
        ("sim7600", 'AT+CCMXPLAY="C:/greet.amr",1,0', "+AUDIOSTATE: audio play stop", 4.0),
        ("ec25", 'AT+QWTTS=1,1,2,"Tekan lima"', "+QWTTS: 0", 2.0),
        ("ec25", 'AT+QPSND=1,"greet.wav",0,1,1', "+QPSND: 0", 4.0),
        ("m95", 'AT+QPSND=1,"greet.wav",0,1,1', "+QPSND: 0", 4.0),
    ],
)
def test_prompt_completion_urc_per_family(
    family: str, command: str, done: str, duration_s: float
) -> None:
    events: list[tuple[str, float]] = []

    async def scenario(modem: VirtualModem, host: Host) -> None:
        modem.on_prompt_started = lambda call, text: events.append((text, modem.loop.time()))
        modem.on_prompt_finished = lambda call: events.append(("done", modem.loop.time()))
        call = await ring_and_answer(modem, host)
        assert lines(await host.command(command)) == ["OK"]
        await host.until(done.encode())
        assert call.prompts == [command.split('"')[1]]
        await asyncio.sleep(0)
        assert [name for name, _ in events] == [call.prompts[0], "done"]
        assert events[1][1] - events[0][1] == pytest.approx(duration_s)

    run(scenario, family)


def test_prompt_outside_a_call_is_an_error() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0;+CMEE=1")
        assert lines(await host.command('AT+QWTTS=1,1,2,"x"')) == ["+CME ERROR: 903"]
        assert lines(await host.command('AT+QPSND=1,"a.wav",0,1,1')) == ["+CME ERROR: 3"]

    run(scenario, "ec25")


def test_caller_hanging_up_mid_prompt_interrupts_it() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        modem.prompt_duration_s = 10.0
        call = await ring_and_answer(modem, host)
        await host.command('AT+QWTTS=1,1,2,"Tekan lima"')
        await asyncio.sleep(3)
        modem.caller_hangs_up(call)
        await asyncio.sleep(10)
        assert lines(host.rest()) == ["+QWTTS: 4111", "NO CARRIER"]

    run(scenario, "ec25")


def test_huawei_voice_port_counts_pcm_bytes() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        assert modem.voice_port is not None and modem.voice_port != modem.port
        call = await ring_and_answer(modem, host)
        await host.command("AT^DDSETEX=2")
        voice = os.open(modem.voice_port, os.O_RDWR | os.O_NOCTTY)
        try:
            os.write(voice, bytes(320) * 3)
            while modem.voice_bytes_received < 960:
                await asyncio.sleep(0.01)
        finally:
            os.close(voice)
        assert call.voice_bytes == 960

    run(scenario, "huawei")


# ------------------------------------------------------------------------ faults


def test_split_writes_deliver_lines_in_pieces() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0")
        modem.split_writes = True
        reads_before = len(host.reads)
        assert lines(await host.command("AT+CGMI")) == ["SIMCOM_Ltd", "OK"]
        assert len(host.reads) - reads_before >= 4  # two lines, each in 2-3 chunks

    run(scenario, seed=7)


def test_clip_delay_separates_ring_and_clip() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        modem.clip_delay_s = 0.2
        await host.command("ATE0;+CLIP=1")
        modem.incoming_call("0811")
        await host.until(b"+CLIP:")
        times = {line[:5]: t for t, d, line in modem.transcript if d == "tx"}
        assert times["+CLIP"] - times["RING"] == pytest.approx(0.2)

    run(scenario)


def test_urc_inside_next_reply_sits_between_info_and_ok() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0;+CLIP=1")
        modem.urc_inside_next_reply = True
        modem.incoming_call("0811")
        assert lines(await host.command("AT+CSQ")) == [
            "+CSQ: 20,0",
            "RING",
            '+CLIP: "0811",129,"",0,"",0',
            "OK",
        ]
        assert not modem.urc_inside_next_reply
        # And the other order: the command first, the URC while its OK is held.
        modem.urc_inside_next_reply = True
        host.send("AT+CREG?")
        await asyncio.sleep(1)
        modem.caller_hangs_up()
        assert lines(await host.until(b"OK\r\n")) == ["+CREG: 0,1", "NO CARRIER", "OK"]

    run(scenario)


def test_injected_garbage_reaches_host_and_modem_keeps_working() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0")
        modem.inject(b"\xff\xfe\x00+CL")
        assert await host.until(re.compile(rb"\+CL")) == "\xff\xfe\x00+CL"
        host.send("\xff garbage")
        assert lines(await host.command("AT")) == ["OK"]

    run(scenario)


def test_silent_modem_reads_and_drops_commands() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        modem.silent = True
        host.send("AT")
        await asyncio.sleep(5)
        assert host.data == b"" and modem.bytes_received == 3
        modem.silent = False
        assert await host.command("AT") == "AT\r\r\nOK\r\n"

    run(scenario)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_reboot_drops_call_resets_settings_and_sends_boot_lines(family: str) -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        call = await ring_and_answer(modem, host)
        modem.reboot(delay_s=3.0)
        assert call.ended_by is EndedBy.NETWORK
        with pytest.raises(ModemUnavailableError):
            modem.incoming_call("0811")
        host.send("AT")  # the modem is off: nothing comes back
        await asyncio.sleep(3.5)
        boot = FAMILIES[family].boot_lines
        assert lines(host.rest()) == list(boot)
        assert await host.command("AT") == "AT\r\r\nOK\r\n"  # echo is back on
        assert not modem.settings.clip

    run(scenario, family)


def test_cfun_reset_reboots_after_ok() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("ATE0")
        assert lines(await host.command("AT+CFUN=1,1")) == ["OK"]
        await host.until(b"SMS Ready")

    run(scenario)


def test_unplug_breaks_the_host_port_and_replug_gives_a_new_path() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await ring_and_answer(modem, host)
        old_port = modem.port
        modem.unplug()
        await asyncio.sleep(0.1)
        # Linux hangs the tty up: reads hit EOF (pyserial raises SerialException), writes EIO.
        assert host.eof or isinstance(host.read_error, OSError)
        with pytest.raises(OSError) as failure:
            os.write(host.fd, b"AT\r")
        assert failure.value.errno == errno.EIO
        with pytest.raises(ModemUnavailableError):
            modem.incoming_call("0811")
        host.close()

        new_port = await modem.replug()
        assert new_port != old_port
        again = Host(modem.loop, new_port)
        # Per-port counters start again from zero, like the new host's.
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        loop.add_in_flight_probe(lambda: again.in_flight(modem))
        try:
            await again.until(b"SMS Ready")
            assert await again.command("AT") == "AT\r\r\nOK\r\n"
        finally:
            again.close()

    run(scenario)


def test_pyserial_sees_unplug_as_serial_exception() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        port = serial.Serial(modem.port, timeout=0)
        try:
            host.written += port.write(b"ATI\r") or 0
            await host.until(b"ATI\r")  # our raw host sees the echo too: the path works
            modem.unplug()
            await asyncio.sleep(0.1)
            with pytest.raises(serial.SerialException):
                port.read(100)
        finally:
            port.close()

    run(scenario)


def test_byte_counters_and_transcript_match_the_wire() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        await host.command("AT+CGMM")
        await asyncio.sleep(0.1)
        assert modem.bytes_received == host.written == len(b"AT+CGMM\r")
        assert modem.bytes_sent == len(host.data)
        assert [(d, line) for _, d, line in modem.transcript] == [
            ("rx", "AT+CGMM"),
            ("tx", "SIM800"),
            ("tx", "OK"),
        ]

    run(scenario)


def test_cvhu_1_makes_ath_a_no_op_and_gsmbusy_rejects_every_call() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        call = await ring_and_answer(modem, host)
        await host.command("AT+CVHU=1")
        assert lines(await host.command("ATH")) == ["OK"]
        assert call.state is CallState.ACTIVE
        assert lines(await host.command("AT+CHUP")) == ["OK"]
        assert call.release == "AT+CHUP"
        await host.command("AT+GSMBUSY=1")
        rejected = modem.incoming_call("0811")
        assert (rejected.state, rejected.release, rejected.rings) == (
            CallState.ENDED,
            "AT+GSMBUSY",
            0,
        )

    run(scenario)


def test_chld_1_releases_the_active_call_and_accepts_the_waiting_one() -> None:
    async def scenario(modem: VirtualModem, host: Host) -> None:
        first = await ring_and_answer(modem, host)
        await host.command("AT+CCWA=1")
        second = modem.incoming_call("+6285712345678")
        await host.until(b"+CCWA:")
        assert lines(await host.command("AT+CHLD=1")) == ["OK"]
        assert (first.ended_by, first.release) == (EndedBy.HOST, "AT+CHLD=1")
        assert second.state is CallState.ACTIVE and modem.state is ModemState.ACTIVE

    run(scenario)
