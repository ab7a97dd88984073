"""Scenario files for `siaga simulate`: the format fixed by docs/contracts.md.

A scenario is a JSON Lines file, one call attempt per line (`to_json` / `from_json`).
`load_scenario` reads and validates a file and either returns every call or raises one
`ScenarioError` that names each bad line: a scenario is never half-loaded. The generators
of scenarios live apart: a month of Serang-like traffic in `appliance.month`, floods in
`appliance.floods`.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args

from appliance.model import is_genuine, is_well_formed_disposition

logger = logging.getLogger(__name__)

Truth = Literal["genuine", "prank", "ghost"]
TRUTHS: tuple[str, ...] = get_args(Truth)

PROMPT_KEY = "?"  # `answer.press` for a caller who presses whatever the prompt asks for
# `answer.sound`, an extension of the contract: what the caller's microphone picks up once
# answered. "voice": someone speaking into the phone; "noise": a phone in a pocket or bag
# (rustle, voices muffled by cloth); "silence": a quiet line. Absent means "silence", as
# the contract calls a caller who presses nothing silent.
Sound = Literal["voice", "noise", "silence"]
SOUNDS: tuple[str, ...] = get_args(Sound)
DEFAULT_SOUND: Sound = "silence"
DTMF_KEYS = frozenset("0123456789*#ABCD")
CONTRACT_FIELDS: tuple[str, ...] = (
    "id",
    "at",
    "caller",
    "answer",
    "hangup_after_s",
    "talk_s",
    "disposition",
    "truth",
)
MAX_PROBLEMS_IN_MESSAGE = 20  # a ScenarioError lists every problem in `.problems`


class ScenarioError(ValueError):
    """A scenario file has bad lines; `problems` holds (line number, problem) for each."""

    def __init__(self, path: Path | str, problems: Sequence[tuple[int, str]]) -> None:
        self.path = Path(path)
        self.problems: list[tuple[int, str]] = list(problems)
        shown = [f"{self.path}:{line}: {problem}" for line, problem in problems]
        hidden = len(shown) - MAX_PROBLEMS_IN_MESSAGE
        message = "\n".join(shown[:MAX_PROBLEMS_IN_MESSAGE])
        if hidden > 0:
            message += f"\n... and {hidden} more bad lines"
        super().__init__(message)


def _check_seconds(name: str, value: float, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "greater than 0" if positive else "0 or more"
        raise ValueError(f"{name} must be {bound}, got {value!r}")


def _check_press(press: str | None) -> None:
    if press is None or press == PROMPT_KEY:
        return
    if not isinstance(press, str) or not press or not set(press) <= DTMF_KEYS:
        raise ValueError(
            f'answer.press must be null, "?" or a string of DTMF keys 0-9*#A-D, got {press!r}'
        )


@dataclass(frozen=True)
class CallerAction:
    """What the caller does once the appliance answers.

    `press`: `"?"` presses whatever the prompt asks for, a key string is pressed whatever
    the prompt says, None presses nothing. `after_s`: seconds after the answer, when the
    keys are pressed and when a speaking caller starts to speak. `sound`: what the line
    carries from the caller's side (see `Sound`).
    """

    press: str | None
    after_s: float
    sound: Sound = DEFAULT_SOUND
    # `answer.call_back`, an extension: whether the caller picks up when an operator
    # calls back from the call-back list (absent: yes).
    call_back: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.call_back, bool):
            raise ValueError(f"answer.call_back must be true or false, got {self.call_back!r}")
        _check_press(self.press)
        _check_seconds("answer.after_s", self.after_s)
        if self.sound not in SOUNDS:
            raise ValueError(f"answer.sound must be one of {', '.join(SOUNDS)}, got {self.sound!r}")


@dataclass(frozen=True)
class ScenarioCall:
    """One call attempt of a scenario (docs/contracts.md); `truth` is for scoring only."""

    id: str
    at: datetime
    caller: str | None
    answer: CallerAction
    hangup_after_s: float
    talk_s: float
    disposition: str
    truth: Truth
    # `redial_of`, an extension: this call is a redial, made only if the call with that id
    # ended without reaching an operator (a caller who got through does not call again).
    redial_of: str | None = None

    def __post_init__(self) -> None:
        if self.redial_of is not None and not isinstance(self.redial_of, str):
            raise ValueError(f"redial_of must be a call id or null, got {self.redial_of!r}")
        if not isinstance(self.id, str) or not self.id:
            raise ValueError(f"id must be a non-empty string, got {self.id!r}")
        if not isinstance(self.at, datetime) or self.at.utcoffset() is None:
            raise ValueError(f"at must be a timezone-aware time, got {self.at!r}")
        if self.caller is not None and not isinstance(self.caller, str):
            raise ValueError(f"caller must be a string or null, got {self.caller!r}")
        _check_seconds("hangup_after_s", self.hangup_after_s, positive=True)
        _check_seconds("talk_s", self.talk_s)
        # `genuine:<kind>` with any kind: a centre names its own kinds (the contract).
        if not isinstance(self.disposition, str) or not is_well_formed_disposition(
            self.disposition
        ):
            raise ValueError(f"unknown disposition {self.disposition!r}")
        if self.truth not in TRUTHS:
            raise ValueError(f"truth must be one of {', '.join(TRUTHS)}, got {self.truth!r}")
        # A genuine disposition on a junk call (or the reverse) would make the score lie.
        if is_genuine(self.disposition) != (self.truth == "genuine"):
            raise ValueError(
                f"disposition {self.disposition!r} does not match truth {self.truth!r}"
            )


# ---------------------------------------------------------------------------------------
# The file format
# ---------------------------------------------------------------------------------------
def _json_seconds(value: float) -> int | float:
    """Whole seconds as an int (`"hangup_after_s": 60` in the contract), else a float."""
    return int(value) if float(value).is_integer() else float(value)


def to_json(call: ScenarioCall) -> dict[str, Any]:
    """The contract's JSON object for one call (keys in contract order)."""
    out = {
        "id": call.id,
        "at": call.at.isoformat(),
        "caller": call.caller,
        "answer": _answer_json(call.answer),
        "hangup_after_s": _json_seconds(call.hangup_after_s),
        "talk_s": _json_seconds(call.talk_s),
        "disposition": call.disposition,
        "truth": call.truth,
    }
    if call.redial_of is not None:
        out["redial_of"] = call.redial_of
    return out


