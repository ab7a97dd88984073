"""ATChannel against a raw pseudo-terminal: framing, URCs during commands, errors, unplug."""

from __future__ import annotations

import asyncio
import logging
import termios

import pytest

from appliance.clock import VirtualTimeLoop
from firmware.at.channel import (
    ATChannel,
    ATCommandError,
    ATTimeoutError,
    ChannelClosedError,
    ChannelError,
    LineFramer,
)
from firmware.at.urc import CallEnded, Clip, Dtmf, ModemBooted, OtherUrc, Ring, Urc
from tests.firmware.conftest import DIALECTS, Dialect, RawPty, run, wait_until

CRLF = Dialect(
    "sim800", b"\r\n", "RING", '+CLIP: "0812",129', "0812", "NO CARRIER", "+DTMF: 1", "1"
)


class Harness:
    """A channel on the pty plus everything it reported."""

    def __init__(self, pty: RawPty, *, rtscts: bool = False) -> None:
        self.pty = pty
        self.urcs: list[Urc] = []
        self.lost: list[BaseException] = []
        self.channel = ATChannel(
            pty.path,
            name="line1",
            rtscts=rtscts,
            on_urc=self.urcs.append,
            on_lost=self.lost.append,
        )

    async def __aenter__(self) -> Harness:
        await self.channel.open()
        self.pty.attach()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.channel.close()

    async def wait_received(self, count: int) -> None:
        await wait_until(lambda: self.channel.bytes_received >= count, f"{count} bytes read")

    async def wait_urcs(self, count: int) -> None:
        await wait_until(lambda: len(self.urcs) >= count, f"{count} URCs, have {self.urcs}")


def _ids(dialects: list[Dialect]) -> list[str]:
    return [dialect.family for dialect in dialects]


# -- framing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chunks", "lines"),
    [
        ([b"\r\nOK\r\n"], [b"OK"]),
        ([b"\r\r\nRING\r\r\n"], [b"RING"]),
        ([b"RING\rOK\r"], [b"RING", b"OK"]),
        ([b"\r\nRI", b"NG\r", b"\n"], [b"RING"]),
        ([b"\n\n\r\r"], []),
    ],
)
def test_framer_splits_on_any_line_end_and_keeps_partial_lines(
    chunks: list[bytes], lines: list[bytes]
) -> None:
    framer = LineFramer()
    got = [line for chunk in chunks for line in framer.feed(chunk)]
    assert got == lines


def test_framer_drops_an_endless_line_and_recovers() -> None:
    framer = LineFramer(max_line_bytes=16)
    assert framer.feed(b"x" * 40) == []
    assert framer.feed(b"\r\nRING\r\n") == [b"RING"]


# -- URCs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS, ids=_ids(DIALECTS))
def test_urcs_between_command_and_reply_are_delivered_and_reply_is_intact(
    pty: RawPty, dialect: Dialect
) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            reply = asyncio.create_task(h.channel.command("AT+CSQ"))
            assert await pty.next_command() == "AT+CSQ"
            pty.send(dialect.frame(dialect.ring, dialect.clip, "+CSQ: 20,0", "OK"))
            assert await reply == ["+CSQ: 20,0"]
            assert [type(u) for u in h.urcs] == [Ring, Clip]
            clip = h.urcs[1]
            assert isinstance(clip, Clip)
            assert clip.caller.raw == dialect.caller_raw
            assert clip.caller.has_number

    run(scenario())


@pytest.mark.parametrize("dialect", DIALECTS, ids=_ids(DIALECTS))
def test_burst_of_urcs_in_one_read_is_delivered_in_order(pty: RawPty, dialect: Dialect) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            pty.send(
                dialect.frame(
                    '+CMTI: "SM",3',
                    dialect.ring,
                    dialect.clip,
                    dialect.dtmf,
                    dialect.dtmf,
                    dialect.dtmf,
                    dialect.hangup,
                )
            )
            await h.wait_urcs(7)
            kinds = [type(u) for u in h.urcs]
            assert kinds == [OtherUrc, Ring, Clip, Dtmf, Dtmf, Dtmf, CallEnded]
            keys = [u.key for u in h.urcs if isinstance(u, Dtmf)]
            assert keys == [dialect.dtmf_key] * 3

    run(scenario())


