"""The rules page's CSV export imports again as it is, in both dialects.

Rules are made through the API on one server's database, exported (`/rules.csv`, and
`/rules.csv?dialect=excel` for a user reading Bahasa Indonesia and one reading English),
and each file is imported, through the preview and its confirmation, into a new database
on a server of its own: the same rules are then in force there (kind, number, match,
action, reason and expiry to the second). A rule whose expiry passed between the export
and the import is skipped and counted, not an error. The parser's side of it is tested
on text too.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.web_ui.conftest import ApiSession, serve
from tests.web_ui.own_server import logged_in
from web_ui.rules.csv_import import parse_rules_csv
from web_ui.users.service import Role

SHORT_LIVED_S = 3.0
A_DAY_NEXT_YEAR = (date.today() + timedelta(days=400)).isoformat()
# (kind, number, match, action, reason, expires) as the API takes them.
RULES: tuple[dict[str, str], ...] = (
    {"kind": "block", "number": "0812-1111-2222", "reason": "iseng; lagi, lagi", "expires": "7d"},
    {"kind": "block", "number": "+62 813 3333 4444", "action": "reject", "reason": "=SUM(1)"},
    {"kind": "block", "number": "0857", "match": "prefix", "action": "announce",
     "reason": "-- spam massal", "expires": "2 minggu"},
    {"kind": "allow", "number": "0819-5555-6666", "reason": "@puskesmas"},
    {"kind": "allow", "number": "6281977778888"},
    {"kind": "block", "number": "0821-9999-0000", "expires": A_DAY_NEXT_YEAR, "reason": ""},
)  # fmt: skip
EXPIRING = {"kind": "block", "number": "0822-1212-3434", "expires": f"{SHORT_LIVED_S:g}s"}
REMOVED = {"kind": "block", "number": "0823-5656-7878", "reason": "dicabut", "expires": "1d"}
DIALECTS = (("plain", "id"), ("excel", "id"), ("excel", "en"))


def in_force(session: ApiSession) -> set[tuple[Any, ...]]:
    """Each rule in force as what makes it the same rule: everything but who and when."""
    answer = session.client.get("/api/rules")
    assert answer.status_code == 200, answer.text
    return {
        (r["kind"], r["pattern"], r["match"], r["action"], r["reason"], r["expires_at"])
        for r in answer.json()
    }


def add(session: ApiSession, body: dict[str, str]) -> dict[str, Any]:
    answer = session.client.post("/api/rules", json=body, headers=session.headers())
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def import_file(session: ApiSession, text: bytes) -> str:
    """Preview `text` and confirm it; the preview page."""
    preview = session.client.post(
        "/rules/import",
        data={"csrf_token": session.csrf},
        files={"file": ("siaga-rules.csv", text, "text/csv")},
    )
    assert preview.status_code == 200, preview.text
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', preview.text)
    shown = re.search(r'name="text" value="([^"]*)"', preview.text)
    assert digest and shown, preview.text
    done = session.client.post(
        "/rules/import/confirm",
        data={
            "csrf_token": session.csrf,
            "text": text.decode("utf-8"),
            "digest": digest[1],
        },
    )
    assert done.status_code == 303, done.text
    return preview.text


@pytest.mark.parametrize(("dialect", "language"), DIALECTS)
def test_an_export_imports_into_a_new_database_with_the_same_rules_in_force(
    tmp_path: Path, dialect: str, language: str
) -> None:
    with serve(tmp_path / "source.db") as source:
        author = logged_in(source, Role.SUPERVISOR, language=language)
        for body in RULES:
            add(author, body)
        removed = add(author, REMOVED)
        deleted = author.client.delete(f"/api/rules/{removed['id']}", headers=author.headers())
        assert deleted.status_code == 204
        expiring = add(author, EXPIRING)
        expected = in_force(author)
        answer = author.client.get("/rules.csv", params={"dialect": dialect})
        assert answer.status_code == 200
        exported = answer.content
    assert len(expected) == len(RULES) + 1  # the removed rule is gone, the short one not yet
    time.sleep(max(0.0, expiring["expires_ts"] - time.time() + 0.5))
    expected = {rule for rule in expected if rule[1] != expiring["pattern"]}

    with serve(tmp_path / "target.db") as target:
        importer = logged_in(target, Role.SUPERVISOR, language=language)
        preview = import_file(importer, exported)
        assert 'id="preview-errors"' not in preview, preview
        assert 'id="preview-expired"' in preview
        assert in_force(importer) == expected


# ------------------------------------------------------------------ the parser alone

NOW = 1_780_000_000.0  # 2026-05-28


def test_the_exports_columns_and_neutralised_cells_are_read_back() -> None:
    text = (
        "\ufeffid,kind,pattern,match,action,reason,created_by,created_at,expires_at\r\n"
        "b-1,block,'+6281211112222,exact,challenge,'=SUM(1),ani,2026-05-01T10:00:00+07:00,"
        "2026-06-04T09:30:15+07:00\r\n"
        "a-1,allow,'+62857,prefix,pass,'quoted',budi,2026-05-01T10:00:00+07:00,\r\n"
    )
    found = parse_rules_csv(text, region="ID", now_ts=NOW)
    assert not found.errors, found.errors
    block, allow = found.rows
    assert (block.pattern, block.reason) == ("+6281211112222", "=SUM(1)")
    assert block.expires_ts == 1_780_540_215.0  # 2026-06-04 02:30:15 UTC, to the second
    assert (allow.pattern, allow.match, allow.reason) == ("+62857", "prefix", "'quoted'")
    assert allow.expires_ts is None


def test_an_exact_expiry_that_passed_is_skipped_and_counted_not_an_error() -> None:
    text = (
        "Jenis;Nomor;Cocok;Tindakan;Alasan;Oleh;Dibuat;Kedaluwarsa\r\n"
        "block;'+6281211112222;exact;challenge;x;ani;2026-05-01T10:00:00+07:00;"
        "2026-05-02T10:00:00+07:00\r\n"
        "block;'+6281233334444;exact;challenge;y;ani;2026-05-01T10:00:00+07:00;"
        "2026-06-02T10:00:00+07:00\r\n"
    )
    found = parse_rules_csv(text, region="ID", now_ts=NOW)
    assert found.expired == (2,) and not found.errors
    assert [rule.row for rule in found.rows] == [3]
    assert len(found.rows) + len(found.errors) + len(found.expired) + found.blank == found.records


def test_a_typed_date_that_passed_is_still_an_error() -> None:
    found = parse_rules_csv(
        "kind,number,expires\nblock,0812-1111-2222,2026-01-01\n", region="ID", now_ts=NOW
    )
    assert [error.key for error in found.errors] == ["rules_csv.expires_past"]
    assert found.expired == ()
