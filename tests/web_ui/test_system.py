"""The system page: versions and sizes, backup download, restore with its refusals, logs.

The backup is taken from the shared server. Restores replace the whole database, so they
run on this module's own server (`own_server`); each test makes the accounts it needs
before it takes the backup it restores, since a restore keeps only the backup's accounts.
"""

from __future__ import annotations

import html
import re
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from markupsafe import escape
from selenium import webdriver
from selenium.webdriver.common.by import By

from appliance.store import restore
from tests.web_ui.conftest import (
    Account,
    ApiSession,
    LiveServer,
    api_login,
    browser_login,
    serve,
    wait_for,
)
from tests.web_ui.line_service import add_calls, call_row, database, line_name
from tests.web_ui.own_server import add_account
from web_ui.core.web_settings import secret_path_for
from web_ui.system import service as system
from web_ui.users.service import Language, Role

MARKUP = "<script>alert('xss')</script>"


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A web UI on a database only this module writes (and replaces)."""
    with serve(tmp_path_factory.mktemp("system") / "siaga.db") as server:
        yield server


def add_some_calls(server: LiveServer, count: int) -> str:
    """`count` calls on a new line; the line's name."""
    line = line_name("sys")
    start = time.time() - 3600
    add_calls(server, [call_row(line, f"0814777{n:05d}", start + n) for n in range(count)])
    return line


def scalar(path: Path, sql: str, params: list[Any] | None = None) -> Any:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params or []).fetchone()[0]
    finally:
        conn.close()


def calls_on(path: Path, line: str) -> int:
    return int(scalar(path, "SELECT count(*) FROM calls WHERE line = ?", [line]))


def download_backup(session: ApiSession, target: Path) -> Path:
    answer = session.client.get("/system/backup")
    assert answer.status_code == 200, answer.text
    assert re.fullmatch(
        r'attachment; filename="siaga-backup-\d{8}-\d{4}\.db"',
        answer.headers["content-disposition"],
    )
    assert int(answer.headers["content-length"]) == len(answer.content)
    target.write_bytes(answer.content)
    return target


def leftovers(server: LiveServer) -> list[str]:
    """Temporary backup and upload files next to the database (there should be none)."""
    folder = server.db_path.parent
    return sorted(
        path.name
        for prefix in (restore.BACKUP_PREFIX, restore.UPLOAD_PREFIX)
        for path in folder.glob(prefix + "*")
    )


def safety_copies(server: LiveServer) -> list[Path]:
    return sorted(server.db_path.parent.glob(server.db_path.name + restore.SAFETY_INFIX + "*"))


def upload(session: ApiSession, content: bytes, name: str = "backup.db") -> httpx.Response:
    return session.client.post(
        "/system/restore",
        files={"file": (name, content, "application/octet-stream")},
        data={"csrf_token": session.csrf},
    )


def confirm(session: ApiSession, token: str, word: str = "RESTORE") -> httpx.Response:
    return session.client.post(
        "/system/restore/confirm",
        data={"csrf_token": session.csrf, "token": token, "confirm": word},
    )


def token_of(page: str) -> str:
    found = re.search(r'name="token" value="([A-Za-z0-9_-]+)"', page)
    assert found, page
    return found.group(1)


def error_of(page: str) -> str:
    found = re.search(r'id="error">([^<]*)<', page)
    assert found, page
    return html.unescape(found.group(1))


