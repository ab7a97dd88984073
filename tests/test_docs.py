"""Docs are tested: a test fails when a CLI command or a setting is undocumented.

- Every `siaga` subcommand (walked from the parser `web_ui.cli` assembles) appears in
  the guide of docs/cli.md (the hand-written part, above its generated reference) as its
  full path, e.g. `siaga block add`.
- Every option of those commands is explained: by its help text (which the generated
  reference shows; tests/test_cli_reference.py keeps that reference current) or in the
  guide, except the known gaps listed below (a ratchet: a new unexplained option fails,
  and so does a stale entry).
- README.md stays the front door: under 9,000 bytes, and it links every docs/*.md file.
- Every configuration key (walked from the pydantic models of `appliance.config.Config`,
  e.g. `policy.throttle.max_calls`) appears in docs/config-example.toml under its table,
  and that file loads to exactly the built-in defaults.
"""

from __future__ import annotations

import argparse
import re
import tomllib
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from appliance.cli import build_parser
from appliance.config import Config, ConfigError, LineConfig, load_config, parse_config
from web_ui.cli import add_web_commands

REPO_ROOT = Path(__file__).resolve().parents[1]
README = REPO_ROOT / "README.md"
CLI_DOC = REPO_ROOT / "docs" / "cli.md"
README_MAX_BYTES = 9_000
CONFIG_EXAMPLE = REPO_ROOT / "docs" / "config-example.toml"

# The generated reference of docs/cli.md lies between these (scripts/cli_reference.py).
CLI_REFERENCE_START = "<!-- cli-reference:start -->"
CLI_REFERENCE_END = "<!-- cli-reference:end -->"

# Options with no help text that the guide does not mention yet. Give one a help text or
# explain it in docs/cli.md, then remove it from here.
KNOWN_UNDOCUMENTED_OPTIONS: frozenset[str] = frozenset()

# `[table]` / `[[array.of.tables]]` and `key = value`, each possibly commented out ("# ").
_HEADER = re.compile(r"^(?:#\s*)?\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^(?:#\s*)?([A-Za-z0-9_]+)\s*=")


# ------------------------------------------------------------------ the CLI


