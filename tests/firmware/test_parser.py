"""The pure AT line parsers: caller-ID layouts, URC spellings, final results, prefixes."""

from __future__ import annotations

import pytest

from firmware.at.parser import (
    FinalResult,
    is_final_result,
    parse_clip_fields,
    parse_line,
    response_prefix,
    split_fields,
)
from firmware.at.urc import (
    CallConnected,
    CallEnded,
    CallerId,
    CallStatus,
    CallWaiting,
    Clip,
    CliValidity,
    Dtmf,
    ModemBooted,
    ModemPowerDown,
    OtherUrc,
    PromptFinished,
    Ring,
)

V = CliValidity

# -- caller ID ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ('"+441234567890",145,"",0,"",0', CallerId("+441234567890", 145, V.VALID)),
        ('"",128,"",0,"",1', CallerId(None, 128, V.WITHHELD)),
        ('"",128,"",0,"",2', CallerId(None, 128, V.UNAVAILABLE)),
        ('"081234567890",129,"",0,"",0', CallerId("081234567890", 129, V.VALID)),
        ('"6281234567890",145,"",0,"",0', CallerId("6281234567890", 145, V.VALID)),
        ('"02151082965",129,,,"QUECTEL",0', CallerId("02151082965", 129, V.VALID, "QUECTEL")),
        ('"82882690",129,,,,0', CallerId("82882690", 129, V.VALID)),
        ('"",128,,,,1', CallerId(None, 128, V.WITHHELD)),
        ('"0812345",129', CallerId("0812345", 129, V.VALID)),
        ('"",128', CallerId(None, 128, V.UNAVAILABLE)),
        ("0812345,129", CallerId("0812345", 129, V.VALID)),
        # Labels are reported as sent; appliance.numbers says what they mean.
        ('"PRIVATE",128', CallerId("PRIVATE", 128, V.VALID)),
        ('"Unknown",128', CallerId("Unknown", 128, V.VALID)),
        ('"PRIVATE",128,"",0,"",0', CallerId("PRIVATE", 128, V.VALID)),
        ('"TELKOMSEL",208,"",0,"",0', CallerId("TELKOMSEL", 208, V.VALID)),
        ('"BANK1",208,"",0,"",0', CallerId("BANK1", 208, V.VALID)),
        ('"*31#0812",129,"",0,"",0', CallerId("*31#0812", 129, V.VALID)),
        ('"0812",129,"",0,"",3', CallerId("0812", 129, V.PAYPHONE)),
        ('"0812",129,"",0,"",9', CallerId("0812", 129, V.OTHER)),
        ('"0812",abc', CallerId("0812", None, V.VALID)),
        ('"0812', CallerId(None, None, V.UNAVAILABLE)),
        ("", CallerId(None, None, V.UNAVAILABLE)),
        ("   ", CallerId(None, None, V.UNAVAILABLE)),
        (",,,,", CallerId(None, None, V.UNAVAILABLE)),
        ('"a,b",129,"",0,"x,y",0', CallerId("a,b", 129, V.VALID, "x,y")),
    ],
)
def test_clip_payload_layouts(payload: str, expected: CallerId) -> None:
    assert parse_clip_fields(payload) == expected


def test_has_number_only_for_valid_non_empty_numbers() -> None:
    assert parse_clip_fields('"0812",129').has_number
    assert not parse_clip_fields('"",128,"",0,"",1').has_number
    assert not parse_clip_fields('"PRIVATE",128').has_number
    assert not parse_clip_fields('"TELKOMSEL",208').has_number
    assert not parse_clip_fields('"BANK1",208').has_number
    assert not parse_clip_fields("garbage\x00\ufffd").has_number


def test_ccwa_layout_has_validity_in_fifth_field() -> None:
    caller = parse_clip_fields('"055728386",129,1,"",0', waiting=True)
    assert caller == CallerId("055728386", 129, V.VALID)
    withheld = parse_clip_fields('"",128,1,"",1', waiting=True)
    assert withheld.validity is V.WITHHELD


def test_split_fields_honours_quotes_and_reports_unbalanced() -> None:
    assert split_fields('"a,b", 129 ,,') == ["a,b", "129", "", ""]
    assert split_fields('"a') is None


