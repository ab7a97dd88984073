"""How to run the `siaga` program again as a child process (`siaga demo` starts `siaga web`;
`siaga site-demo` starts `siaga run`, `siaga sync` and `siaga hub`).

The program is assembled at the top layer (`web_ui.cli`, which adds the web UI's commands
to the appliance's); its entry point names its module here before it parses anything, so
a child gets the same commands without the appliance importing the layer above it.
"""

from __future__ import annotations

import sys

_program_module = "web_ui.cli"  # what `main` names; the console script's module


def set_program_module(module: str) -> None:
    """The module whose `python -m` runs the whole program (set by its entry point)."""
    global _program_module
    _program_module = module


def siaga_command(*args: str) -> list[str]:
    """The command line of `siaga <args>` in this interpreter."""
    return [sys.executable, "-m", _program_module, *args]