def command_parsers(
    parser: argparse.ArgumentParser, path: str = "siaga"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """Every (command path, parser) of the argparse tree, the root included."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from command_parsers(sub, f"{path} {name}")


def leaf_commands() -> list[str]:
    """Command paths that run something (`siaga block add`, not `siaga block`)."""
    return [
        path
        for path, parser in command_parsers(build_parser((add_web_commands,)))
        if not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
    ]


def option_strings(*, without_help: bool = False) -> set[str]:
    """Every long option of every command, `--help` left out; with `without_help`, only
    those that some command gives without a help text."""
    return {
        option
        for _, parser in command_parsers(build_parser((add_web_commands,)))
        for action in parser._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
        if not without_help or not action.help or action.help == argparse.SUPPRESS
    }


def cli_guide() -> str:
    """docs/cli.md without its generated reference: the hand-written guide."""
    text = CLI_DOC.read_text(encoding="utf-8")
    before, start, rest = text.partition(CLI_REFERENCE_START)
    _, end, after = rest.partition(CLI_REFERENCE_END)
    assert start and end, f"docs/cli.md holds {CLI_REFERENCE_START} ... {CLI_REFERENCE_END}"
    return before + after


def test_the_command_tree_is_walked() -> None:
    commands = leaf_commands()
    assert {"siaga block add", "siaga scenario generate", "siaga config check"} <= set(commands)
    assert len(commands) >= 13


@pytest.mark.parametrize("command", leaf_commands())
def test_every_command_is_in_the_cli_guide(command: str) -> None:
    text = cli_guide()
    assert command in text, f"the guide of docs/cli.md (above its reference) lacks `{command}`"


def test_every_option_has_a_help_text_or_is_in_the_cli_guide_or_a_known_gap() -> None:
    text = cli_guide()
    undocumented = {option for option in option_strings(without_help=True) if option not in text}
    new_gaps = sorted(undocumented - KNOWN_UNDOCUMENTED_OPTIONS)
    assert not new_gaps, f"options with no help text, missing from docs/cli.md: {new_gaps}"
    closed = sorted(KNOWN_UNDOCUMENTED_OPTIONS - undocumented)
    assert not closed, f"now documented: remove {closed} from KNOWN_UNDOCUMENTED_OPTIONS"


# ------------------------------------------------------------------ the README


def test_the_readme_is_a_short_front_door() -> None:
    size = len(README.read_bytes())
    assert size < README_MAX_BYTES, f"README.md is {size} bytes: move text into docs/"


def test_the_readme_links_every_doc() -> None:
    readme = README.read_text(encoding="utf-8")
    docs = sorted(path.name for path in (REPO_ROOT / "docs").glob("*.md"))
    assert docs, "docs/ holds Markdown files"
    unlinked = [name for name in docs if f"](docs/{name})" not in readme]
    assert not unlinked, f"README.md does not link {unlinked}"


# ------------------------------------------------------------------ the configuration


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models an annotation holds (directly, in a tuple, dict or union)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) is dict:
        return _models_in(args[1])
    if typing.get_origin(annotation) in (tuple, list, typing.Union, types.UnionType):
        return [model for arg in args if arg is not Ellipsis for model in _models_in(arg)]
    return []


def config_keys(model: type[BaseModel] = Config, default: Any = None, prefix: str = "") -> set[str]:
    """Every dotted key: tables, their keys, and the keys of arrays of tables.

    A dict of models (`prompts`) is walked once per key of its default (`prompts.id`,
    `prompts.en`); an array of tables (`lines`, `policy.abuse.ladder`) as one table.
    """
    default = model() if default is None and model is Config else default
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        keys.add(path)
        value = getattr(default, name, None) if default is not None else None
        for inner in _models_in(field.annotation):
            if isinstance(value, dict):
                for key, item in value.items():
                    keys.add(f"{path}.{key}")
                    keys |= config_keys(inner, item, f"{path}.{key}.")
            elif isinstance(value, BaseModel):
                keys |= config_keys(inner, value, f"{path}.")
            else:  # an array of tables, possibly empty by default
                first = value[0] if isinstance(value, tuple) and value else None
                keys |= config_keys(inner, first, f"{path}.")
    return keys


def documented_keys(text: str) -> set[str]:
    """The dotted keys a TOML file shows, set or commented out (`# key = value`)."""
    keys: set[str] = set()
    table = ""
    for raw in text.splitlines():
        line = raw.strip()
        header = _HEADER.match(line)
        if header:
            table = header.group(1)
            parts = table.split(".")
            keys.update(".".join(parts[: n + 1]) for n in range(len(parts)))
            continue
        key = _KEY.match(line)
        if key:
            keys.add(f"{table}.{key.group(1)}" if table else key.group(1))
    return keys


def test_the_config_models_are_walked() -> None:
    keys = config_keys()
    expected = {
        "site.timezone",
        "policy.throttle.max_calls",
        "challenge.key",
        "lines.port",
        "policy.abuse.ladder.restrict_s",
        "prompts.id.challenge_file",
        "web.port",
    }
    assert expected <= keys


@pytest.mark.parametrize("key", sorted(config_keys()))
def test_every_setting_is_in_the_config_example(key: str) -> None:
    documented = documented_keys(CONFIG_EXAMPLE.read_text(encoding="utf-8"))
    assert key in documented, f"docs/config-example.toml does not show `{key}`"


def test_the_config_example_shows_no_unknown_keys() -> None:
    documented = documented_keys(CONFIG_EXAMPLE.read_text(encoding="utf-8"))
    assert sorted(documented - config_keys()) == []


def test_the_config_example_loads_as_the_defaults() -> None:
    assert load_config(CONFIG_EXAMPLE) == Config()


def test_the_config_example_is_a_complete_toml_file() -> None:
    data = tomllib.loads(CONFIG_EXAMPLE.read_text(encoding="utf-8"))
    assert set(data) == set(Config.model_fields) - {"lines", "cluster"}


def test_the_commented_line_example_is_valid_once_uncommented() -> None:
    text = CONFIG_EXAMPLE.read_text(encoding="utf-8")
    block = text.split("# [[lines]]\n", 1)[1].split("\n\n", 1)[0]
    settings = [line[2:] for line in block.splitlines() if _KEY.match(line)]
    config = parse_config(tomllib.loads("[[lines]]\n" + "\n".join(settings)), "example")
    (line,) = config.lines
    assert {setting.split(" =")[0] for setting in settings} == set(LineConfig.model_fields)
    assert line.name == "line1"


def test_every_reference_policy_file_is_a_valid_configuration() -> None:
    policies = sorted((REPO_ROOT / "docs" / "policies").glob("*.toml"))
    assert [path.name for path in policies] == [
        "challenge-everybody.toml",
        "no-screening.toml",
        "todays-practice.toml",
    ]
    for path in policies:
        load_config(path)


def test_the_kinds_of_genuine_call_are_checked_as_the_example_documents() -> None:
    """`site.genuine_kinds`: 1 to 20 unique slugs; `site.kind_labels`: slug -> a name."""
    text = CONFIG_EXAMPLE.read_text(encoding="utf-8")
    example = re.search(r"e\.g\. (kind_labels = \{[^}]*\})", text)
    assert example is not None, "the example shows a kind_labels table"
    site = tomllib.loads(example.group(1)) | {"genuine_kinds": ["flood", "landslide", "fire"]}
    config = parse_config({"site": site})
    assert config.site.kind_labels == {"flood": "Banjir", "landslide": "Tanah longsor"}
    assert config.site.genuine_kinds == ("flood", "landslide", "fire")
    twenty = [f"kind_{n}" for n in range(20)]
    assert parse_config({"site": {"genuine_kinds": twenty}}).site.genuine_kinds == tuple(twenty)
    refused = [
        {"genuine_kinds": []},
        {"genuine_kinds": [*twenty, "one_more"]},
        {"genuine_kinds": ["fire", "fire"]},
        {"genuine_kinds": ["Fire"]},
        {"genuine_kinds": ["1st"]},
        {"genuine_kinds": ["x" * 33]},
        {"kind_labels": {"Flood": "Banjir"}},
        {"kind_labels": {"flood": "  "}},
        {"kind_labels": {"flood": "x" * 41}},
    ]
    for site in refused:
        with pytest.raises(ConfigError, match=r"site\.(genuine_kinds|kind_labels)"):
            parse_config({"site": site})
