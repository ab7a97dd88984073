"""Rules: the API, the page, the CSV export, and the CSV import with its preview."""

from __future__ import annotations

import csv
import io
import itertools
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.web_ui.conftest import ApiSession, LiveServer, browser_login, wait_for
from web_ui.users.service import Role

_subscribers = itertools.count(1)


def fresh_number() -> tuple[str, str]:
    """(national form, E.164) of a number no other test uses."""
    n = 55000000 + next(_subscribers)
    return f"0819-{n // 10000:04d}-{n % 10000:04d}", f"+62819{n:08d}"


def rows(server: LiveServer, sql: str, params: list[Any]) -> list[sqlite3.Row]:
    conn = sqlite3.connect(server.db_path)
    conn.row_factory = sqlite3.Row
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def listed(session: ApiSession) -> dict[str, dict[str, Any]]:
    answer = session.client.get("/api/rules")
    assert answer.status_code == 200, answer.text
    return {rule["pattern"]: rule for rule in answer.json()}


@pytest.fixture
def supervisor(api_session: Callable[..., ApiSession]) -> ApiSession:
    return api_session(Role.SUPERVISOR)


def test_add_list_remove_through_the_api_each_audited(
    server: LiveServer, supervisor: ApiSession
) -> None:
    national, e164 = fresh_number()
    body = {"kind": "block", "number": national, "action": "reject", "reason": "prank"}
    answer = supervisor.client.post("/api/rules", json=body, headers=supervisor.headers())
    assert answer.status_code == 201, answer.text
    rule = answer.json()
    assert (rule["pattern"], rule["match"], rule["action"]) == (e164, "exact", "reject")
    assert rule["created_by"] == supervisor.user.username
    assert listed(supervisor)[e164]["id"] == rule["id"]

    gone = supervisor.client.delete(f"/api/rules/{rule['id']}", headers=supervisor.headers())
    assert gone.status_code == 204
    assert e164 not in listed(supervisor)
    again = supervisor.client.delete(f"/api/rules/{rule['id']}", headers=supervisor.headers())
    assert again.status_code == 404
    [stored] = rows(server, "SELECT * FROM rules WHERE id = ?", [rule["id"]])
    assert stored["removed_by"] == supervisor.user.username  # soft delete: the row stays
    actions = rows(server, "SELECT action FROM audit_log WHERE target = ? ORDER BY id", [e164])
    assert [row["action"] for row in actions] == ["rules.add", "rules.remove"]
    events = rows(server, "SELECT kind FROM events WHERE detail LIKE ?", [f"%{rule['id']}%"])
    assert [row["kind"] for row in events] == ["rule_added", "rule_removed"]


def test_an_expiry_in_indonesian_and_the_store_id_form(supervisor: ApiSession) -> None:
    national, e164 = fresh_number()
    body = {"kind": "block", "number": national, "reason": "iseng", "expires": "2 minggu"}
    answer = supervisor.client.post("/api/rules", json=body, headers=supervisor.headers())
    assert answer.status_code == 201, answer.text
    rule = answer.json()
    assert re.fullmatch(r"b-[0-9a-f]{16}", rule["id"])  # the form `siaga block add` gives
    assert rule["pattern"] == e164
    assert rule["expires_ts"] - rule["created_ts"] == pytest.approx(14 * 86400)


def test_bad_rules_are_refused_with_the_reason(supervisor: ApiSession) -> None:
    national, _ = fresh_number()
    for body, key in [
        ({"kind": "block", "number": national}, "rules_csv.reason_required"),
        ({"kind": "block", "number": "0819", "reason": "x"}, "rules_csv.bad_number"),
        ({"kind": "allow", "number": national, "action": "reject"}, "rules_csv.bad_action_allow"),
    ]:
        answer = supervisor.client.post("/api/rules", json=body, headers=supervisor.headers())
        assert answer.status_code == 422
        assert answer.json()["detail"] == key


def test_operators_and_missing_csrf_are_refused(
    api_session: Callable[..., ApiSession], supervisor: ApiSession
) -> None:
    operator = api_session(Role.OPERATOR)
    assert operator.client.get("/api/rules").status_code == 403
    assert operator.client.get("/rules").status_code == 403
    body = {"kind": "allow", "number": fresh_number()[0]}
    assert (
        operator.client.post("/api/rules", json=body, headers=operator.headers()).status_code == 403
    )
    assert supervisor.client.post("/api/rules", json=body).status_code == 403
    assert supervisor.client.delete("/api/rules/a-1").status_code == 403


