"""`siaga site-demo`: several appliances, a NATS server and the province hub, on one machine.

Everything runs as it would on separate boxes, as separate processes: one `nats-server`
with JetStream in the demo's folder; per appliance a `siaga demo` (virtual modems,
generated traffic, its own database) and a `siaga sync`; then `siaga hub`, which gathers
every appliance's calls and verdicts, and `siaga web` on the hub's database. The folder
keeps each process's configuration and log, so a reader can see what each one was told
and what it did. Ctrl-C stops everything; a process that dies stops the demo and names it.
"""

from __future__ import annotations

import logging
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from appliance.program import siaga_command

logger = logging.getLogger(__name__)

SITE = "demo"
POLL_S = 0.5
STOP_WAIT_S = 20.0
SERVER_WAIT_S = 15.0


class SiteDemoError(RuntimeError):
    """The demo cannot start; the message says what to do."""


@dataclass(frozen=True)
class SiteDemoOptions:
    """What the demo runs: `appliances` boxes of `lines` virtual lines each."""

    folder: Path
    appliances: int = 2
    lines: int = 4
    speed: float = 60.0
    days: int = 1
    port: int = 8112


@dataclass
class _Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path


@dataclass
class SiteDemo:
    """The running demo's processes, started in order and stopped in reverse."""

    options: SiteDemoOptions
    processes: list[_Process] = field(default_factory=list)

    def start(self) -> None:
        folder = self.options.folder
        folder.mkdir(parents=True, exist_ok=True)
        url = self._start_server()
        for index in range(1, self.options.appliances + 1):
            self._start_appliance(index, url)
        hub_config = _write(
            folder / "hub.toml",
            f'[site]\nname = "Provinsi (demo)"\n[database]\npath = "{folder / "hub.db"}"\n'
            f'[cluster]\nsite = "province"\nappliance = "hub"\nservers = ["{url}"]\n',
        )
        self._spawn("hub", ["hub", "--config", str(hub_config)])
        self._spawn("web", ["web", "--config", str(hub_config), "--port", str(self.options.port)])

    def _start_server(self) -> str:
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        if not Path(binary).exists():
            raise SiteDemoError(
                "nats-server is missing: sudo apt-get install nats-server (./dev site-demo does)"
            )
        port = _free_port()
        config = _write(
            self.options.folder / "nats-server.conf",
            f'listen: "127.0.0.1:{port}"\n'
            f'jetstream {{ store_dir: "{self.options.folder / "jetstream"}" }}\n',
        )
        self._spawn("nats-server", [binary, "-c", str(config)], siaga=False)
        deadline = time.monotonic() + SERVER_WAIT_S
        while not _listening(port):
            if time.monotonic() > deadline:
                raise SiteDemoError("nats-server did not start: see nats-server.log")
            time.sleep(0.1)
        return f"nats://127.0.0.1:{port}"

    def _start_appliance(self, index: int, url: str) -> None:
        name = f"box{index}"
        db = self.options.folder / f"{name}.db"
        config = _write(
            self.options.folder / f"{name}.toml",
            f'[database]\npath = "{db}"\n'
            f'[cluster]\nsite = "{SITE}"\nappliance = "{name}"\nservers = ["{url}"]\n',
        )
        options = self.options
        demo = ["demo", "--config", str(config), "--db", str(db), "--no-web", "--seed",
                str(index), "--lines", str(options.lines), "--speed", str(options.speed),
                "--days", str(options.days)]  # fmt: skip
        self._spawn(name, demo)
        self._spawn(f"{name}-sync", ["sync", "--config", str(config)])

    def _spawn(self, name: str, args: list[str], *, siaga: bool = True) -> None:
        log = self.options.folder / f"{name}.log"
        command = siaga_command("-v", *args) if siaga else args
        with log.open("ab") as out:
            popen = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(_Process(name, popen, log))
        logger.warning("site demo: %s started (log %s)", name, log)

    def wait(self) -> str | None:
        """Until Ctrl-C (None) or a process fails (its name). An appliance whose generated
        days are over ends by itself, cleanly: the rest (its sharing, the hub, the web UI)
        keeps running so its calls can still be read."""
        finished: set[str] = set()
        try:
            while True:
                for process in self.processes:
                    code = process.popen.poll()
                    if code is None or process.name in finished:
                        continue
                    if code == 0 and _is_appliance(process.name):
                        finished.add(process.name)
                        logger.warning("site demo: %s played all its days", process.name)
                        continue
                    return process.name
                time.sleep(POLL_S)
        except KeyboardInterrupt:
            return None

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGINT)
        deadline = time.monotonic() + STOP_WAIT_S
        for process in reversed(self.processes):
            try:
                process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait()


def run_site_demo(options: SiteDemoOptions) -> int:
    """Start the site, say where to look, and stop it all on Ctrl-C."""
    demo = SiteDemo(options)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill`, as Ctrl-C: stop every process
    try:
        demo.start()
        logger.warning(
            "site demo running: %d appliance(s) of %d lines sharing through NATS, and the "
            "province hub. Its web UI: http://127.0.0.1:%d (the first account's setup link "
            "is in %s). Ctrl-C stops it all.",
            options.appliances,
            options.lines,
            options.port,
            options.folder / "hub.db.setup-link",
        )
        ended = demo.wait()
    finally:
        demo.stop()
    if ended is not None:
        logger.error("site demo stopped: %s ended; see its log in %s", ended, options.folder)
        return 1
    logger.warning("site demo stopped; databases and logs are in %s", options.folder)
    return 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _is_appliance(name: str) -> bool:
    return name.startswith("box") and not name.endswith("-sync")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False