# -- URC lines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("RING", Ring("RING")),
        ("+CRING: VOICE", Ring("+CRING: VOICE", extended=True)),
        ("NO CARRIER", CallEnded("NO CARRIER", cause="no_carrier")),
        ("BUSY", CallEnded("BUSY", cause="busy")),
        ("NO ANSWER", CallEnded("NO ANSWER", cause="no_answer")),
        ("VOICE CALL: END: 000008", CallEnded("VOICE CALL: END: 000008", "voice_call_end")),
        ("VOICE CALL: BEGIN", CallConnected("VOICE CALL: BEGIN")),
        (
            "MISSED_CALL: 11:53AM +447700900123",
            CallEnded("MISSED_CALL: 11:53AM +447700900123", "missed_call"),
        ),
        ("^CEND:1,5,29,16", CallEnded("^CEND:1,5,29,16", "cend", call_id=1)),
        ("^CEND:1,5,29", CallEnded("^CEND:1,5,29", "cend", call_id=1)),
        ("^CONN:1,0", CallConnected("^CONN:1,0", call_id=1)),
        ("+DTMF: 5", Dtmf("+DTMF: 5", "5")),
        ("+DTMF: 5,160", Dtmf("+DTMF: 5,160", "5")),
        ("+DTMF: #", Dtmf("+DTMF: #", "#")),
        ("+RXDTMF: 5", Dtmf("+RXDTMF: 5", "5")),
        ("+RXDTMF: *", Dtmf("+RXDTMF: *", "*")),
        ("^DDTMF: 5", Dtmf("^DDTMF: 5", "5")),
        ("+QTONEDET: 53", Dtmf("+QTONEDET: 53", "5")),
        ("+QTONEDET: 42", Dtmf("+QTONEDET: 42", "*")),
        ("+QTONEDET: 35", Dtmf("+QTONEDET: 35", "#")),
        ("+QTONEDET: 65", Dtmf("+QTONEDET: 65", "A")),
        ("+QTONEDET: 68", Dtmf("+QTONEDET: 68", "D")),
        ("+QTONEDET: 70", OtherUrc("+QTONEDET: 70")),
        ("+DTMF: X", OtherUrc("+DTMF: X")),
        ("+CREC: 0", PromptFinished("+CREC: 0", ok=True)),
        ("+CTTS: 0", PromptFinished("+CTTS: 0", ok=True)),
        ("+AUDIOSTATE: audio play stop", PromptFinished("+AUDIOSTATE: audio play stop")),
        ("+AUDIOSTATE: audio play", OtherUrc("+AUDIOSTATE: audio play")),
        ("+QPSND: 0", PromptFinished("+QPSND: 0", ok=True)),
        ("+QWTTS: 0", PromptFinished("+QWTTS: 0", ok=True)),
        ("+QWTTS: 4111", PromptFinished("+QWTTS: 4111", ok=False)),
        ("RDY", ModemBooted("RDY")),
        ("Call Ready", ModemBooted("Call Ready")),
        ("SMS Ready", ModemBooted("SMS Ready")),
        ("+QIND: PB DONE", ModemBooted("+QIND: PB DONE")),
        ("+CFUN: 1", ModemBooted("+CFUN: 1")),
        ("+CPIN: READY", ModemBooted("+CPIN: READY")),
        ("NORMAL POWER DOWN", ModemPowerDown("NORMAL POWER DOWN", "normal")),
        ("UNDER-VOLTAGE POWER DOWN", ModemPowerDown("UNDER-VOLTAGE POWER DOWN", "under_voltage")),
        ("UNDER-VOLTAGE WARNNING", OtherUrc("UNDER-VOLTAGE WARNNING")),
        ("^BOOT:12345,0,0,0,72", OtherUrc("^BOOT:12345,0,0,0,72")),
        ("+CPIN: NOT INSERTED", OtherUrc("+CPIN: NOT INSERTED")),
        ('+CMTI: "SM",3', OtherUrc('+CMTI: "SM",3')),
        ("^RSSI:18", OtherUrc("^RSSI:18")),
        ("^MODE:5,4", OtherUrc("^MODE:5,4")),
        ("+CREG: 1", OtherUrc("+CREG: 1")),
        ("^DSFLOWRPT:0,0,0,0,0,0,0", OtherUrc("^DSFLOWRPT:0,0,0,0,0,0,0")),
        ("+QIND: SMS DONE", OtherUrc("+QIND: SMS DONE")),
        ("+QUSIM: 1", OtherUrc("+QUSIM: 1")),
    ],
)
def test_parse_line_recognises_each_dialect(line: str, expected: object) -> None:
    assert parse_line(line) == expected


