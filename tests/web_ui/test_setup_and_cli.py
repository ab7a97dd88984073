"""The first account: the one-time setup page of a real `siaga web`, and `siaga user ...`.

Both run the real command in a subprocess, as a technician would at the console.
"""

from __future__ import annotations

import contextlib
import getpass
import queue
import re
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.web_ui.conftest import REPO_ROOT, Account, LiveServer, api_login, free_socket, wait_for
from web_ui.core import db as web_db
from web_ui.core.app_state import setup_link_path
from web_ui.users.service import Role

START_TIMEOUT_S = 20.0
NEW_PASSWORD = "new-pw-carol-1"
LINK = re.compile(r"/setup\?token=([A-Za-z0-9_-]+)")


def siaga(*args: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run `siaga ARGS` (the real entry point) and return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "web_ui.cli", *map(str, args)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=60,
        check=False,
    )


@dataclass
class WebProcess:
    """A `siaga web` subprocess and the log lines it has written so far."""

    url: str
    db_path: Path
    process: subprocess.Popen[str]
    lines: list[str]

    def log(self) -> str:
        return "".join(self.lines)


def _collect(stream: queue.Queue[str], process: subprocess.Popen[str]) -> None:
    assert process.stderr is not None
    for line in process.stderr:
        stream.put(line)


