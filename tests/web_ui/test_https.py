"""HTTPS: the real `siaga web` over TLS with a certificate made as the installer makes it.

The certificate authority and the server certificate come from install.sh's own `tls_*`
functions (the script is sourced, so the test runs the very openssl commands the
installer runs), in a temporary folder. Clients trust that CA and nothing else: httpx
with a context holding only it; Debian's Chromium is told to accept this one server key
(`--ignore-certificate-errors-spki-list` with the certificate's key hash, never a blanket
`--ignore-certificate-errors`), and the same certificate is verified strictly against the
CA by httpx in the same test. Plain HTTP beyond loopback
is refused by the command itself.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import queue
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.web_ui.conftest import (
    PASSWORD,
    REPO_ROOT,
    free_socket,
    headless_chromium,
    wait_for,
)

START_TIMEOUT_S = 20.0
SANS = "DNS:localhost,IP:127.0.0.1"


@dataclass(frozen=True)
class Certificates:
    """A CA and a server certificate for localhost and 127.0.0.1, made by install.sh."""

    folder: Path

    @property
    def ca(self) -> Path:
        return self.folder / "siaga-ca.crt"

    @property
    def certificate(self) -> Path:
        return self.folder / "server.crt"

    @property
    def key(self) -> Path:
        return self.folder / "server.key"

    def trusting_only_the_ca(self) -> ssl.SSLContext:
        """A client context that trusts this CA and no other, checking host names."""
        return ssl.create_default_context(cafile=str(self.ca))


@dataclass
class WebProcess:
    """A `siaga web` subprocess, its address and what it has logged so far."""

    url: str
    process: subprocess.Popen[str]
    lines: list[str]

    def log(self) -> str:
        return "".join(self.lines)


def siaga(*args: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run `siaga ARGS` (the real entry point)."""
    return subprocess.run(
        [sys.executable, "-m", "web_ui.cli", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )


def make_certificates(folder: Path) -> Certificates:
    """The installer's CA and server certificate (its `tls_*` functions) in `folder`."""
    script = (
        'source "$1" && tls_make_ca "$2" "Siaga test CA"'
        ' && tls_make_server_cert "$2" "$3" localhost && tls_server_cert_current "$2" "$3"'
    )
    folder.mkdir(parents=True, exist_ok=True)
    installer = str(REPO_ROOT / "install.sh")
    made = subprocess.run(
        ["bash", "-c", script, "make-certificates", installer, str(folder), SANS],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert made.returncode == 0, made.stdout + made.stderr
    return Certificates(folder)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("tls"))


def _collect(lines: queue.Queue[str], process: subprocess.Popen[str]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        lines.put(line)


def start_web(folder: Path, *options: str) -> WebProcess:
    """`siaga web OPTIONS` on a new database in `folder` and a free port on 127.0.0.1."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    command = [sys.executable, "-m", "web_ui.cli", "web", "--db", str(folder / "siaga.db")]
    command += ["--host", "127.0.0.1", "--port", str(port), *options]
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, cwd=folder
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_collect, args=(lines, process), daemon=True).start()
    scheme = "https" if "--tls-cert" in options else "http"
    web = WebProcess(f"{scheme}://localhost:{port}", process, [])
    deadline = time.monotonic() + START_TIMEOUT_S
    while "Application startup complete" not in web.log():
        assert process.poll() is None, f"siaga web exited:\n{web.log()}"
        assert time.monotonic() < deadline, f"siaga web did not start:\n{web.log()}"
        with contextlib.suppress(queue.Empty):
            web.lines.append(lines.get(timeout=0.1))
    return web


@pytest.fixture(scope="module")
def https_web(
    tmp_path_factory: pytest.TempPathFactory, certificates: Certificates
) -> Iterator[WebProcess]:
    """`siaga web` over TLS with the installer's certificate, and a technician account."""
    folder = tmp_path_factory.mktemp("https-web")
    added = siaga(
        "user",
        "add",
        "teknisi",
        "--role",
        "technician",
        "--db",
        folder / "siaga.db",
        "--password-stdin",
        stdin=PASSWORD + "\n",
    )
    assert added.returncode == 0, added.stderr
    web = start_web(
        folder, "--tls-cert", str(certificates.certificate), "--tls-key", str(certificates.key)
    )
    try:
        yield web
    finally:
        web.process.terminate()
        web.process.wait(timeout=10)


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each cookie the response sets, by name, with its attributes as sent."""
    found: dict[str, str] = {}
    for header in response.headers.get_list("set-cookie"):
        name = next(iter(SimpleCookie(header)))
        found[name] = header
    return found


def assert_secure_cookies(response: httpx.Response, *names: str) -> None:
    cookies = set_cookies(response)
    for name in names:
        attributes = [part.strip().lower() for part in cookies[name].split(";")]
        assert {"secure", "httponly", "samesite=strict"} <= set(attributes), cookies[name]


# ------------------------------------------------------------------ over httpx


def test_https_verifies_against_the_installers_ca_and_sets_secure_cookies(
    https_web: WebProcess, certificates: Certificates
) -> None:
    assert "siaga web on https://127.0.0.1" in https_web.log()
    with httpx.Client(
        base_url=https_web.url, verify=certificates.trusting_only_the_ca(), timeout=10.0
    ) as client:
        page = client.get("/login")
        assert page.status_code == 200
        assert page.extensions["network_stream"].get_extra_info("ssl_object").version() in {
            "TLSv1.2",
            "TLSv1.3",
        }
        assert_secure_cookies(page, "siaga_form")

        login = client.post("/api/login", json={"username": "teknisi", "password": PASSWORD})
        assert login.status_code == 200, login.text
        (session_cookie,) = [name for name in set_cookies(login) if name != "siaga_form"]
        assert_secure_cookies(login, session_cookie)
        me = client.get("/api/me")
        assert me.status_code == 200 and me.json()["user"]["username"] == "teknisi", me.text


def test_https_names_only_what_the_certificate_was_made_for(
    https_web: WebProcess, certificates: Certificates
) -> None:
    # The default trust store knows nothing of this CA: the chain really is what counts.
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(https_web.url + "/login", timeout=10.0)
    # Plain HTTP on the TLS port gets no page.
    with pytest.raises(httpx.HTTPError):
        httpx.get(https_web.url.replace("https://", "http://") + "/login", timeout=10.0)
    # A certificate made by another CA (another box's) is refused.
    other = make_certificates(certificates.folder.parent / "other-box")
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(https_web.url + "/login", verify=other.trusting_only_the_ca(), timeout=10.0)


# ------------------------------------------------------------------ refusals at start


def test_plain_http_beyond_loopback_is_refused_with_the_way_out(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "::", "siaga.local"):
        refused = siaga("web", "--db", tmp_path / "siaga.db", "--host", host, "--port", "8112")
        assert refused.returncode == 2, refused.stderr
        message = refused.stderr
        assert f"refusing to serve plain HTTP on {host}" in message
        assert "--tls-cert" in message and "--insecure-http" in message
    assert not (tmp_path / "siaga.db").exists()  # refused before anything was made


def test_a_missing_or_mismatched_certificate_is_one_clear_line(
    tmp_path: Path, certificates: Certificates
) -> None:
    other = make_certificates(tmp_path / "other")
    cases = {
        "no TLS certificate at": (tmp_path / "missing.crt", certificates.key),
        "are not a usable certificate and key": (certificates.certificate, other.key),
    }
    for expected, (certificate, key) in cases.items():
        refused = siaga(
            "web", "--db", tmp_path / "siaga.db", "--tls-cert", certificate, "--tls-key", key
        )
        assert refused.returncode == 2 and expected in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    alone = siaga("web", "--db", tmp_path / "siaga.db", "--tls-cert", certificates.certificate)
    assert alone.returncode == 2 and "go together" in alone.stderr


def test_loopback_keeps_plain_http_without_any_option(tmp_path: Path) -> None:
    web = start_web(tmp_path)
    try:
        page = httpx.get(web.url + "/login", timeout=10.0)
        assert page.status_code == 200
        assert "secure" not in set_cookies(page)["siaga_form"].lower()
        assert "INSECURE" not in web.log()
    finally:
        web.process.terminate()
        web.process.wait(timeout=10)


# ------------------------------------------------------------------ in a real browser


def spki_sha256(certificate: Path) -> str:
    """Base64 SHA-256 of a certificate's public key (what Chromium pins by)."""
    public = subprocess.run(
        ["openssl", "x509", "-noout", "-pubkey", "-in", str(certificate)],
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-outform", "DER"],
        input=public,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@contextlib.contextmanager
def chromium_trusting(certificate: Path, profile: Path) -> Iterator[webdriver.Chrome]:
    """Headless Chromium that accepts `certificate`'s key, and nothing else new. (Chromium
    matches the list against the chain it was sent, the server certificate alone here.)"""
    # Chromium honours the SPKI list only with a profile of its own.
    spki = f"--ignore-certificate-errors-spki-list={spki_sha256(certificate)}"
    with headless_chromium(profile, spki) as driver:
        yield driver


@pytest.mark.browser
def test_a_browser_logs_in_over_https_with_secure_cookies(
    https_web: WebProcess, certificates: Certificates, tmp_path: Path
) -> None:
    # The chain the browser is shown verifies strictly against the installer's CA.
    strict = httpx.get(
        https_web.url + "/login", verify=certificates.trusting_only_the_ca(), timeout=10.0
    )
    assert strict.status_code == 200
    with chromium_trusting(certificates.certificate, tmp_path / "chromium") as browser:
        browser.get(https_web.url + "/login")
        assert browser.execute_script("return window.isSecureContext") is True
        browser.find_element(By.ID, "username").send_keys("teknisi")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login-submit").click()
        wait_for(browser, "#logout")
        assert browser.current_url.startswith("https://localhost:")
        cookies = browser.get_cookies()
        assert cookies and all(cookie["secure"] for cookie in cookies), cookies
        assert "siaga" not in browser.execute_script("return document.cookie")  # HttpOnly
