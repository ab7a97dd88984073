"""The challenge key and the voice prompts must agree.

The line service plays each prompt's text as it is (the modem's text-to-speech), so a
prompt cannot follow the key by itself: with `challenge.key = "9"` a prompt still saying
"tekan 5" sends every genuine caller to a key that does nothing. The settings page
therefore refuses such a change, naming the prompt, and a challenge prompt (the full and
the flood one) that names no key at all (its help says it must); docs/screening.md gives
the reasons for refusing over a `{key}` placeholder.

A prompt names a key where it says "tekan", "tekanlah", "pencet" or "press", optionally
followed by "tombol", "angka", "the", "key" or "button", then the key in digits, `*` or
`#` ("tekan 5", "press the key 9", "tekan tombol #"). A prompt with a recording
(`*_file`) is not checked: the recording, not the text, is played, and no program can
hear what it says.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from appliance.config import Config, PromptText
from web_ui.core.i18n import has_message, translate

# Prompt texts that a caller hears, and the recording that replaces each.
PROMPT_FILES: dict[str, str] = {
    "challenge": "challenge_file",
    "flood_challenge": "flood_challenge_file",
    "connecting": "connecting_file",
    "announce": "announce_file",
    "silent_goodbye": "goodbye_file",
    "reported": "reported_file",
}
# Prompts that must tell the caller the key: the challenge, full and short.
MUST_NAME_KEY: tuple[str, ...] = ("challenge", "flood_challenge")
_KEY_PHRASE = re.compile(
    r"\b(?:tekan(?:lah)?|pencet(?:lah)?|press)\s+"
    r"(?:(?:tombol|angka|the|key|button)\s+)*"
    r"([0-9*#]+)",
    re.IGNORECASE,
)


@dataclasses.dataclass(frozen=True)
class Disagreement:
    """A prompt and the key at odds: `field` is the prompt's dotted name, `key` the
    message key (`settings.error.prompt_*`) and `values` what the message inserts.
    (`web_ui.settings.service` turns it into one of its `Problem`s.)"""

    field: str
    key: str
    values: Mapping[str, str | float] = dataclasses.field(default_factory=dict)


def language_name(language: str) -> str:
    """A prompt language by its name ("Bahasa Indonesia"), the same in every UI language."""
    key = f"lang.{language}"
    return translate("en", key) if has_message(key) else language


def named_keys(text: str) -> list[str]:
    """Every key `text` tells the caller to press, in order ("tekan 5" -> ["5"])."""
    return [found.group(1) for found in _KEY_PHRASE.finditer(text)]


def _spoken_texts(prompts: PromptText) -> list[tuple[str, str]]:
    """(prompt name, text) of each prompt played from its text (no recording named)."""
    return [
        (name, str(getattr(prompts, name)))
        for name, file_field in PROMPT_FILES.items()
        if not getattr(prompts, file_field)
    ]


def disagreements(config: Config) -> list[Disagreement]:
    """Each prompt that names another key than `challenge.key`, and each challenge
    prompt that names none, on the prompt's own field; and, when a prompt names another
    key, one on `challenge.key` too (the field the user may have just changed)."""
    key = config.challenge.key
    found: list[Disagreement] = []
    for language, prompts in config.prompts.items():
        for name, text in _spoken_texts(prompts):
            prompt_field = f"prompts.{language}.{name}"
            values: dict[str, str | float] = {"key": key, "language": language_name(language)}
            wrong = [named for named in named_keys(text) if named != key]
            if wrong:
                values["named"] = wrong[0]
                found.append(Disagreement(prompt_field, "settings.error.prompt_wrong_key", values))
            elif name in MUST_NAME_KEY and not named_keys(text):
                found.append(Disagreement(prompt_field, "settings.error.prompt_no_key", values))
    if any(item.key == "settings.error.prompt_wrong_key" for item in found):
        found.insert(0, Disagreement("challenge.key", "settings.error.key_prompts_disagree"))
    return found


def new_disagreements(before: Config | None, after: Config) -> Sequence[Disagreement]:
    """What `after` has that `before` had not: a disagreement already in the
    configuration file does not block an unrelated change; a change that makes one does."""
    had = set() if before is None else {(d.field, d.key) for d in disagreements(before)}
    return [item for item in disagreements(after) if (item.field, item.key) not in had]
