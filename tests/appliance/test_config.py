"""Configuration loading: defaults, and errors that name the key and the problem."""

from pathlib import Path

import pytest

from appliance.config import Config, ConfigError, load_config


def test_no_file_gives_the_embedded_defaults() -> None:
    config = load_config(None)
    assert config.site.timezone == "Asia/Jakarta"
    assert config.site.region == "ID"
    assert config.policy.throttle.max_calls == 3
    assert [step.count for step in config.policy.abuse.ladder] == [3, 6, 10]


def test_missing_file_is_reported_by_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "nope.toml")
    assert "file not found" in str(caught.value)


def test_invalid_toml_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[site\nname = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "not valid TOML" in str(caught.value)


def test_each_bad_key_is_named_with_its_problem(tmp_path: Path) -> None:
    path = tmp_path / "siaga.toml"
    path.write_text(
        """
[site]
timezone = "Mars/Olympus"
colour = "red"

[policy.throttle]
max_calls = 0

[[lines]]
name = "line1"
port = "/dev/ttyUSB0"
family = "nokia"
"""
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = "\n".join(caught.value.problems)
    assert "site.timezone: unknown time zone 'Mars/Olympus'" in problems
    assert "site.colour: unknown key" in problems
    assert "policy.throttle.max_calls:" in problems
    assert "lines[0].family:" in problems


def test_duplicate_line_names_and_ports_are_refused() -> None:
    with pytest.raises(ValueError, match="unique: line1"):
        Config.model_validate(
            {"lines": [{"name": "line1", "port": "/a"}, {"name": "line1", "port": "/b"}]}
        )
    with pytest.raises(ValueError, match="same port: /a"):
        Config.model_validate(
            {"lines": [{"name": "line1", "port": "/a"}, {"name": "line2", "port": "/a"}]}
        )


def test_ladder_counts_must_ascend() -> None:
    with pytest.raises(ValueError, match="strictly increasing"):
        Config.model_validate(
            {
                "policy": {
                    "abuse": {
                        "ladder": [
                            {"count": 6, "restrict_s": 10},
                            {"count": 3, "restrict_s": 10},
                        ]
                    }
                }
            }
        )


def test_a_prompt_file_that_is_not_a_bare_name_is_refused_at_load(tmp_path: Path) -> None:
    """It goes into an AT command and names a file in one folder: caught before any call."""
    path = tmp_path / "siaga.toml"
    base = Config().prompts["id"].model_dump(exclude_none=True)
    lines = "\n".join(f"{key} = {value!r}" for key, value in base.items())
    path.write_text(f'[prompts.id]\n{lines}\nchallenge_file = "../../etc/passwd"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = "\n".join(caught.value.problems)
    assert "prompts.id.challenge_file:" in problems and "bare file name" in problems


def test_a_prompts_table_that_sets_only_durations_keeps_the_built_in_words(
    tmp_path: Path,
) -> None:
    """Every prompt key has a default: a site that only times its recordings needs no text."""
    path = tmp_path / "siaga.toml"
    path.write_text("[prompts.id]\nchallenge_seconds = 9.5\ngoodbye_seconds = 4.0\n")
    config = load_config(path)
    built_in = Config().prompts
    prompts = config.prompt_text()
    assert (prompts.challenge_seconds, prompts.goodbye_seconds) == (9.5, 4.0)
    assert prompts.challenge == built_in["id"].challenge
    assert (
        prompts.model_copy(update={"challenge_seconds": 12.0, "goodbye_seconds": 8.0})
        == (built_in["id"])
    )
    assert config.prompts["en"] == built_in["en"]  # a language left out keeps its prompts


def test_a_prompts_table_for_english_only_with_one_file_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "siaga.toml"
    path.write_text('[site]\nlanguage = "en"\n\n[prompts.en]\nchallenge_file = "press5.amr"\n')
    prompts = load_config(path).prompt_text()
    assert prompts.challenge_file == "press5.amr"
    assert prompts.connecting == Config().prompts["en"].connecting


def test_a_boxs_domain_must_be_its_sites_name(tmp_path: Path) -> None:
    """The province hub takes each site's calls from the domain of the site's name: a box
    whose server's domain is another name would share nothing with the hub, unnoticed."""
    path = tmp_path / "siaga.toml"
    path.write_text('[cluster]\nsite = "serang"\nappliance = "box1"\ndomain = "banten-1"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert "domain must be the site's name ('serang', not 'banten-1')" in str(caught.value)
    path.write_text('[cluster]\nsite = "serang"\nappliance = "box1"\ndomain = "serang"\n')
    assert load_config(path).cluster is not None