@pytest.fixture
def web_process(tmp_path: Path) -> Iterator[WebProcess]:
    """`siaga web` on a new, empty database and a free port."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    db_path = tmp_path / "siaga.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "web_ui.cli", "web", "--db", str(db_path), "--port", str(port)],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_collect, args=(lines, process), daemon=True).start()
    web = WebProcess(f"http://127.0.0.1:{port}", db_path, process, [])
    deadline = time.monotonic() + START_TIMEOUT_S
    while "Application startup complete" not in web.log():
        assert process.poll() is None, f"siaga web exited:\n{web.log()}"
        assert time.monotonic() < deadline, f"siaga web did not start:\n{web.log()}"
        with contextlib.suppress(queue.Empty):
            web.lines.append(lines.get(timeout=0.1))
    try:
        yield web
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_setup_page_creates_the_first_technician_once(
    web_process: WebProcess, chrome: webdriver.Chrome, screenshot: Callable[[str], Path]
) -> None:
    link_file = setup_link_path(web_process.db_path)
    assert str(link_file) in web_process.log()  # the log names the file
    assert not LINK.search(web_process.log())  # but never holds the token (the journal)
    assert stat.S_IMODE(link_file.stat().st_mode) == 0o600
    [token] = LINK.findall(link_file.read_text())
    url = web_process.url
    with httpx.Client(base_url=url) as client:
        assert client.get("/setup").status_code == 403
        assert client.get("/setup", params={"token": "wrong"}).status_code == 403
        client.get("/setup", params={"token": token})  # the form cookie, but not its token
        forged = {"token": token, "username": "intruder", "password": "p" * 12}
        forged["password_confirm"] = forged["password"]
        assert client.post("/setup", data=forged).status_code == 403

    chrome.get(f"{url}/setup?token={token}")
    chrome.delete_all_cookies()
    chrome.get(f"{url}/setup?token={token}")
    fields = {
        "username": "teknisi",
        "display_name": "Teknisi Pertama",
        "password": "kata-sandi-teknisi",
        "password_confirm": "tidak-sama-sekali",
    }
    for name, value in fields.items():
        chrome.find_element(By.ID, name).send_keys(value)
    chrome.find_element(By.ID, "setup-submit").click()
    wait_for(chrome, "#error")
    assert chrome.find_element(By.ID, "error").text == "Kedua kata sandi tidak sama."
    for name in ("password", "password_confirm"):
        chrome.find_element(By.ID, name).send_keys("kata-sandi-teknisi")
    chrome.find_element(By.ID, "setup-submit").click()
    wait_for(chrome, "#info")
    assert "Akun teknisi pertama telah dibuat" in chrome.find_element(By.ID, "info").text
    screenshot("created")

    chrome.find_element(By.ID, "username").send_keys("teknisi")
    chrome.find_element(By.ID, "password").send_keys("kata-sandi-teknisi")
    chrome.find_element(By.ID, "login-submit").click()
    wait_for(chrome, "#logout")
    assert "Teknisi Pertama" in chrome.find_element(By.ID, "whoami").text
    chrome.delete_all_cookies()

    assert not link_file.exists()  # used up
    with httpx.Client(base_url=url) as client:
        assert client.get("/setup", params={"token": token}).status_code == 404
        again = client.post("/setup", data={"token": token, "username": "second"})
        assert again.status_code == 404
    conn = web_db.connect(web_process.db_path, busy_timeout_s=5.0)
    try:
        users = conn.execute("SELECT username, role FROM users").fetchall()
        actors = conn.execute("SELECT actor FROM audit_log WHERE action = 'user.create'")
        assert [tuple(row) for row in users] == [("teknisi", "technician")]
        assert [row[0] for row in actors] == ["setup"]
    finally:
        conn.close()


def test_siaga_user_add_creates_an_account_the_web_ui_accepts(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    db = server.db_path
    make_user(Role.TECHNICIAN)  # so that carol is not the last technician, whom none may disable
    added = siaga(
        "user",
        "add",
        "carol",
        "--role",
        "technician",
        "--display-name",
        "Carol Teknisi",
        "--language",
        "en",
        "--password-stdin",
        "--db",
        db,
        stdin="password-for-carol\n",
    )
    assert added.returncode == 0, added.stderr
    assert added.stdout == "added user carol (technician)\n"
    carol = Account(id=0, username="carol", password="password-for-carol", role=Role.TECHNICIAN)
    session = api_login(server, carol)
    me = session.client.get("/api/me").json()["user"]
    session.client.close()
    assert (me["role"], me["display_name"], me["language"]) == ("technician", "Carol Teknisi", "en")

    listed = siaga("user", "list", "--csv", "--db", db)
    assert "carol,Carol Teknisi,technician,en,active," in listed.stdout

    changed = siaga(
        "user", "passwd", "carol", "--password-stdin", "--db", db, stdin="new-pw-carol-1\n"
    )
    assert changed.returncode == 0, changed.stderr
    with httpx.Client(base_url=server.url) as client:
        old = client.post(
            "/api/login", json={"username": "carol", "password": "password-for-carol"}
        )
        new = client.post("/api/login", json={"username": "carol", "password": "new-pw-carol-1"})
    assert (old.status_code, new.status_code) == (401, 200)

    disabled = siaga("user", "disable", "carol", "--db", db)
    assert disabled.returncode == 0, disabled.stderr
    with httpx.Client(base_url=server.url) as client:
        refused = client.post(
            "/api/login", json={"username": "carol", "password": "new-pw-carol-1"}
        )
    assert refused.status_code == 401

    enabled = siaga("user", "enable", "carol", "--db", db)
    assert (enabled.returncode, enabled.stdout) == (0, "enabled user carol\n"), enabled.stderr
    assert (
        "carol,Carol Teknisi,technician,en,active,"
        in siaga("user", "list", "--csv", "--db", db).stdout
    )
    with httpx.Client(base_url=server.url) as client:
        again = client.post("/api/login", json={"username": "carol", "password": "new-pw-carol-1"})
    assert again.status_code == 200

    conn = web_db.connect(db, busy_timeout_s=5.0)
    try:
        rows = conn.execute(
            "SELECT actor, action FROM audit_log WHERE target = 'carol' AND actor LIKE 'cli:%'"
        ).fetchall()
    finally:
        conn.close()
    actor = f"cli:{getpass.getuser()}"
    assert [tuple(row) for row in rows] == [
        (actor, "user.create"),
        (actor, "user.password_reset"),
        (actor, "user.update"),
        (actor, "user.update"),
    ]


def test_siaga_user_add_explains_what_is_wrong(tmp_path: Path) -> None:
    db = tmp_path / "siaga.db"
    add = ("user", "add", "dina", "--role", "operator")
    short = siaga(*add, "--password-stdin", "--db", db, stdin="pendek\n")
    assert short.returncode == 2
    assert "at least 10 characters" in short.stderr
    no_tty = siaga(*add, "--db", db)
    assert no_tty.returncode == 2
    assert "--password-stdin" in no_tty.stderr
    unknown = siaga("user", "disable", "nobody", "--db", db)
    assert unknown.returncode == 2
    assert "no user 'nobody'" in unknown.stderr
    unknown = siaga("user", "enable", "nobody", "--db", db)
    assert unknown.returncode == 2
    assert "no user 'nobody'" in unknown.stderr


def test_siaga_user_unlock_lifts_a_lock_from_every_address(
    server: LiveServer, make_user: Callable[..., Account]
) -> None:
    locked = make_user(Role.OPERATOR)
    with httpx.Client(base_url=server.url) as client:
        codes = [
            client.post(
                "/api/login", json={"username": locked.username, "password": f"guess-{n}"}
            ).status_code
            for n in range(5)
        ]
        assert codes[-1] == 429
        unlocked = siaga("user", "unlock", locked.username, "--db", server.db_path)
        assert unlocked.returncode == 0, unlocked.stderr
        assert unlocked.stdout == f"unlocked user {locked.username} (5 failed login(s) forgotten)\n"
        again = client.post(
            "/api/login", json={"username": locked.username, "password": locked.password}
        )
    assert again.status_code == 200
    unknown = siaga("user", "unlock", "nobody", "--db", server.db_path)
    assert unknown.returncode == 2 and "no user 'nobody'" in unknown.stderr


def add_technician(db: Path, name: str) -> None:
    added = siaga("user", "add", name, "--role", "technician", "--password-stdin",
                  "--db", db, stdin=f"password-of-{name}\n")  # fmt: skip
    assert added.returncode == 0, added.stderr


def usernames(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [row[0] for row in conn.execute("SELECT username FROM users ORDER BY username")]
    finally:
        conn.close()


def test_siaga_restore_puts_a_backup_back_and_keeps_the_database_it_replaced(
    tmp_path: Path,
) -> None:
    db, backup = tmp_path / "siaga.db", tmp_path / "backup.db"
    add_technician(db, "tina")
    made = siaga("backup", "--db", db, "--out", backup)
    assert made.returncode == 0, made.stderr
    add_technician(db, "toni")  # after the backup: gone once it is restored

    refused = siaga("restore", backup, "--db", db, stdin="no\n")
    assert refused.returncode == 1 and "nothing was changed" in refused.stdout
    assert "0 calls" in refused.stdout and "technicians: tina" in refused.stdout
    assert usernames(db) == ["tina", "toni"]

    restored = siaga("restore", backup, "--db", db, stdin="RESTORE\n")
    assert restored.returncode == 0, restored.stderr
    assert usernames(db) == ["tina"]
    safety = re.search(r"kept in (\S+);", restored.stdout)
    assert safety is not None and usernames(Path(safety[1])) == ["tina", "toni"]
    conn = sqlite3.connect(db)
    try:
        audit = conn.execute("SELECT actor FROM audit_log WHERE action = 'system.restore'")
        assert [row[0] for row in audit] == [f"cli:{getpass.getuser()}"]
    finally:
        conn.close()


def test_siaga_restore_refuses_a_file_that_is_no_backup_and_changes_nothing(
    tmp_path: Path,
) -> None:
    db, junk = tmp_path / "siaga.db", tmp_path / "notes.db"
    add_technician(db, "tina")
    junk.write_text("not a database at all\n")
    refused = siaga("restore", junk, "--db", db, "--yes")
    assert refused.returncode == 2
    assert "nothing was changed" in refused.stderr
    assert usernames(db) == ["tina"]
    missing = siaga("restore", tmp_path / "nowhere.db", "--db", db, "--yes")
    assert missing.returncode == 2 and "no such file" in missing.stderr
