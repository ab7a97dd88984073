"""The challenge key and the voice prompts agree.

Setting the key to 9 while prompts say "tekan 5" is refused, naming each prompt, over the
API and on the page; changing the prompts in the same change is accepted; a challenge
prompt naming no key is refused. A disagreement already in the configuration file does
not block an unrelated change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from appliance.config import Config
from tests.web_ui.conftest import ApiSession, LiveServer
from tests.web_ui.test_screening import (
    audit_count,
    clean_settings,  # noqa: F401  (a fixture, used by name)
    current,
    form,
    patch,
    rows,
    version,
)
from web_ui.settings.prompt_keys import disagreements, named_keys, new_disagreements
from web_ui.users.service import Role


@pytest.fixture
def supervisor(api_session: Callable[..., ApiSession]) -> ApiSession:
    """A logged-in supervisor."""
    return api_session(Role.SUPERVISOR)


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("Darurat 112: tekan 5, atau bicaralah.", ["5"]),
        ("Emergency 112: press 5, or speak.", ["5"]),
        ("Tekanlah tombol # sekarang", ["#"]),
        ("press the key 9 then press 9", ["9", "9"]),
        ("Please hold, you are being connected to an operator.", []),
        ("Call 112 again", []),
    ],
)
def test_the_keys_a_prompt_names(text: str, keys: list[str]) -> None:
    assert named_keys(text) == keys


def test_the_defaults_agree_and_a_new_key_alone_does_not() -> None:
    config = Config()
    assert disagreements(config) == []
    nine = config.model_copy(update={"challenge": config.challenge.model_copy(update={"key": "9"})})
    found = {(item.field, item.key) for item in new_disagreements(config, nine)}
    assert ("challenge.key", "settings.error.key_prompts_disagree") in found
    for language in config.prompts:
        for name in ("challenge", "flood_challenge", "silent_goodbye"):
            assert (f"prompts.{language}.{name}", "settings.error.prompt_wrong_key") in found
    # A disagreement the file already has is no new one.
    assert new_disagreements(nine, nine) == []


def _all_prompts_saying(session: ApiSession, key: str) -> dict[str, Any]:
    """Every prompt of every language with "5" replaced by `key`."""
    prompts = current(session)["values"]["prompts"]
    return {
        language: {
            name: text.replace("5", key)
            for name, text in texts.items()
            if isinstance(text, str) and not name.endswith("_file")
        }
        for language, texts in prompts.items()
    }


@pytest.mark.usefixtures("clean_settings")
def test_a_key_the_prompts_do_not_name_is_refused_naming_each_prompt(
    server: LiveServer, supervisor: ApiSession
) -> None:
    before = version(server), audit_count(server)
    answer = patch(supervisor, {"challenge": {"key": "9"}})
    assert answer.status_code == 422, answer.text
    errors = {error["field"]: error["msg"] for error in answer.json()["errors"]}
    assert "challenge.key" in errors
    assert "prompts.id.challenge" in errors and "prompts.en.flood_challenge" in errors
    assert "menekan 5, padahal tombol tantangan 9" in errors["prompts.en.challenge"]
    assert (version(server), audit_count(server)) == before
    assert rows(server, "SELECT * FROM settings") == []

    prompts = _all_prompts_saying(supervisor, "9")
    together = patch(supervisor, {"challenge": {"key": "9"}, "prompts": prompts})
    assert together.status_code == 200, together.text
    assert together.json()["values"]["challenge"]["key"] == "9"


@pytest.mark.usefixtures("clean_settings")
def test_a_challenge_prompt_naming_no_key_is_refused(supervisor: ApiSession) -> None:
    answer = patch(supervisor, {"prompts": {"en": {"challenge": "Stay on the line."}}})
    assert answer.status_code == 422, answer.text
    [error] = answer.json()["errors"]
    assert error["field"] == "prompts.en.challenge"
    assert "press 5" in error["msg"] or "tekan 5" in error["msg"]
    fine = patch(supervisor, {"prompts": {"en": {"connecting": "Stay on the line."}}})
    assert fine.status_code == 200, fine.text  # only the challenge prompts must name it


@pytest.mark.usefixtures("clean_settings")
def test_the_page_names_the_prompt_beside_it_and_in_the_summary(supervisor: ApiSession) -> None:
    answer = supervisor.client.post("/settings", data=form(supervisor, **{"challenge.key": "9"}))
    assert answer.status_code == 422
    page = answer.text
    summary = page[page.index('id="error-summary"') :]
    summary = summary[: summary.index("</ul>")]
    assert 'href="#f-prompts-id-challenge"' in summary and "Pesan tantangan" in summary
    start = page.index('id="f-prompts-id-challenge-error"')
    assert "menyuruh menekan 5, padahal tombol tantangan 9" in page[start : start + 300]
    start = page.index('id="f-challenge-key-error"')
    assert "masih menyebut tombol lain" in page[start : start + 300]
