"""The udev rules give every modem port a unique /dev/siaga/ name, group dialout, mode 0660.

`udevadm test` needs real devices, so the rules are checked as text: each rule line sets
SYMLINK+="siaga/...", GROUP and MODE; no name is used twice; and the committed file is
exactly what udev/gen_rules.py makes from udev/slots.toml (they cannot drift apart).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
UDEV_DIR = REPO_ROOT / "udev"
RULES = UDEV_DIR / "99-siaga-modems.rules"
sys.path.insert(0, str(UDEV_DIR))

import gen_rules  # noqa: E402  (a standalone script in udev/, not a package)

_ASSIGNMENT = re.compile(r'^([A-Z_]+(?:\{[^}]*\})?)\s*(==|!=|\+=|-=|:=|=)\s*"(.*)"$')


def rules(text: str) -> list[dict[str, tuple[str, str]]]:
    """Each rule line as {key: (operator, value)}; comments, blanks, GOTO and LABEL left out."""
    parsed = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields: dict[str, tuple[str, str]] = {}
        for part in line.split(", "):
            match = _ASSIGNMENT.match(part.strip())
            assert match, f"cannot read {part!r} in {line!r}"
            key, operator, value = match.groups()
            fields[key] = (operator, value)
        if set(fields) & {"GOTO", "LABEL"}:
            continue
        parsed.append(fields)
    return parsed


def test_every_rule_sets_a_siaga_name_group_and_mode() -> None:
    parsed = rules(RULES.read_text(encoding="utf-8"))
    assert len(parsed) >= 4
    for fields in parsed:
        operator, name = fields["SYMLINK"]
        assert operator == "+=" and name.startswith("siaga/"), fields
        assert fields["GROUP"] == ("=", "dialout"), fields
        assert fields["MODE"] == ("=", "0660"), fields
        assert fields["SUBSYSTEM"][0] == "==", fields
        assert "KERNELS" in fields or "KERNEL" in fields, fields  # matched by physical slot


def test_every_line_name_is_unique() -> None:
    names = [fields["SYMLINK"][1] for fields in rules(RULES.read_text(encoding="utf-8"))]
    assert len(names) == len(set(names)), names
    matches = [
        (fields["SUBSYSTEM"], fields.get("KERNELS"), fields.get("KERNEL"))
        for fields in rules(RULES.read_text(encoding="utf-8"))
    ]
    assert len(matches) == len(set(matches)), "two rules match the same device"


def test_each_family_names_its_at_and_voice_interfaces() -> None:
    parsed = rules(RULES.read_text(encoding="utf-8"))
    by_name = {fields["SYMLINK"][1]: fields for fields in parsed}
    # The default slots: SIM7600, EC25, Huawei, a USB-serial adapter, in ports 1-1.1..4.
    assert by_name["siaga/line1"]["KERNELS"][1] == "1-1.1:1.2"
    assert by_name["siaga/line1-voice"]["KERNELS"][1] == "1-1.1:1.4"
    assert by_name["siaga/line2"]["KERNELS"][1] == "1-1.2:1.2"
    assert by_name["siaga/line2-voice"]["KERNELS"][1] == "1-1.2:1.1"
    assert by_name["siaga/line3"]["KERNELS"][1] == "1-1.3:1.2"
    assert by_name["siaga/line3-voice"]["KERNELS"][1] == "1-1.3:1.1"
    assert by_name["siaga/line4"]["KERNELS"][1] == "1-1.4:1.0"
    assert "siaga/line4-voice" not in by_name
    assert by_name["siaga/line4-usb"]["KERNEL"][1] == "1-1.4"


def test_the_rules_file_is_generated_from_the_slot_table() -> None:
    assert gen_rules.render(gen_rules.load_slots()) == RULES.read_text(encoding="utf-8")
    assert gen_rules.main(["--check"]) == 0


def test_a_slot_table_with_a_line_twice_is_refused(tmp_path: Path) -> None:
    slots = tmp_path / "slots.toml"
    slots.write_text(
        '[[slot]]\nline = "line1"\nusb_port = "1-1.1"\nfamily = "ec25"\n\n'
        '[[slot]]\nline = "line1"\nusb_port = "1-1.2"\nfamily = "ec25"\n'
    )
    with pytest.raises(gen_rules.SlotError, match="line1"):
        gen_rules.load_slots(slots)
    assert gen_rules.main(["--slots", str(slots), "--out", str(tmp_path / "x.rules")]) == 2


def test_an_adapted_table_makes_rules_for_a_hub_behind_a_port(tmp_path: Path) -> None:
    slots = tmp_path / "slots.toml"
    slots.write_text('[[slot]]\nline = "line7"\nusb_port = "1-1.1.3"\nfamily = "huawei"\n')
    out = tmp_path / "99.rules"
    assert gen_rules.main(["--slots", str(slots), "--out", str(out)]) == 0
    names = {fields["SYMLINK"][1]: fields for fields in rules(out.read_text())}
    assert set(names) == {"siaga/line7", "siaga/line7-voice", "siaga/line7-usb"}
    assert names["siaga/line7"]["KERNELS"][1] == "1-1.1.3:1.2"