def _answer_json(answer: CallerAction) -> dict[str, Any]:
    """`answer` as JSON; `sound` only when it is not the default, so a file written from
    contract-only input reads back byte for byte."""
    out: dict[str, Any] = {"press": answer.press, "after_s": float(answer.after_s)}
    if answer.sound != DEFAULT_SOUND:
        out["sound"] = answer.sound
    if not answer.call_back:
        out["call_back"] = False
    return out


def _parse_time(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"at must be an ISO 8601 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"at is not an ISO 8601 time: {value!r}") from None
    if moment.utcoffset() is None:
        raise ValueError(f"at has no UTC offset: {value!r}")
    return moment


def _parse_answer(value: object) -> CallerAction:
    if not isinstance(value, dict):
        raise ValueError(f"answer must be an object, got {value!r}")
    missing = [key for key in ("press", "after_s") if key not in value]
    if missing:
        raise ValueError(f"answer is missing {', '.join(missing)}")
    return CallerAction(
        press=value["press"],
        after_s=value["after_s"],
        sound=value.get("sound", DEFAULT_SOUND),
        call_back=value.get("call_back", True),
    )


def from_json(obj: object) -> ScenarioCall:
    """Parse one contract JSON object; raises ValueError naming the problem.

    Keys beyond the contract are ignored, so a later extension of the format still loads.
    """
    if not isinstance(obj, dict):
        raise ValueError(f"a scenario line must be a JSON object, got {type(obj).__name__}")
    missing = [key for key in CONTRACT_FIELDS if key not in obj]
    if missing:
        raise ValueError(f"missing field {', '.join(repr(key) for key in missing)}")
    return ScenarioCall(
        id=obj["id"],
        at=_parse_time(obj["at"]),
        caller=obj["caller"],
        answer=_parse_answer(obj["answer"]),
        hangup_after_s=obj["hangup_after_s"],
        talk_s=obj["talk_s"],
        disposition=obj["disposition"],
        truth=obj["truth"],
        redial_of=obj.get("redial_of"),
    )


def _parse_line(text: str) -> ScenarioCall:
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc.msg} at column {exc.colno}") from None
    return from_json(obj)


def load_scenario(path: Path | str) -> list[ScenarioCall]:
    """Read a JSON Lines scenario, sorted by `at` (file order among equal times).

    Blank lines are skipped. Every bad line (not JSON, missing or bad field, duplicate
    id) is collected, then one ScenarioError names them all; nothing is returned then.
    """
    path = Path(path)
    calls: list[ScenarioCall] = []
    problems: list[tuple[int, str]] = []
    first_line_of_id: dict[str, int] = {}
    with path.open(encoding="utf-8") as lines:
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            try:
                call = _parse_line(text)
            except ValueError as exc:
                problems.append((number, str(exc)))
                continue
            if call.id in first_line_of_id:
                problems.append(
                    (
                        number,
                        f"duplicate id {call.id!r} (first on line {first_line_of_id[call.id]})",
                    )
                )
                continue
            first_line_of_id[call.id] = number
            calls.append(call)
    if problems:
        raise ScenarioError(path, problems)
    calls.sort(key=lambda call: call.at)
    logger.info("loaded %d scenario calls from %s", len(calls), path)
    return calls


def dump_scenario(calls: Iterable[ScenarioCall], path: Path | str) -> None:
    """Write calls as JSON Lines (UTF-8), atomically: the file is complete or untouched."""
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            for call in calls:
                out.write(json.dumps(to_json(call), ensure_ascii=False))
                out.write("\n")
                count += 1
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    logger.info("wrote %d scenario calls to %s", count, path)


# ---------------------------------------------------------------------------------------
# Subscribers
# ---------------------------------------------------------------------------------------
def subscriber_key(caller: str | None) -> str | None:
    """One key per Indonesian subscriber: `0812...`, `62812...` and `+62 812-...` agree.

    A deliberately small normaliser for scoring and summaries (the appliance has its own
    E.164 normaliser): digits only, a leading country code 62 becomes the national 0.
    """
    if caller is None:
        return None
    digits = "".join(ch for ch in caller if ch.isdigit())
    if not digits:
        return None
    if digits.startswith("62"):
        return "0" + digits[2:]
    return digits


__all__ = [
    "DTMF_KEYS",
    "PROMPT_KEY",
    "CallerAction",
    "ScenarioCall",
    "ScenarioError",
    "Truth",
    "dump_scenario",
    "from_json",
    "load_scenario",
    "subscriber_key",
    "to_json",
]
