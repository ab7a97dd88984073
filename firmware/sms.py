"""Sending SMS through a modem's AT channel, in PDU mode.

PDU encoding is python-gsmmodem-new's (`gsmmodem.pdu`), the sound part of that package:
it picks GSM 7-bit or UCS-2 (Indonesian text with curly quotes or emoji needs UCS-2) and
splits long texts into concatenated parts. Its modem class is not used (see
firmware/at/channel.py for why); the parts go out with `AT+CMGS` on our own channel.
PDU mode rather than text mode because it behaves the same on every family.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from gsmmodem.pdu import encodeSmsSubmitPdu

from firmware.at.channel import ATChannel

logger = logging.getLogger(__name__)

SEND_TIMEOUT_S = 60.0  # the network can take tens of seconds to accept a message
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_CMGS = re.compile(r"^\+CMGS:\s*(\d+)")


@dataclass(frozen=True)
class SmsPart:
    """One PDU to send: its hex text and the TPDU length AT+CMGS wants."""

    hex_pdu: str
    tpdu_length: int


def sms_parts(number_e164: str, text: str, reference: int = 0) -> list[SmsPart]:
    """The PDUs of `text` to `number_e164` (several for a long text); ValueError for a
    number that is not E.164 or an empty text."""
    if not _E164.match(number_e164):
        raise ValueError(f"not an E.164 number: {number_e164!r}")
    if not text.strip():
        raise ValueError("empty SMS text")
    # gsmmodem's UCS-2 encoder takes only the Basic Multilingual Plane (it fails on emoji,
    # which need UTF-16 surrogate pairs): such characters become U+FFFD.
    text = "".join(ch if ord(ch) <= 0xFFFF else "\ufffd" for ch in text)
    pdus = encodeSmsSubmitPdu(number_e164, text, reference=reference % 256)
    return [SmsPart(str(pdu), int(pdu.tpduLength)) for pdu in pdus]


async def send_sms(
    channel: ATChannel,
    number_e164: str,
    text: str,
    reference: int = 0,
    *,
    command_timeout_s: float = 5.0,
) -> list[int]:
    """Send `text` to `number_e164`; the network's message reference of each part.

    Raises ValueError for a bad number or text, and the channel's errors (ATCommandError
    with the modem's +CMS ERROR, ATTimeoutError, ChannelClosedError) when sending fails.
    """
    parts = sms_parts(number_e164, text, reference)
    await channel.command("AT+CMGF=0", timeout_s=command_timeout_s)
    references: list[int] = []
    for part in parts:
        lines = await channel.command_with_data(
            f"AT+CMGS={part.tpdu_length}",
            part.hex_pdu.encode("ascii"),
            prompt_timeout_s=command_timeout_s,
            timeout_s=SEND_TIMEOUT_S,
        )
        references.append(_message_reference(lines))
    logger.info("%s: SMS to %s sent in %d part(s)", channel.name, number_e164, len(parts))
    return references


def _message_reference(lines: list[str]) -> int:
    for line in lines:
        match = _CMGS.match(line.strip())
        if match:
            return int(match.group(1))
    return -1  # OK without +CMGS: sent, reference unknown
