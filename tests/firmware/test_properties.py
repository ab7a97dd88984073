"""Property tests (hypothesis) for everything that reads bytes from a modem.

A modem is outside our control: any byte may arrive, split anywhere. These properties say
what must hold for all of them: the framer cuts the same lines however the stream is
chunked, the URC parser never raises, every caller-ID layout a modem family sends parses
back to what was sent, and the voice detector's verdict does not depend on chunking.
"""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from appliance.numbers import normalise
from firmware.at.channel import LineFramer
from firmware.at.parser import parse_line
from firmware.at.urc import CallWaiting, Clip, CliValidity
from firmware.audio import VoiceDetector
from firmware.virtual_modem import CallerSound
from firmware.virtual_modem.profiles import ClipStyle, clip_fields

URC_PREFIXES = [
    "RING", "+CRING:", "+CLIP:", "+CCWA:", "+CLCC:", "VOICE CALL:", "MISSED_CALL:", "^CEND:",
    "^CONN:", "+DTMF:", "+RXDTMF:", "^DDTMF:", "+QTONEDET:", "+CREC:", "+CTTS:", "+QPSND:",
    "+QWTTS:", "+AUDIOSTATE:", "NO CARRIER", "BUSY", "RDY", "Call Ready", "+QIND:",
]  # fmt: skip


def _cut(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(max(cut, 0), len(data)) for cut in cuts})
    pieces, start = [], 0
    for point in [*points, len(data)]:
        pieces.append(data[start:point])
        start = point
    return pieces


@given(st.binary(max_size=2000), st.lists(st.integers(0, 2000), max_size=30))
@settings(max_examples=400, deadline=None)
def test_framer_finds_the_same_lines_however_the_bytes_are_split(
    data: bytes, cuts: list[int]
) -> None:
    whole = LineFramer().feed(data)
    framer = LineFramer()
    pieces = [line for piece in _cut(data, cuts) for line in framer.feed(piece)]
    assert pieces == whole
    assert all(b"\r" not in line and b"\n" not in line and line for line in whole)


@given(st.binary(min_size=1, max_size=300))
@settings(max_examples=200, deadline=None)
def test_framer_bounds_a_line_that_never_ends(data: bytes) -> None:
    framer = LineFramer(max_line_bytes=64)
    endless = data.replace(b"\r", b"x").replace(b"\n", b"x") * 50
    for start in range(0, len(endless), 97):
        framer.feed(endless[start : start + 97])
    assert framer.feed(b"\r\nOK\r\n")[-1] == b"OK"


@given(st.sampled_from(URC_PREFIXES), st.text(max_size=120))
@example(prefix="^CEND:", payload="¹")  # once raised: "¹".isdigit() is True, int() refuses it
@settings(max_examples=1500, deadline=None)
def test_parse_line_never_raises_on_a_known_prefix_with_any_payload(
    prefix: str, payload: str
) -> None:
    parse_line(prefix + payload)
    parse_line(prefix + " " + payload)


@given(st.binary(max_size=200))
@settings(max_examples=500, deadline=None)
def test_parse_line_never_raises_on_arbitrary_bytes(data: bytes) -> None:
    parse_line(data.decode("utf-8", errors="replace"))


_DIGITS = st.text(alphabet="0123456789", min_size=3, max_size=15)


@given(
    st.one_of(_DIGITS, _DIGITS.map(lambda d: "+" + d), st.just("")),
    st.sampled_from([129, 145, 161, 128]),
    st.sampled_from([0, 1, 2]),
    st.sampled_from(list(ClipStyle)),
    st.one_of(st.none(), st.text(alphabet="ABCDEFGHIJ abcdefghij", max_size=12)),
    st.booleans(),
)
@settings(max_examples=600, deadline=None)
def test_every_family_caller_id_layout_parses_back_to_what_was_sent(
    number: str,
    number_type: int,
    validity: int,
    style: ClipStyle,
    alpha: str | None,
    waiting: bool,
) -> None:
    """What the virtual modem writes for each family is what the parser reads (+CCWA as
    27.007 lays it out: number, type, class, alpha, CLI validity)."""
    if waiting:
        line = f'+CCWA: "{number}",{number_type},1,"{alpha or ""}",{validity}'
        style = ClipStyle.SIMCOM  # one layout for every family
    else:
        line = f'+CLIP: "{number}",{number_type}{clip_fields(style, alpha, validity)}'
    urc = parse_line(line)
    assert isinstance(urc, CallWaiting if waiting else Clip)
    caller = urc.caller
    assert caller.raw == (number or None)
    assert caller.number_type == number_type
    if style is ClipStyle.GENERIC:  # no validity field: inferred from the number
        expected = CliValidity.VALID if number else CliValidity.UNAVAILABLE
    else:
        expected = [CliValidity.VALID, CliValidity.WITHHELD, CliValidity.UNAVAILABLE][validity]
    assert caller.validity is expected
    if not number:  # whatever the validity field says, no number is never a number
        assert not normalise(caller).is_number


@given(
    st.sampled_from(["voice", "noise", "silence"]),
    st.floats(0.0, 2.0),
    st.integers(95, 320),
    st.lists(st.integers(1, 2000), min_size=1, max_size=40),
)
@settings(max_examples=60, deadline=None)
def test_what_the_detector_hears_does_not_depend_on_chunking(
    kind: str, start_s: float, pitch_hz: int, sizes: list[int]
) -> None:
    audio = CallerSound(kind, start_s=start_s, pitch_hz=pitch_hz).next_chunk(3.0)
    whole = VoiceDetector()
    whole.feed(audio)
    chunked = VoiceDetector()
    position, index = 0, 0
    while position < len(audio):
        size = sizes[index % len(sizes)]
        chunked.feed(audio[position : position + size])
        position += size
        index += 1
    assert (chunked.frames, chunked.voiced_frames) == (whole.frames, whole.voiced_frames)
    assert chunked.heard == whole.heard
    if kind != "voice":
        assert not whole.heard