def audit_rows(path: Path, action: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(
            "SELECT * FROM audit_log WHERE action = ? ORDER BY id", [action]
        ).fetchall()
    finally:
        conn.close()


# ------------------------------------------------------------------ backup


def test_a_backup_is_a_whole_consistent_database_without_the_secret(
    server: LiveServer, api_session: Callable[..., ApiSession], tmp_path: Path
) -> None:
    line = add_some_calls(server, 5)
    session = api_session(Role.TECHNICIAN)
    backup = download_backup(session, tmp_path / "backup.db")
    assert scalar(backup, "PRAGMA integrity_check") == "ok"
    assert scalar(backup, "PRAGMA journal_mode") == "delete"  # one file, no -wal
    assert calls_on(backup, line) == 5 == calls_on(server.db_path, line)
    assert scalar(backup, "SELECT count(*) FROM calls") <= scalar(
        server.db_path, "SELECT count(*) FROM calls"
    )
    secret = secret_path_for(server.db_path).read_text().strip().encode()
    assert secret not in backup.read_bytes()
    assert leftovers(server) == []
    [row] = [
        r
        for r in audit_rows(server.db_path, "system.backup")
        if r["actor"] == session.user.username
    ]
    assert re.fullmatch(r"siaga-backup-\d{8}-\d{4}\.db", row["target"])


def test_only_technicians_download_backups(api_session: Callable[..., ApiSession]) -> None:
    supervisor = api_session(Role.SUPERVISOR)
    assert supervisor.client.get("/system/backup").status_code == 403
    assert supervisor.client.get("/api/system").status_code == 403


# ------------------------------------------------------------------ restore


def technician(server: LiveServer, language: str = "en") -> tuple[Account, ApiSession]:
    account = add_account(server, Role.TECHNICIAN, language=language)
    return account, api_login(server, account)


def test_a_good_backup_replaces_the_data_and_keeps_a_safety_copy(
    own: LiveServer, tmp_path: Path
) -> None:
    account, session = technician(own)
    kept_line = add_some_calls(own, 3)
    backup = download_backup(session, tmp_path / "backup.db").read_bytes()
    later_line = add_some_calls(own, 2)  # after the backup: gone after the restore
    with database(own) as conn:
        rules_before = int(conn.execute("SELECT version FROM rules_version").fetchone()[0])
        conn.execute(
            "INSERT INTO rules (id, kind, pattern, match, action, created_ts, created_by)"
            " VALUES ('b-after', 'block', '+628147770000', 'exact', 'challenge', ?, 'x')",
            [time.time()],
        )
    copies_before = safety_copies(own)
    checked = upload(session, backup)
    assert checked.status_code == 200, checked.text
    assert account.username in checked.text  # the backup's technicians are listed
    assert "Every session ends" in checked.text
    assert calls_on(own.db_path, later_line) == 2  # nothing replaced yet

    done = confirm(session, token_of(checked.text))
    assert done.status_code == 200, done.text
    assert 'id="restored"' in done.text
    assert calls_on(own.db_path, kept_line) == 3
    assert calls_on(own.db_path, later_line) == 0
    assert scalar(own.db_path, "SELECT count(*) FROM rules WHERE id = 'b-after'") == 0
    [safety] = sorted(set(safety_copies(own)) - set(copies_before))
    assert calls_on(safety, later_line) == 2 and calls_on(safety, kept_line) == 3
    assert scalar(safety, "SELECT count(*) FROM rules WHERE id = 'b-after'") == 1
    assert stat.S_IMODE(safety.stat().st_mode) == 0o600
    assert leftovers(own) == []
    # Everyone is logged out; the backup's account logs in again.
    assert scalar(own.db_path, "SELECT count(*) FROM web_sessions") == 0
    assert session.client.get("/api/me").status_code == 401
    again = api_login(own, account)
    assert again.client.get("/system").status_code == 200
    # The running service notices: the rules counter moved past both values.
    assert scalar(own.db_path, "SELECT version FROM rules_version") > rules_before + 1
    [audited] = audit_rows(own.db_path, "system.restore")[-1:]
    assert audited["actor"] == account.username
    assert audited["target"] == safety.name
    event = scalar(
        own.db_path, "SELECT detail FROM events WHERE kind = 'database_restored' ORDER BY id DESC"
    )
    assert account.username in event


def test_the_restore_needs_the_word_and_a_live_upload(own: LiveServer, tmp_path: Path) -> None:
    _, session = technician(own)
    line = add_some_calls(own, 1)
    backup = download_backup(session, tmp_path / "backup.db").read_bytes()
    add_some_calls(own, 1)
    token = token_of(upload(session, backup).text)
    refused = confirm(session, token, word="restore please")
    assert refused.status_code == 422
    assert error_of(refused.text) == "Type RESTORE exactly as shown to restore."
    gone = confirm(session, "A" * 24)
    assert gone.status_code == 404
    assert "This upload is gone" in error_of(gone.text)
    assert calls_on(own.db_path, line) == 1
    restore.discard_upload(own.settings, token)
    assert leftovers(own) == []


def foreign_database(path: Path) -> bytes:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT, calls INTEGER)")
    conn.execute("INSERT INTO recipes VALUES ('nasi goreng', 1)")
    conn.commit()
    conn.close()
    return path.read_bytes()


def newer_database(backup: Path) -> bytes:
    conn = sqlite3.connect(backup)
    conn.execute(
        "INSERT INTO _migrations (migration_set, name, applied_at) VALUES ('siaga', ?, ?)",
        ["0099_from_the_future", "2099-01-01"],
    )
    conn.commit()
    conn.close()
    return backup.read_bytes()


