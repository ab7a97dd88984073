"""Siaga's call-screening application: policy, call log, line state machines, CLI, simulation.

This layer has no wires and no HTTP: it talks to modems only through `firmware`.
"""

from importlib import metadata


def package_version() -> str:
    """Siaga's installed version; `0+unknown` when run from a source tree not installed."""
    try:
        return metadata.version("siaga")
    except metadata.PackageNotFoundError:
        return "0+unknown"
