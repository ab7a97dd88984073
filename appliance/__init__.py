"""Siaga's call-screening application: policy, call log, line state machines, CLI, simulation.

This layer has no wires and no HTTP: it talks to modems only through `firmware`.
"""

import importlib
import sys
from importlib import metadata

# sqlite-utils imports numpy and pandas at its own import when they are installed, only to
# map their types on insert, which Siaga never does. numpy is installed for the voice
# detector, so every process that touches the database would carry it (12 MB of the line
# service's memory). Every `appliance` module imports this package first: sqlite-utils
# is imported here with them hidden, and numpy stays importable for the lines that listen
# (`firmware.audio`). Where numpy is loaded already, nothing is hidden.
_HIDDEN = [name for name in ("numpy", "pandas") if name not in sys.modules]
for _name in _HIDDEN:
    sys.modules[_name] = None  # type: ignore[assignment]  # "not installed", for a moment
try:
    importlib.import_module("sqlite_utils")
finally:
    for _name in _HIDDEN:
        del sys.modules[_name]


def package_version() -> str:
    """Siaga's installed version; `0+unknown` when run from a source tree not installed."""
    try:
        return metadata.version("siaga")
    except metadata.PackageNotFoundError:
        return "0+unknown"