@pytest.mark.parametrize("dialect", DIALECTS, ids=_ids(DIALECTS))
def test_lines_split_byte_by_byte_across_reads(pty: RawPty, dialect: Dialect) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            reply = asyncio.create_task(h.channel.command("AT+CREG?"))
            await pty.next_command()
            data = dialect.frame(dialect.ring, "+CREG: 0,1", dialect.clip, "OK")
            for index in range(len(data)):
                pty.send(data[index : index + 1])
                # Each byte is its own read: wait until the channel has taken it.
                await h.wait_received(index + 1)
            assert await reply == ["+CREG: 0,1"]
            assert [type(u) for u in h.urcs] == [Ring, Clip]

    run(scenario())


@pytest.mark.parametrize("dialect", DIALECTS, ids=_ids(DIALECTS))
def test_ring_and_clip_200ms_apart_both_arrive(pty: RawPty, dialect: Dialect) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            pty.send(dialect.frame(dialect.ring))
            await h.wait_urcs(1)
            await asyncio.sleep(0.2)
            pty.send(dialect.frame(dialect.clip))
            await h.wait_urcs(2)
            ring, clip = h.urcs
            assert isinstance(ring, Ring)
            assert isinstance(clip, Clip)
            assert clip.caller.raw == dialect.caller_raw

    run(scenario())


def test_no_carrier_during_a_poll_is_a_call_end_not_the_reply(pty: RawPty) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            reply = asyncio.create_task(h.channel.command("AT+CSQ"))
            await pty.next_command()
            pty.send(CRLF.frame("NO CARRIER", "+CSQ: 11,0", "OK"))
            assert await reply == ["+CSQ: 11,0"]
            assert h.urcs == [CallEnded("NO CARRIER", cause="no_carrier")]

    run(scenario())


def test_reply_prefix_keeps_urc_lookalikes_in_the_reply(pty: RawPty) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            reply = asyncio.create_task(h.channel.command("AT+CPIN?"))
            await pty.next_command()
            pty.send(CRLF.frame("+CPIN: READY", "OK"))
            assert await reply == ["+CPIN: READY"]
            # The same line with no command pending is a boot URC.
            pty.send(CRLF.frame("+CPIN: READY"))
            await h.wait_urcs(1)
            assert isinstance(h.urcs[0], ModemBooted)

    run(scenario())


def test_unprefixed_reply_lines_and_echo(pty: RawPty) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            reply = asyncio.create_task(h.channel.command("AT+CGMI"))
            await pty.next_command()
            pty.send(b"AT+CGMI\r" + CRLF.frame("SIMCOM_Ltd", "OK"))
            assert await reply == ["SIMCOM_Ltd"]
            assert h.urcs == []

    run(scenario())


# -- noise --------------------------------------------------------------------------------


