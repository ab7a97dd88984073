"""`siaga sync` and `siaga hub` stop cleanly on SIGTERM, which `systemctl stop` sends.

Their units stop them with systemd's default signal; a process that died of it would
leave its database unclosed and its journal without the stop. Each is started as the
unit starts it (the `siaga` command, a real server), given SIGTERM once connected, and
must exit with status 0 after logging that it stopped.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.cluster.conftest import NatsServer, wait_for
from tests.faults.conftest import SiagaProcess

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    ("command", "appliance", "connected"),
    [
        ("sync", "box1", "sync: connected to"),
        ("hub", "hub", "hub: consuming every site's"),
    ],
)
def test_sigterm_ends_the_sharing_process_cleanly(
    tmp_path: Path, nats_server: NatsServer, command: str, appliance: str, connected: str
) -> None:
    config = tmp_path / "siaga.toml"
    config.write_text(
        f'[database]\npath = "{tmp_path / "siaga.db"}"\n\n'
        f'[cluster]\nsite = "serang"\nappliance = "{appliance}"\n'
        f'servers = ["{nats_server.url}"]\nretry_s = 0.2\n',
        encoding="utf-8",
    )
    process = SiagaProcess([command, "--config", str(config)], tmp_path / f"{command}.log")
    try:
        wait_for(lambda: connected in process.output(), f"siaga {command} to connect")
        process.process.send_signal(signal.SIGTERM)
        assert process.process.wait(timeout=20) == 0, process.output()[-2000:]
    finally:
        if process.process.poll() is None:
            process.kill()
    assert f"siaga {command} stopped" in process.output()