@pytest.mark.parametrize("line", ["OK", "ERROR", "SIMCOM_Ltd", "+CSQ: 20,0", "", "   ", "RINGING"])
def test_parse_line_returns_none_for_non_urcs(line: str) -> None:
    assert parse_line(line) is None


def test_clip_and_ccwa_lines_carry_the_caller() -> None:
    clip = parse_line('+CLIP: "+6281234567890",145,"",0,"",0')
    assert isinstance(clip, Clip)
    assert clip.caller.raw == "+6281234567890"
    waiting = parse_line('+CCWA: "055728386",129,1,"",0')
    assert isinstance(waiting, CallWaiting)
    assert waiting.caller.raw == "055728386"


def test_clcc_state_urc_and_malformed_clcc() -> None:
    status = parse_line('+CLCC: 1,1,4,0,0,"+441234567890",145,""')
    assert status == CallStatus(
        '+CLCC: 1,1,4,0,0,"+441234567890",145,""',
        call_id=1,
        direction=1,
        state=4,
        number="+441234567890",
        number_type=145,
    )
    bare = parse_line("+CLCC: 2,1,6,0,0")
    assert isinstance(bare, CallStatus)
    assert (bare.state, bare.number) == (6, None)
    assert parse_line("+CLCC: x") == OtherUrc("+CLCC: x")


@pytest.mark.parametrize(
    "line",
    ["+CLIP: \ufffd\x00", "+CLIP:", "+CLCC: ,,,,", "^CEND:", "+QTONEDET: ", "+CREC: x", '+CLIP: "'],
)
def test_malformed_payloads_never_raise(line: str) -> None:
    assert parse_line(line) is not None


# -- final results ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "dial", "expected"),
    [
        ("OK", False, FinalResult.OK),
        ("ERROR", False, FinalResult.ERROR),
        ("+CME ERROR: 3", False, FinalResult.CME_ERROR),
        ("+CMS ERROR: 500", False, FinalResult.CMS_ERROR),
        ("COMMAND NOT SUPPORT", False, FinalResult.NOT_SUPPORTED),
        ("NO CARRIER", False, None),
        ("NO CARRIER", True, FinalResult.NO_CARRIER),
        ("BUSY", True, FinalResult.BUSY),
        ("NO ANSWER", True, FinalResult.NO_ANSWER),
        ("NO DIALTONE", True, FinalResult.NO_DIALTONE),
        ("CONNECT", True, FinalResult.CONNECT),
        ("CONNECT 9600", True, FinalResult.CONNECT),
        ("CONNECT", False, None),
        ("RING", True, None),
        ("+CSQ: 20,0", False, None),
    ],
)
def test_final_results(line: str, dial: bool, expected: FinalResult | None) -> None:
    assert is_final_result(line, dial=dial) is expected


def test_only_ok_and_connect_are_success() -> None:
    assert {result for result in FinalResult if result.ok} == {
        FinalResult.OK,
        FinalResult.CONNECT,
    }


# -- response prefixes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "prefix"),
    [
        ("AT+CSQ", "+CSQ:"),
        ("AT+CPIN?", "+CPIN:"),
        ("AT+CLCC", "+CLCC:"),
        ("AT^CVOICE?", "^CVOICE:"),
        ("at+creg?", "+CREG:"),
        ("AT+COPS=?", "+COPS:"),
        ('AT+CPMS="SM"', "+CPMS:"),
        ("AT+CCWA=1,2", "+CCWA:"),
        ("AT+CCWA=1", None),
        ("AT+CLIP=1", None),
        ('AT+CTTS=2,"Tekan lima"', None),
        ("ATA", None),
        ("ATH", None),
        ("ATE0", None),
        ("ATZ", None),
        ("AT", None),
        ("AT+CPCMREG=0;A", None),
    ],
)
def test_response_prefix(command: str, prefix: str | None) -> None:
    assert response_prefix(command) == prefix


@pytest.mark.parametrize(
    ("line", "call_id"),
    [("^CEND:2,0,29,17", 2), ("^CEND:1,5,29", 1), ("^CONN:1,0", 1), ("^CEND:x,5,29", None)],
)
def test_huawei_call_lines_carry_the_modem_call_id(line: str, call_id: int | None) -> None:
    urc = parse_line(line)
    assert isinstance(urc, CallEnded | CallConnected)
    assert urc.call_id == call_id