@pytest.mark.parametrize("dialect", DIALECTS, ids=_ids(DIALECTS))
def test_non_utf8_byte_and_garbage_line_are_logged_and_skipped(
    pty: RawPty, dialect: Dialect, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            pty.send(dialect.eol + b"\xff\xfe\x01\x80" + dialect.eol)
            pty.send(dialect.eol + b"+CL\xffIP garbage \x07" + dialect.eol)
            pty.send(dialect.frame(dialect.ring))
            await h.wait_urcs(1)
            assert [type(u) for u in h.urcs] == [Ring]
            assert h.channel.garbage_lines == 2

    with caplog.at_level(logging.WARNING, logger="firmware.at.channel"):
        run(scenario())
    skipped = [r for r in caplog.records if "garbage" in r.getMessage()]
    assert len(skipped) == 2


def test_noise_glued_to_a_known_line_is_recovered(
    pty: RawPty, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            pty.send(b'\r\n\xffRING\r\n\r\n\x00+CLIP: "0812",129\xfe\r\n')
            await h.wait_urcs(2)
            assert [type(u) for u in h.urcs] == [Ring, Clip]

    with caplog.at_level(logging.WARNING, logger="firmware.at.channel"):
        run(scenario())
    assert sum("recovered" in r.getMessage() for r in caplog.records) == 2


def test_endless_garbage_is_rate_limited_in_the_log(
    pty: RawPty, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            pty.send(b"\xff\r\n" * 250 + b"RING\r\n")
            await h.wait_urcs(1)
            assert h.channel.garbage_lines == 250

    with caplog.at_level(logging.WARNING, logger="firmware.at.channel"):
        run(scenario())
    warnings = [r for r in caplog.records if "garbage" in r.getMessage()]
    assert len(warnings) == 10 + 2  # the first ten, then the 100th and the 200th


def test_failing_urc_handler_is_logged_and_reader_survives(
    pty: RawPty, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[Urc] = []

    def handler(urc: Urc) -> None:
        seen.append(urc)
        if isinstance(urc, Ring):
            raise RuntimeError("bug in the line layer")

    async def scenario() -> None:
        channel = ATChannel(pty.path, name="line1", on_urc=handler, on_lost=lambda exc: None)
        await channel.open()
        pty.attach()
        pty.send(CRLF.frame("RING", CRLF.clip))
        await wait_until(lambda: len(seen) == 2, "both URCs")
        reply = asyncio.create_task(channel.command("AT"))
        await pty.next_command()
        pty.send(CRLF.frame("OK"))
        assert await reply == []
        channel.close()

    with caplog.at_level(logging.ERROR, logger="firmware.at.channel"):
        run(scenario())
    assert any("on_urc handler failed" in r.getMessage() for r in caplog.records)


def test_raw_traffic_is_logged_on_its_own_logger(
    pty: RawPty, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            reply = asyncio.create_task(h.channel.command("AT"))
            await pty.next_command()
            pty.send(CRLF.frame("OK"))
            await reply

    with caplog.at_level(logging.DEBUG, logger="firmware.at.raw"):
        run(scenario())
    raw = [r.getMessage() for r in caplog.records if r.name == "firmware.at.raw"]
    assert any("->" in m and "AT\\r" in m for m in raw)
    assert any("<-" in m and "OK" in m for m in raw)


# -- commands -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "final", ["ERROR", "+CME ERROR: 3", "+CME ERROR: operation not allowed", "COMMAND NOT SUPPORT"]
)
def test_error_results_raise_command_error(pty: RawPty, final: str) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            reply = asyncio.create_task(h.channel.command('AT+CTFR="112",129'))
            await pty.next_command()
            pty.send(CRLF.frame(final))
            with pytest.raises(ATCommandError) as caught:
                await reply
            assert caught.value.final_line == final
            assert caught.value.command == 'AT+CTFR="112",129'

    run(scenario())


def test_ata_answered_by_no_carrier_fails_and_reports_call_end(pty: RawPty) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            reply = asyncio.create_task(h.channel.command("ATA"))
            await pty.next_command()
            pty.send(CRLF.frame("NO CARRIER"))
            with pytest.raises(ATCommandError, match="NO CARRIER"):
                await reply
            assert h.urcs == [CallEnded("NO CARRIER", cause="no_carrier")]

    run(scenario())


def test_silent_modem_times_out_and_channel_still_works(pty: RawPty) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            with pytest.raises(ATTimeoutError):
                await h.channel.command("AT+CSQ", timeout_s=0.3)
            assert await pty.next_command() == "AT+CSQ"
            reply = asyncio.create_task(h.channel.command("AT+CSQ"))
            assert await pty.next_command() == "AT+CSQ"
            pty.send(CRLF.frame("+CSQ: 5,0", "OK"))
            assert await reply == ["+CSQ: 5,0"]

    run(scenario())


def test_commands_are_serialised_and_the_first_is_written_at_once(pty: RawPty) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            first = asyncio.create_task(h.channel.command("ATH"))
            second = asyncio.create_task(h.channel.command("AT+CSQ"))
            await asyncio.sleep(0)  # one loop step: ATH is on the wire, AT+CSQ waits
            assert h.channel.bytes_sent == len(b"ATH\r")
            assert await pty.next_command() == "ATH"
            pty.send(CRLF.frame("OK"))
            assert await first == []
            assert await pty.next_command() == "AT+CSQ"
            pty.send(CRLF.frame("+CSQ: 9,0", "OK"))
            assert await second == ["+CSQ: 9,0"]

    run(scenario())


def test_byte_counters_follow_traffic(pty: RawPty) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            reply = asyncio.create_task(h.channel.command("AT"))
            await pty.next_command()
            pty.send(CRLF.frame("OK"))
            await reply
            assert h.channel.bytes_sent == len(pty.received) == 3
            assert h.channel.bytes_received == pty.bytes_sent == len(b"\r\nOK\r\n")

    run(scenario())


def test_rejects_multi_line_or_non_ascii_commands(pty: RawPty) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            for bad in ["", "ATA\rATH", 'AT+CTTS=2,"é"']:
                with pytest.raises(ValueError):
                    await h.channel.command(bad)

    run(scenario())


# -- lifecycle ----------------------------------------------------------------------------


def test_unplug_fails_pending_command_and_calls_on_lost_once(pty: RawPty) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            reply = asyncio.create_task(h.channel.command("AT+CSQ", timeout_s=20))
            await pty.next_command()
            pty.unplug()
            with pytest.raises(ChannelClosedError):
                await reply
            await asyncio.sleep(0.05)
            assert len(h.lost) == 1
            assert not h.channel.is_open
            with pytest.raises(ChannelClosedError):
                await h.channel.command("AT")
            h.channel.close()  # idempotent after loss
            assert len(h.lost) == 1

    run(scenario())


def test_close_fails_pending_command_without_on_lost(pty: RawPty) -> None:
    async def scenario() -> None:
        async with Harness(pty) as h:
            reply = asyncio.create_task(h.channel.command("AT+CSQ", timeout_s=20))
            await pty.next_command()
            h.channel.close()
            h.channel.close()
            with pytest.raises(ChannelClosedError):
                await reply
            assert h.lost == []

    run(scenario())


def test_open_fails_fast_when_the_port_is_absent() -> None:
    async def scenario() -> None:
        channel = ATChannel(
            "/dev/does-not-exist-siaga", name="x", on_urc=lambda u: None, on_lost=lambda e: None
        )
        with pytest.raises(ChannelError) as caught:
            await channel.open()
        assert isinstance(caught.value, OSError)
        assert not channel.is_open

    run(scenario())


@pytest.mark.parametrize("rtscts", [False, True])
def test_hardware_flow_control_is_switchable(pty: RawPty, rtscts: bool) -> None:
    async def scenario() -> None:
        async with Harness(pty, rtscts=rtscts) as h:
            assert h.channel.serial_settings["rtscts"] is rtscts
            assert h.channel.serial_settings["dsrdtr"] is False
            cflag = termios.tcgetattr(pty.slave)[2]
            assert bool(cflag & termios.CRTSCTS) is rtscts
            reply = asyncio.create_task(h.channel.command("AT"))
            await pty.next_command()
            pty.send(CRLF.frame("OK"))
            assert await reply == []

    run(scenario())


def test_runs_on_the_virtual_time_loop(pty: RawPty) -> None:
    """A 60 s command timeout passes in virtual time; the counters keep the clock honest."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, VirtualTimeLoop)
        async with Harness(pty) as h:
            loop.add_in_flight_probe(
                lambda: (
                    h.channel.bytes_sent != len(pty.received)
                    or h.channel.bytes_received != pty.bytes_sent
                )
            )
            started = loop.time()
            with pytest.raises(ATTimeoutError):
                await h.channel.command("AT+CSQ", timeout_s=60)
            assert loop.time() - started >= 60
            reply = asyncio.create_task(h.channel.command("AT+CSQ"))
            await pty.next_command()
            await pty.next_command()
            pty.send(CRLF.frame("RING", "+CSQ: 7,0", "OK"))
            assert await reply == ["+CSQ: 7,0"]
            assert [type(u) for u in h.urcs] == [Ring]

    loop = VirtualTimeLoop()
    try:
        loop.run_until_complete(scenario())
    finally:
        loop.close()
