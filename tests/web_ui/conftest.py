"""A real web UI for the tests: uvicorn on a free localhost port, a real SQLite file, Chromium.

- `server`: one `create_app(settings)` served by a real uvicorn in a background thread,
  on a socket bound to a free port, over a temporary database migrated like production.
- `make_user`: creates an account through `web_ui.users.service` (the same code the CLI and the
  users page run), with a unique name, so tests never share a user whose state they change.
- `api_session`: an httpx client logged in through `POST /api/login`.
- `browser`: Debian's headless Chromium through its own chromedriver (never downloaded:
  Selenium gets both paths). Without them these tests fail, they do not skip.
- `screenshot`: saves the browser's page to var/screenshots/<test name>.png (the window,
  or with `full_page=True` the whole page).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from web_ui.app import create_app
from web_ui.core import db as web_db
from web_ui.core.server import uvicorn_config
from web_ui.core.web_settings import WebSettings, settings_for
from web_ui.users.audit import Actor
from web_ui.users.service import Role, create_user, prepare_new_user

REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "var" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PASSWORD = "kata-sandi-rahasia-112"
STARTUP_TIMEOUT_S = 15.0
WAIT_S = 10.0

_names = itertools.count(1)


@dataclass(frozen=True)
class LiveServer:
    """A running web UI: where it listens and what it runs on."""

    url: str
    settings: WebSettings

    @property
    def db_path(self) -> Path:
        """The SQLite file behind it."""
        return self.settings.db_path


@dataclass(frozen=True)
class Account:
    """An account made for one test, with its password."""

    id: int
    username: str
    password: str
    role: Role


def free_socket() -> socket.socket:
    """A listening-ready socket on 127.0.0.1, bound to a port the OS picked."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve(db_path: Path, **overrides: object) -> Iterator[LiveServer]:
    """The web UI on `db_path`, served by uvicorn in a thread until the block ends;
    `overrides` replace settings (`body_idle_s=0.5`)."""
    sock = free_socket()
    port = sock.getsockname()[1]
    settings = settings_for(
        db_path, timezone="Asia/Jakarta", site_name="Siaga Uji", base_url=f"http://127.0.0.1:{port}"
    ).model_copy(update=overrides)
    config = uvicorn_config(
        create_app(settings), settings, log_config=None, access_log=False, lifespan="on"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not uv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the web UI did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(url=f"http://127.0.0.1:{port}", settings=settings)
    finally:
        uv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The web UI served by uvicorn in a thread, for the whole test session.

    Every test logs in from 127.0.0.1, so the per-address throttle (tested on a server of
    its own in test_security) is set out of reach here.
    """
    with serve(tmp_path_factory.mktemp("web") / "siaga.db", login_throttle_failures=10**6) as live:
        yield live


@pytest.fixture(scope="session")
def make_user(server: LiveServer) -> Callable[..., Account]:
    """A factory of fresh accounts: `make_user(Role.OPERATOR, display_name=...)`."""

    def make(
        role: Role = Role.OPERATOR, *, display_name: str = "", language: str = "id"
    ) -> Account:
        username = f"{role.value[:4]}{next(_names)}"
        new = prepare_new_user(username, display_name, role.value, PASSWORD, language)
        conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
        try:
            user = create_user(conn, Actor(name="test-fixture"), new, server.settings.zone)
        finally:
            conn.close()
        return Account(id=user.id, username=username, password=PASSWORD, role=role)

    return make


@dataclass
class ApiSession:
    """An httpx client logged in through the API, and its CSRF token."""

    client: httpx.Client
    csrf: str
    user: Account

    def headers(self) -> dict[str, str]:
        """The header every state-changing call needs."""
        return {"X-CSRF-Token": self.csrf}


def api_login(server: LiveServer, user: Account) -> ApiSession:
    """Log `user` in with `POST /api/login`."""
    client = httpx.Client(base_url=server.url, timeout=10.0, follow_redirects=False)
    answer = client.post("/api/login", json={"username": user.username, "password": user.password})
    assert answer.status_code == 200, answer.text
    return ApiSession(client=client, csrf=answer.json()["csrf_token"], user=user)


@pytest.fixture
def api_session(
    server: LiveServer, make_user: Callable[..., Account]
) -> Iterator[Callable[..., ApiSession]]:
    """`api_session(Role.TECHNICIAN)`: a fresh user of that role, logged in."""
    opened: list[ApiSession] = []

    def open_session(role: Role = Role.OPERATOR, **kwargs: str) -> ApiSession:
        session = api_login(server, make_user(role, **kwargs))
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        session.client.close()


# ------------------------------------------------------------------ the browser


@contextlib.contextmanager
def headless_chromium(profile: Path, *extra_arguments: str) -> Iterator[webdriver.Chrome]:
    """Debian's headless Chromium on its own profile; fails (never skips) when it is not
    installed. `extra_arguments` go on its command line after the common ones."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.exists()]
    assert not missing, f"browser tests need {missing}: apt-get install chromium chromium-driver"
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must never go to the network
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,900",
        f"--user-data-dir={profile}",
        *extra_arguments,
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(WAIT_S * 2)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def chrome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    """The session's headless Chromium (see `headless_chromium`)."""
    with headless_chromium(tmp_path_factory.mktemp("chromium")) as driver:
        yield driver


@pytest.fixture
def browser(chrome: webdriver.Chrome, server: LiveServer) -> Iterator[webdriver.Chrome]:
    """The shared browser with no cookies for this site (every test starts logged out)."""
    chrome.get(server.url + "/static/siaga.css")
    chrome.delete_all_cookies()
    yield chrome
    chrome.get(server.url + "/static/siaga.css")
    chrome.delete_all_cookies()


FULL_PAGE_MAX_PX = 12_000  # a longer page is cut there (a PNG of a whole day's log is huge)


def save_full_page(driver: webdriver.Chrome, path: Path) -> None:
    """The whole page, not only the viewport, as Chromium lays it out (DevTools protocol):
    as wide as the document, so content sticking out past the viewport shows too."""
    size = driver.execute_script(
        "const d = document.documentElement;"
        " return [Math.max(d.scrollWidth, window.innerWidth), d.scrollHeight];"
    )
    clip = {"x": 0, "y": 0, "width": size[0], "height": min(size[1], FULL_PAGE_MAX_PX), "scale": 1}
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
    )
    path.write_bytes(base64.b64decode(shot["data"]))


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, chrome: webdriver.Chrome) -> Callable[..., Path]:
    """`screenshot("after-login")` saves the page as var/screenshots/<test>-<label>.png;
    `full_page=True`: the whole page rather than what the window shows."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(label: str, *, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{request.node.name}-{label}.png"
        if full_page:
            save_full_page(chrome, path)
        else:
            assert chrome.save_screenshot(str(path)), f"no screenshot saved at {path}"
        return path

    return take


def wait_for(driver: webdriver.Chrome, css: str) -> None:
    """Wait until an element matching `css` is on the page."""
    WebDriverWait(driver, WAIT_S).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, css))
    )


def browser_login(driver: webdriver.Chrome, server: LiveServer, user: Account) -> None:
    """Log in through the login page and wait for the home page."""
    driver.get(server.url + "/login")
    driver.find_element(By.ID, "username").send_keys(user.username)
    driver.find_element(By.ID, "password").send_keys(user.password)
    driver.find_element(By.ID, "login-submit").click()
    wait_for(driver, "#logout")
