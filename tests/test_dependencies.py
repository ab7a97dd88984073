"""What a box installs: bounded ranges in pyproject.toml, exact versions in requirements.lock.

Two boxes installed a month apart must run the same code, and the suite must test the
code a box runs. So every dependency has a range with an upper bound (below the next
release that may break Siaga; time zone data excepted, which must stay current), the
lock pins every one of them and everything they pull in with `==`, each pin lies inside
its range, and this environment (set up by `./dev` with the lock as constraints) holds
exactly the pinned versions.
"""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
UNBOUNDED = {"tzdata"}  # new time zone rules must reach the boxes (the lock pins it)


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = [*project["dependencies"]]
    for extra in project["optional-dependencies"].values():
        names += extra
    return [Requirement(name) for name in names]


def pinned() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        name, separator, version = text.partition("==")
        assert separator, f"requirements.lock: {line!r} is not an exact pin (name==version)"
        pins[canonicalize_name(name)] = Version(version)
    return pins


def applies_here(requirement: Requirement) -> bool:
    return requirement.marker is None or requirement.marker.evaluate({"extra": "dev"})


def test_every_dependency_has_an_upper_bound() -> None:
    unbounded = [
        str(requirement)
        for requirement in declared()
        if requirement.name not in UNBOUNDED
        and not any(spec.operator in ("<", "<=", "==", "~=") for spec in requirement.specifier)
    ]
    assert unbounded == []


def test_the_lock_pins_every_dependency_inside_its_range() -> None:
    pins = pinned()
    outside = []
    for requirement in filter(applies_here, declared()):
        version = pins.get(canonicalize_name(requirement.name))
        if version is None or version not in requirement.specifier:
            outside.append(f"{requirement}: locked at {version}")
    assert outside == []


def test_this_environment_holds_exactly_the_locked_versions() -> None:
    installed = {
        canonicalize_name(dist.metadata["Name"]): Version(dist.version)
        for dist in metadata.distributions()
    }
    different = [
        f"{name}: locked {version}, installed {installed.get(name)}"
        for name, version in sorted(pinned().items())
        if installed.get(name) != version
    ]
    assert different == []