def test_bad_uploads_are_refused_and_nothing_changes(own: LiveServer, tmp_path: Path) -> None:
    _, session = technician(own)
    backup = download_backup(session, tmp_path / "backup.db")
    good = backup.read_bytes()
    damaged = good[:4096] + bytes(8192) + good[4096 + 8192 :]
    cases = {
        "not SQLite": (b"PK\x03\x04 this is a zip file, not a database" * 50, "not an SQLite"),
        "damaged": (damaged, "The backup file is damaged"),
        "foreign": (foreign_database(tmp_path / "foreign.db"), "not Siaga's (missing: _migrations"),
        "newer": (newer_database(backup), "0099_from_the_future"),
    }
    calls_before = scalar(own.db_path, "SELECT count(*) FROM calls")
    copies_before = safety_copies(own)
    for label, (content, expected) in cases.items():
        answer = upload(session, content, name=f"{label}.db")
        assert answer.status_code == 422, label
        message = error_of(answer.text)
        assert expected in message, (label, message)
        assert "Nothing was changed." in message, label
        assert leftovers(own) == [], label
    assert scalar(own.db_path, "SELECT count(*) FROM calls") == calls_before
    assert safety_copies(own) == copies_before
    assert session.client.get("/api/me").status_code == 200  # still logged in


def test_a_backup_with_later_call_ids_waits_for_the_service_to_stop(
    own: LiveServer, tmp_path: Path
) -> None:
    _, session = technician(own)
    add_some_calls(own, 3)
    backup = download_backup(session, tmp_path / "backup.db").read_bytes()
    now = time.time()
    with database(own) as conn:
        top = int(conn.execute("SELECT max(id) FROM calls").fetchone()[0])
        conn.execute("DELETE FROM calls WHERE id > ?", [top - 2])
        conn.execute(
            "INSERT OR REPLACE INTO service_state (id, started_ts, heartbeat_ts, updated_ts)"
            " VALUES (1, ?, ?, ?)",
            [now - 60, now, now],
        )
    try:
        answer = upload(session, backup)
        assert answer.status_code == 409
        assert "sudo systemctl stop siaga" in error_of(answer.text)
        assert leftovers(own) == []
    finally:
        with database(own) as conn:
            conn.execute("UPDATE service_state SET heartbeat_ts = ?", [now - 3600])