def test_csv_export_neutralises_formulas(supervisor: ApiSession) -> None:
    national, e164 = fresh_number()
    body = {"kind": "block", "number": national, "reason": "=HYPERLINK(1)", "expires": "7d"}
    assert supervisor.client.post("/api/rules", json=body, headers=supervisor.headers()).is_success
    answer = supervisor.client.get("/rules.csv")
    assert answer.status_code == 200
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeff")
    found = [row for row in csv.DictReader(io.StringIO(text[1:])) if row["pattern"] == "'" + e164]
    assert found and found[0]["reason"] == "'=HYPERLINK(1)"


def _import_csv(lines: list[str]) -> str:
    return "kind,number,match,action,reason,expires\n" + "\n".join(lines) + "\n"


def test_import_preview_stores_nothing_until_confirmed(
    server: LiveServer, supervisor: ApiSession
) -> None:
    (a, a164), (b, b164) = fresh_number(), fresh_number()
    text = _import_csv([f"block,{a},,,imported,", "block,12,,,x,", f"allow,{b},,,,"])
    preview = supervisor.client.post(
        "/rules/import",
        data={"csrf_token": supervisor.csrf},
        files={"file": ("rules.csv", text.encode(), "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    assert "Baris 3" in preview.text or 'data-row="3"' in preview.text
    assert a164 not in listed(supervisor)
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', preview.text)
    assert digest
    tampered = supervisor.client.post(
        "/rules/import/confirm",
        data={
            "csrf_token": supervisor.csrf,
            "text": text + f"block,{a}9,,,,7d\n",
            "digest": digest[1],
        },
    )
    assert tampered.status_code == 200 and 'id="preview-changed"' in tampered.text
    assert a164 not in listed(supervisor)
    done = supervisor.client.post(
        "/rules/import/confirm",
        data={"csrf_token": supervisor.csrf, "text": text, "digest": digest[1]},
    )
    assert done.status_code == 303
    now = listed(supervisor)
    assert now[a164]["reason"] == "imported" and now[b164]["kind"] == "allow"
    audit = rows(server, "SELECT target FROM audit_log WHERE action = 'rules.import'", [])
    assert {a164, b164} <= {row["target"] for row in audit}


def test_import_in_the_browser_shows_the_bad_row_then_adds_the_good_ones(
    server: LiveServer,
    make_user: Callable[..., Any],
    browser: webdriver.Chrome,
    tmp_path: Path,
    screenshot: Callable[[str], Path],
) -> None:
    user = make_user(Role.SUPERVISOR, language="en")
    (a, a164), (b, b164) = fresh_number(), fresh_number()
    upload = tmp_path / "rules.csv"
    upload.write_text(
        _import_csv(
            [f"block,{a},,reject,browser import,", "block,0819,,,x,", f"block,{b},prefix,,,24h"]
        )
    )
    browser_login(browser, server, user)
    browser.get(server.url + "/rules")
    wait_for(browser, "#import-file")
    browser.find_element(By.ID, "import-file").send_keys(str(upload))
    browser.find_element(By.ID, "import-preview").click()
    wait_for(browser, "#preview-error-rows")
    screenshot("rules-import-preview")
    bad = browser.find_element(By.CSS_SELECTOR, '#preview-error-rows tr[data-row="3"]')
    assert "not a whole number" in bad.text
    assert "Would be added: 2 rules." in browser.find_element(By.ID, "preview-adds").text
    assert not rows(server, "SELECT id FROM rules WHERE pattern = ?", [a164])  # nothing yet
    browser.find_element(By.ID, "import-submit").click()
    wait_for(browser, "#done")
    patterns = [
        row.get_attribute("data-pattern")
        for row in browser.find_elements(By.CSS_SELECTOR, "#block-rules tbody tr")
    ]
    assert a164 in patterns and b164 in patterns
    screenshot("rules-after-import")


def test_a_rule_identical_to_one_in_force_is_refused_everywhere(
    server: LiveServer, supervisor: ApiSession
) -> None:
    national, e164 = fresh_number()
    body = {"kind": "block", "number": national, "action": "reject", "reason": "prank"}
    first = supervisor.client.post("/api/rules", json=body, headers=supervisor.headers())
    assert first.status_code == 201, first.text
    rule_id = first.json()["id"]

    again = supervisor.client.post(
        "/api/rules", json={**body, "number": e164}, headers=supervisor.headers()
    )
    assert again.status_code == 409 and again.json()["detail"] == "error.rule_duplicate"

    form = supervisor.client.post(
        "/rules", data={"csrf_token": supervisor.csrf, **body, "reason": "typed again"}
    )
    assert form.status_code == 409
    assert "sudah berlaku" in form.text or "already in force" in form.text
    assert 'value="typed again"' in form.text  # what was typed is kept

    other = fresh_number()[0]
    text = _import_csv([f"block,{national},,reject,again,", f"block,{other},,,new,7d"])
    preview = supervisor.client.post(
        "/rules/import",
        data={"csrf_token": supervisor.csrf},
        files={"file": ("rules.csv", text.encode(), "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    assert rule_id in preview.text and ("Duplikat" in preview.text or "Duplicate" in preview.text)
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', preview.text)
    assert digest
    done = supervisor.client.post(
        "/rules/import/confirm",
        data={"csrf_token": supervisor.csrf, "text": text, "digest": digest[1]},
    )
    assert done.status_code == 303
    in_force = rows(server, "SELECT id FROM rules WHERE pattern = ? AND removed_ts IS NULL", [e164])
    assert [row["id"] for row in in_force] == [rule_id]


def test_csv_export_in_the_indonesian_excel_dialect(
    server: LiveServer, supervisor: ApiSession
) -> None:
    national, e164 = fresh_number()
    body = {"kind": "block", "number": national, "reason": "iseng; lagi, lagi", "expires": "7d"}
    assert supervisor.client.post("/api/rules", json=body, headers=supervisor.headers()).is_success
    page = supervisor.client.get("/rules")
    assert 'href="/rules.csv?dialect=excel"' in page.text and 'href="/rules.csv"' in page.text

    answer = supervisor.client.get("/rules.csv", params={"dialect": "excel"})
    assert answer.status_code == 200
    assert "siaga-rules-excel.csv" in answer.headers["content-disposition"]
    text = answer.content.decode("utf-8")
    assert text.startswith("\ufeffid;Jenis;Nomor;Cocok;Tindakan;Alasan;Oleh;Dibuat;Kedaluwarsa\r\n")
    found = [
        row
        for row in csv.DictReader(io.StringIO(text[1:]), delimiter=";")
        if row["Nomor"] == "'" + e164
    ]
    assert found and found[0]["Alasan"] == "iseng; lagi, lagi"
    assert found[0]["Jenis"] == "block" and found[0]["Tindakan"] == "challenge"

    plain = supervisor.client.get("/rules.csv").content.decode("utf-8")
    assert plain.startswith("\ufeffid,kind,pattern,match,action,reason,")
    bad = supervisor.client.get("/rules.csv", params={"dialect": "lotus"})
    assert bad.status_code in (400, 422)


def test_a_semicolon_csv_saved_by_excel_is_imported(
    server: LiveServer, supervisor: ApiSession
) -> None:
    (a, a164), (b, b164) = fresh_number(), fresh_number()
    text = (
        "\ufeffJenis;Nomor;Cocok;Tindakan;Alasan;Kedaluwarsa\r\n"
        f"block;{a};;reject;iseng, berulang;\r\n"
        f"allow;{b};;;puskesmas;\r\n"
    )
    preview = supervisor.client.post(
        "/rules/import",
        data={"csrf_token": supervisor.csrf},
        files={"file": ("aturan.csv", text.encode("utf-8"), "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', preview.text)
    assert digest
    done = supervisor.client.post(
        "/rules/import/confirm",
        data={"csrf_token": supervisor.csrf, "text": text, "digest": digest[1]},
    )
    assert done.status_code == 303
    now = listed(supervisor)
    assert now[a164]["reason"] == "iseng, berulang" and now[a164]["action"] == "reject"
    assert now[b164]["kind"] == "allow"
