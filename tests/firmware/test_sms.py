"""SMS in PDU mode over the real channel to the virtual modem of every family."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from firmware.at.channel import ATChannel, ATCommandError, ATTimeoutError
from firmware.sms import send_sms, sms_parts
from firmware.virtual_modem import FAMILIES, VirtualModem

NUMBER = "+6281234567890"
WARNING = (
    "Nomor Anda tercatat melakukan panggilan iseng ke 112. Panggilan iseng dapat dikenai "
    "sanksi. Jika darurat, telepon 112 dan tekan 5."
)


Body = Callable[[VirtualModem, ATChannel], Awaitable[None]]


def with_channel(family: str, body: Body) -> None:
    async def scenario() -> None:
        modem = VirtualModem(family)
        await modem.start()
        channel = ATChannel(modem.port, name="t", on_urc=lambda urc: None, on_lost=lambda e: None)
        await channel.open()
        try:
            await channel.command("ATE0")
            await body(modem, channel)
        finally:
            channel.close()
            modem.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("family", sorted(set(FAMILIES) - {"generic"}))
def test_an_indonesian_warning_reaches_the_network_intact(family: str) -> None:
    async def body(modem: VirtualModem, channel: ATChannel) -> None:
        references = await send_sms(channel, NUMBER, WARNING)
        assert len(references) == 1 and references[0] >= 0
        assert [(sms.number, sms.text) for sms in modem.sms_sent] == [(NUMBER, WARNING)]
        await channel.command("AT")  # the channel is back to plain commands

    with_channel(family, body)


def test_long_and_unicode_texts_are_split_and_encoded() -> None:
    """Curly quotes need UCS-2; an emoji (outside UCS-2) becomes U+FFFD, never a crash."""
    text = "Darurat \u2013 \u201ctolong\u201d \U0001f691 " * 8
    parts = sms_parts(NUMBER, text)
    assert len(parts) >= 2

    async def body(modem: VirtualModem, channel: ATChannel) -> None:
        references = await send_sms(channel, NUMBER, text)
        assert len(references) == len(parts)
        received = "".join(sms.text for sms in modem.sms_sent)
        assert received == text.replace("\U0001f691", "\ufffd")

    with_channel("ec25", body)


@pytest.mark.parametrize("number", ["081234567890", "+62", "+6281234567890x", ""])
def test_a_number_that_is_not_e164_is_refused_before_the_modem(number: str) -> None:
    with pytest.raises(ValueError, match=r"E\.164"):
        sms_parts(number, WARNING)


def test_a_modem_in_text_mode_refuses_and_the_error_is_reported() -> None:
    async def body(modem: VirtualModem, channel: ATChannel) -> None:
        lines = await channel.command("AT+CMGF=1")
        assert lines == []
        with pytest.raises(ATCommandError):
            await channel.command_with_data("AT+CMGS=12", b"00")
        assert modem.sms_sent == []
        await channel.command("AT")

    with_channel("sim800", body)


def test_a_corrupt_pdu_gets_the_modems_cms_error() -> None:
    async def body(modem: VirtualModem, channel: ATChannel) -> None:
        await channel.command("AT+CMEE=1")
        with pytest.raises(ATCommandError, match="CMS ERROR: 304"):
            await channel.command_with_data("AT+CMGS=12", b"ZZZZ")
        await channel.command("AT")

    with_channel("sim7600", body)


def test_a_modem_that_never_prompts_times_out_and_is_left_usable() -> None:
    async def body(modem: VirtualModem, channel: ATChannel) -> None:
        modem.silent = True
        with pytest.raises(ATTimeoutError):
            await send_sms(channel, NUMBER, WARNING, command_timeout_s=0.3)
        modem.silent = False
        await channel.command("AT")
        assert modem.sms_sent == []

    with_channel("m95", body)


def test_the_data_prompt_is_found_when_it_arrives_in_pieces() -> None:
    async def body(modem: VirtualModem, channel: ATChannel) -> None:
        modem.split_writes = True  # "\r\n> " in 2-3 reads, as on a busy USB bus
        for _ in range(5):
            await send_sms(channel, NUMBER, "tes")
        assert [sms.text for sms in modem.sms_sent] == ["tes"] * 5

    with_channel("sim7600", body)