def test_an_upload_over_the_limit_is_refused_on_the_page(
    own: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file alone over the limit, the form within it: the page says so. (A body over
    the limit is cut off before routing: test_security streams those.)"""
    _, session = technician(own)
    monkeypatch.setattr(restore, "MAX_RESTORE_BYTES", 1000)
    monkeypatch.setattr(restore, "MULTIPART_SLACK_BYTES", 200_000)  # past the body limit
    answer = upload(session, bytes(100_000))
    assert answer.status_code == 413
    assert "at most 2 GB" in error_of(answer.text)
    assert leftovers(own) == []


# ------------------------------------------------------------------ the page and the logs


def test_the_page_and_the_api_show_versions_sizes_and_counts(own: LiveServer) -> None:
    _, session = technician(own)
    info = session.client.get("/api/system").json()
    assert info["db_bytes"] > 0 and info["disk_free_bytes"] > 0
    assert info["tables"]["calls"] == scalar(own.db_path, "SELECT count(*) FROM calls")
    assert info["web_uptime_s"] >= 0
    assert info["service"]["running"] is False  # no heartbeat in this database
    page = session.client.get("/system").text
    assert 'id="version"' in page and 'id="db-size"' in page
    assert 'data-table="calls"' in page
    assert "Not running" in page


def test_events_are_filtered_by_kind_and_shown_escaped(own: LiveServer) -> None:
    _, session = technician(own)
    kind = "test_" + line_name("kind")
    with database(own) as conn:
        for n in range(3):
            conn.execute(
                "INSERT INTO events (at, ts, kind, line, detail) VALUES ('x', ?, ?, ?, ?)",
                [time.time() + n, kind, f"l{n}", f'{{"note": "{n} {MARKUP}"}}'],
            )
    page = session.client.get("/system", params={"kind": kind}).text
    assert page.count(f'data-kind="{kind}"') == 3
    assert 'data-kind="database_restored"' not in page
    assert MARKUP not in page and str(escape(MARKUP)) in page
    listed = session.client.get("/api/system", params={"kind": kind}).json()["events"]
    assert [event["line"] for event in listed] == ["l2", "l1", "l0"]


def test_the_journal_is_shown_when_journalctl_answers(
    own: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, session = technician(own)
    monkeypatch.setattr(system, "JOURNAL_COMMAND", ("no-such-journalctl-here",))
    page = session.client.get("/system").text
    assert 'data-state="missing"' in page and "journalctl is not on this machine" in page
    fake = tmp_path / "journalctl"
    fake.write_text(
        "#!/bin/sh\n"
        'echo "-- Journal begins --"\n'
        f'echo "2026-01-01T10:00:00+0700 box siaga[1]: ALARM disk_low {MARKUP} $*"\n'
    )
    fake.chmod(0o755)
    monkeypatch.setattr(system, "JOURNAL_COMMAND", (str(fake), "-u", "siaga; rm -rf /"))
    journal = session.client.get("/api/system").json()["journal"]
    assert journal["state"] == "ok"
    assert journal["lines"] == [
        f"2026-01-01T10:00:00+0700 box siaga[1]: ALARM disk_low {MARKUP} -u siaga; rm -rf /"
    ]
    page = session.client.get("/system").text
    assert 'id="journal"' in page and MARKUP not in page


def test_the_system_page_in_a_browser(
    browser: webdriver.Chrome, own: LiveServer, screenshot: Callable[[str], Path]
) -> None:
    account = add_account(own, Role.TECHNICIAN, display_name="Agus")
    browser_login(browser, own, account)
    browser.get(own.url + "/system")
    wait_for(browser, "#restore-form")
    assert browser.find_element(By.TAG_NAME, "h1").text == "Sistem"
    assert browser.find_element(By.ID, "backup-download").get_attribute("href") == (
        own.url + "/system/backup"
    )
    assert browser.find_elements(By.CSS_SELECTOR, "#table-counts tr[data-table='calls']")
    screenshot("system")


def tampered_triggers(backup: Path) -> bytes:
    """The backup with its audit log's guard a no-op and a trigger that plants a rule."""
    conn = sqlite3.connect(backup)
    conn.executescript(
        """
        DROP TRIGGER audit_log_no_delete;
        CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT 1; END;
        """
    )
    conn.commit()
    conn.close()
    return backup.read_bytes()


def test_a_backup_whose_triggers_differ_from_this_versions_is_refused(
    own: LiveServer, tmp_path: Path
) -> None:
    _, session = technician(own)
    backup = download_backup(session, tmp_path / "backup.db")
    answer = upload(session, tampered_triggers(backup))
    assert answer.status_code == 422, answer.text
    message = error_of(answer.text)
    assert "The backup's schema is not Siaga's (trigger audit_log_no_delete)" in message
    assert "Nothing was changed." in message
    assert leftovers(own) == []


@pytest.mark.parametrize(("language", "separator"), [("id", "."), ("en", ",")])
def test_a_refusal_for_want_of_disk_space_writes_its_megabytes_as_the_page_does(
    tmp_path: Path, language: Language, separator: str
) -> None:
    """A technician reads "about 1.048.586 MB needed" at a glance, not "1048586 MB"."""
    with pytest.raises(restore.RestoreRefused) as refused:
        restore.require_free_space(tmp_path, needed=2**40)  # a terabyte: never free here
    text = system.refusal_text(refused.value, language)
    needed = re.search(r"(\d[\d.,]*) MB", text)
    assert needed is not None, text
    assert needed.group(1) == f"{refused.value.values['needed_mb']:,}".replace(",", separator)


def planting_rules_trigger(backup: Path) -> bytes:
    """The backup with `rules_version_insert` moved to the call log: every call the box
    takes after a restore would add a rule rejecting its caller."""
    conn = sqlite3.connect(backup)
    conn.executescript(
        """
        DROP TRIGGER rules_version_insert;
        CREATE TRIGGER rules_version_insert AFTER INSERT ON calls BEGIN
            INSERT INTO rules (id, kind, pattern, match, action, reason, created_ts)
            VALUES ('planted-' || NEW.id, 'block', NEW.caller, 'exact', 'reject',
                    'planted', NEW.started_ts);
        END;
        """
    )
    conn.commit()
    conn.close()
    return backup.read_bytes()


def trigger_sql(path: Path, name: str) -> str:
    return str(
        scalar(path, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", [name])
    )


def test_a_backup_whose_rules_trigger_plants_reject_rules_is_refused_and_nothing_changes(
    own: LiveServer, tmp_path: Path
) -> None:
    _, session = technician(own)
    backup = download_backup(session, tmp_path / "backup.db")
    live_trigger = trigger_sql(own.db_path, "rules_version_insert")
    calls_before = scalar(own.db_path, "SELECT count(*) FROM calls")
    rules_before = scalar(own.db_path, "SELECT count(*) FROM rules")
    copies_before = safety_copies(own)

    answer = upload(session, planting_rules_trigger(backup))
    assert answer.status_code == 422, answer.text
    message = error_of(answer.text)
    assert "The backup's schema is not Siaga's (trigger rules_version_insert)" in message
    assert "Nothing was changed." in message
    assert 'name="token"' not in answer.text  # nothing to confirm
    assert leftovers(own) == []
    assert safety_copies(own) == copies_before
    assert trigger_sql(own.db_path, "rules_version_insert") == live_trigger
    assert scalar(own.db_path, "SELECT count(*) FROM calls") == calls_before
    assert scalar(own.db_path, "SELECT count(*) FROM rules") == rules_before
