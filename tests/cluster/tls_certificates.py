"""Certificates for the TLS tests, made as a technician makes them, and a plain-text client.

The site's CA is made by the installer's own function (`install.sh`'s `tls_make_ca`, as
for `siaga web`'s HTTPS), and a server's certificate signed by it with the shell lines
docs/cluster.md gives; a stranger's CA, made the same way, signed a certificate of its own
with the same lines, for a server that does not belong to the site. One certificate names
every address the tests use (localhost, 127.0.0.1), so it serves each server's clients,
leaf-node link and routes.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
from pathlib import Path

from tests.faults.conftest import REPO_ROOT

SERVER_NAMES = "DNS:localhost,IP:127.0.0.1"
CLUSTER_DOC = REPO_ROOT / "docs" / "cluster.md"


def documented_lines(marker: str, folder: Path, replacements: dict[str, str]) -> str:
    """The shell lines of the docs/cluster.md block that holds `marker`, run in `folder`,
    each documented text in `replacements` (the box's own names) replaced by its value."""
    blocks = re.findall(r"```sh\n(.*?)```", CLUSTER_DOC.read_text(encoding="utf-8"), re.S)
    lines = next(block for block in blocks if marker in block)
    for documented, here in {"cd /etc/siaga/tls\n": f'cd "{folder}"\n', **replacements}.items():
        assert documented in lines, f"docs/cluster.md's lines around {marker} lost {documented!r}"
        lines = lines.replace(documented, here)
    return lines


def documented_signing(folder: Path, names: str) -> str:
    """The lines docs/cluster.md gives for signing a server's certificate, for `names`."""
    return documented_lines("nats-server.crt", folder, {'names="IP:10.0.0.5"': f'names="{names}"'})


def documented_box_signing(folder: Path, box: str) -> str:
    """The lines docs/cluster.md gives for signing a box's own certificate (mutual TLS)."""
    return documented_lines('"$box.crt"', folder, {'box="box1"': f'box="{box}"'})


class Certificates:
    """The site's CA, made by the installer's own function (`install.sh`'s `tls_make_ca`,
    as for `siaga web`'s HTTPS); the server's certificate signed by it with the lines
    docs/cluster.md gives; and a stranger's CA that signed nothing of this site, only a
    server certificate of its own (the same lines)."""

    def __init__(self, folder: Path) -> None:
        self.site = folder / "site"
        self.stranger = folder / "stranger"
        for made in (self.site, self.stranger):
            made.mkdir(parents=True)
        script = 'source "$1" && tls_make_ca "$2" "Siaga test CA" && tls_make_ca "$3" "Other CA"'
        self._bash(script, str(REPO_ROOT / "install.sh"), str(self.site), str(self.stranger))
        for made in (self.site, self.stranger):
            self._bash(documented_signing(made, SERVER_NAMES))

    @staticmethod
    def _bash(script: str, *args: str) -> None:
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script, "certificates", *args],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr

    @property
    def ca(self) -> Path:
        return self.site / "siaga-ca.crt"

    @property
    def stranger_ca(self) -> Path:
        return self.stranger / "siaga-ca.crt"

    def box_certificate(self, box: str, *, stranger: bool = False) -> tuple[Path, Path]:
        """A box's own certificate and key (mutual TLS), signed by the site's CA (the
        stranger's with `stranger`) with the lines docs/cluster.md gives."""
        folder = self.stranger if stranger else self.site
        self._bash(documented_box_signing(folder, box))
        return folder / f"{box}.crt", folder / f"{box}.key"

    def server_block(
        self, *, stranger: bool = False, peers_ca: bool = False, verify: bool = False
    ) -> str:
        """A `tls {}` block with the server's certificate (the stranger's with `stranger`):
        at the top level the server then accepts TLS clients only, in `leafnodes {}` TLS
        leaf nodes only. `peers_ca` adds the CA (the same one) that must have signed the
        certificate a peer presents, as `cluster {}` needs for its routes; `verify` asks
        every client for such a certificate too (mutual TLS)."""
        folder = self.stranger if stranger else self.site
        ca = f'ca_file: "{folder / "siaga-ca.crt"}", ' if peers_ca or verify else ""
        checked = "verify: true, " if verify else ""
        return (
            f'tls {{ cert_file: "{folder / "nats-server.crt"}", '
            f'key_file: "{folder / "nats-server.key"}", {ca}{checked}timeout: 2 }}'
        )

    def remote_block(self, *, stranger: bool = False) -> str:
        """The `tls {}` block of a leaf node's remote: the CA it trusts for the hub's
        certificate (the stranger's with `stranger`)."""
        return f'tls {{ ca_file: "{self.stranger_ca if stranger else self.ca}" }}'


def plain_text_session(port: int) -> tuple[dict[str, object], bytes]:
    """Talk to a server's listener without TLS, as an old client would: its first message,
    and what it answers a CONNECT and a PING sent in clear (b"" when it hangs up)."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        info_line = sock.makefile("rb").readline()
        sock.sendall(b'CONNECT {"verbose":false}\r\nPING\r\n')
        answer = b""
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return json.loads(info_line.split(b" ", 1)[1]), answer
