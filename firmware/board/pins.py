"""Board pin maps: which Raspberry Pi GPIO (BCM numbering) does what, per modem line.

A pin map is a TOML data file under `firmware/boards/` (or any path) with one `[[slots]]`
table per modem line, in the order of the configuration's `[[lines]]`:

    [[slots]]
    status_led = 17                            # output: the line's status LED
    desk_lamp = 18                             # output: the operator desk's lamp or buzzer
    answer_button = { pin = 4, active_low = true, pull = "up" }   # input, to ground
    power_key = 23                             # output: drives the modem's PWRKEY transistor
    modem_status = 24                          # input: the modem's STATUS pin (level-shifted)

A pin is a BCM number, or an inline table with `pin`, `active_low` and `pull` ("up",
"down", "off"). Roles default to what the usual wiring needs: the answer button is active
low with the Pi's pull-up (a button to ground); every other pin is active high without a
pull. The map is validated on load: BCM numbers 2-27 only (0 and 1 belong to the HAT
EEPROM), no pin used twice, every role present; each problem is named in a `BoardSpecError`.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

BOARDS_DIR = Path(__file__).resolve().parent.parent / "boards"
BCM_MIN = 2  # BCM 0 and 1 are the HAT ID EEPROM's I2C bus
BCM_MAX = 27  # the 40-pin header of a Pi 2/3/4/5 ends at BCM 27
BOARD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")

Pull = Literal["up", "down", "off"]
OUTPUT_ROLES = ("status_led", "desk_lamp", "power_key")
INPUT_ROLES = ("answer_button", "modem_status")
ROLES = OUTPUT_ROLES + INPUT_ROLES
_ROLE_DEFAULTS: dict[str, tuple[bool, Pull]] = {
    "status_led": (False, "off"),
    "desk_lamp": (False, "off"),
    "power_key": (False, "off"),
    "answer_button": (True, "up"),
    "modem_status": (False, "off"),
}


class BoardSpecError(ValueError):
    """A pin map that cannot be used; the message names the file and every problem."""


@dataclass(frozen=True)
class PinSpec:
    """One GPIO: BCM number and polarity. `active_low`: the pin reads/drives 0 when active."""

    bcm: int
    active_low: bool = False
    pull: Pull = "off"


@dataclass(frozen=True)
class SlotPins:
    """The pins of one modem line (slot n serves the configuration's n-th `[[lines]]`)."""

    number: int  # 1-based
    status_led: PinSpec
    desk_lamp: PinSpec
    answer_button: PinSpec
    power_key: PinSpec
    modem_status: PinSpec

    def outputs(self) -> tuple[PinSpec, ...]:
        """The slot's output pins."""
        return (self.status_led, self.desk_lamp, self.power_key)

    def inputs(self) -> tuple[PinSpec, ...]:
        """The slot's input pins."""
        return (self.answer_button, self.modem_status)


@dataclass(frozen=True)
class BoardSpec:
    """A validated pin map."""

    name: str
    description: str
    slots: tuple[SlotPins, ...]

    def slot(self, number: int) -> SlotPins | None:
        """Slot `number` (1-based), or None if the board has fewer slots."""
        return self.slots[number - 1] if 1 <= number <= len(self.slots) else None

    def outputs(self) -> list[PinSpec]:
        """Every output pin of the board."""
        return [pin for slot in self.slots for pin in slot.outputs()]

    def inputs(self) -> list[PinSpec]:
        """Every input pin of the board."""
        return [pin for slot in self.slots for pin in slot.inputs()]


def board_path(name: str) -> Path:
    """The file of board `name`: a bundled map (`default`) or a path to a `.toml` file."""
    if name.endswith(".toml") or "/" in name:
        return Path(name)
    if not BOARD_NAME.match(name):
        raise BoardSpecError(f"board {name!r}: not a board name or a path to a .toml file")
    return BOARDS_DIR / f"{name}.toml"


def load_board_spec(name: str) -> BoardSpec:
    """Read and validate the pin map `name` (see `board_path`)."""
    path = board_path(name)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        bundled = ", ".join(sorted(p.stem for p in BOARDS_DIR.glob("*.toml")))
        raise BoardSpecError(f"board {name!r}: no file {path} (bundled: {bundled})") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BoardSpecError(f"board {name!r}: cannot read {path}: {exc}") from None
    return parse_board_spec(data, source=str(path))


def parse_board_spec(data: dict[str, Any], source: str = "<board>") -> BoardSpec:
    """Validate a parsed pin map; raise BoardSpecError listing every problem."""
    problems: list[str] = []
    unknown = sorted(set(data) - {"name", "description", "slots"})
    if unknown:
        problems.append(f"unknown keys {unknown}")
    raw_slots = data.get("slots")
    if not isinstance(raw_slots, list) or not raw_slots:
        problems.append("slots: at least one [[slots]] table is needed")
        raw_slots = []
    slots = [_parse_slot(raw, number, problems) for number, raw in enumerate(raw_slots, 1)]
    _check_unique([slot for slot in slots if slot is not None], problems)
    if problems:
        raise BoardSpecError(f"{source}: " + "; ".join(problems))
    return BoardSpec(
        name=str(data.get("name", Path(source).stem)),
        description=str(data.get("description", "")),
        slots=tuple(slot for slot in slots if slot is not None),
    )


def _parse_slot(raw: object, number: int, problems: list[str]) -> SlotPins | None:
    where = f"slots[{number}]"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a table")
        return None
    unknown = sorted(set(raw) - set(ROLES))
    if unknown:
        problems.append(f"{where}: unknown roles {unknown} (expected {', '.join(ROLES)})")
    pins: dict[str, PinSpec] = {}
    for role in ROLES:
        if role not in raw:
            problems.append(f"{where}.{role}: missing")
            continue
        pin = _parse_pin(raw[role], role, f"{where}.{role}", problems)
        if pin is not None:
            pins[role] = pin
    if len(pins) != len(ROLES):
        return None
    return SlotPins(number=number, **pins)


def _parse_pin(raw: object, role: str, where: str, problems: list[str]) -> PinSpec | None:
    active_low, pull = _ROLE_DEFAULTS[role]
    if isinstance(raw, dict):
        unknown = sorted(set(raw) - {"pin", "active_low", "pull"})
        if unknown:
            problems.append(f"{where}: unknown keys {unknown}")
        bcm = raw.get("pin")
        active_low = raw.get("active_low", active_low)
        pull = raw.get("pull", pull)
    else:
        bcm = raw
    if isinstance(bcm, bool) or not isinstance(bcm, int):
        problems.append(f"{where}: the pin must be a BCM number, not {bcm!r}")
        return None
    if not BCM_MIN <= bcm <= BCM_MAX:
        problems.append(f"{where}: BCM {bcm} is out of range ({BCM_MIN}-{BCM_MAX})")
        return None
    if not isinstance(active_low, bool):
        problems.append(f"{where}.active_low: must be true or false")
        return None
    if pull not in ("up", "down", "off"):
        problems.append(f"{where}.pull: must be 'up', 'down' or 'off', not {pull!r}")
        return None
    return PinSpec(bcm=bcm, active_low=active_low, pull=pull)


def _check_unique(slots: list[SlotPins], problems: list[str]) -> None:
    users: dict[int, list[str]] = {}
    for slot in slots:
        for role in ROLES:
            pin: PinSpec = getattr(slot, role)
            users.setdefault(pin.bcm, []).append(f"slots[{slot.number}].{role}")
    for bcm, roles in sorted(users.items()):
        if len(roles) > 1:
            problems.append(f"BCM {bcm} is used twice: {', '.join(roles)}")
