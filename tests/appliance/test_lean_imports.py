"""What the line service loads: numpy only where a line listens.

numpy is installed for the voice detector; sqlite-utils would import it too, and with it
every process that touches the database would carry it. A line that listens still gets
it, and sqlite-utils still works without it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def probe(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return result.stdout.strip()


def test_the_line_service_and_the_cli_do_not_load_numpy() -> None:
    loaded = probe(
        "import sys, appliance.service, appliance.cli, web_ui.cli; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('numpy', 'pandas')))"
    )
    assert loaded == "[]"


def test_a_line_that_listens_still_gets_numpy_and_the_database_still_works(
    tmp_path: Path,
) -> None:
    db = tmp_path / "calls.db"
    answer = probe(
        "import appliance.store, sqlite_utils, firmware.audio, sys; "
        f"d = sqlite_utils.Database({str(db)!r}); d['t'].insert({{'a': 1}}); "
        "print('numpy' in sys.modules, d['t'].count)"
    )
    assert answer == "True 1"
