"""The reference of docs/cli.md is what the `siaga` parser gives (scripts/cli_reference.py).

A command or option added, renamed or given another help text without running
`.venv/bin/python scripts/cli_reference.py` fails here, with the diff and that command.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = REPO_ROOT / "scripts" / "cli_reference.py"
FIX = ".venv/bin/python scripts/cli_reference.py"


def load_generator() -> ModuleType:
    """scripts/cli_reference.py as a module (scripts/ is not a package)."""
    spec = importlib.util.spec_from_file_location("siaga_cli_reference", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = load_generator()


def sections(reference: str) -> dict[str, str]:
    """The reference's text under each `### `siaga ...`` heading, by command path."""
    found: dict[str, str] = {}
    for chunk in reference.split("\n### `")[1:]:
        path, _, body = chunk.partition("`\n")
        found[path] = body
    return found


def test_the_committed_reference_is_what_the_parser_gives() -> None:
    diff = gen.stale_diff()
    assert not diff, (
        f"docs/cli.md's command reference is stale: run `{FIX}` and commit docs/cli.md\n{diff}"
    )


def test_the_reference_has_every_command_in_order_and_every_option() -> None:
    parser = gen.siaga_parser()
    walked = list(gen.walk(parser))
    by_path = sections(gen.reference(gen.siaga_parser()))
    assert list(by_path) == [path for path, _, _ in walked]
    assert {"siaga", "siaga block add", "siaga user passwd", "siaga config check"} <= set(by_path)
    for path, summary, command in walked:
        body = by_path[path]
        assert f"usage: {path} " in body, path
        assert summary in body
        for action in command._actions:
            for option in action.option_strings:
                assert option in body, f"`{path}`: {option} missing from its reference"


def test_the_reference_is_width_100_and_has_no_trailing_spaces() -> None:
    reference = gen.reference()
    lines = reference.splitlines()
    assert not [line for line in lines if line != line.rstrip()]
    # argparse wraps the help at 100 columns; only a word it cannot break (a list of
    # choices) is longer.
    help_lines = [
        line
        for block in reference.split("```text\n")[1:]
        for line in block.split("```")[0].splitlines()
    ]
    too_long = [line for line in help_lines if len(line) > gen.WIDTH]
    assert too_long == [line for line in too_long if line.strip().startswith("{")]
    assert reference.startswith(gen.START) and reference.endswith(gen.END + "\n")


def test_the_reference_does_not_depend_on_the_machine(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    expected = gen.reference()
    monkeypatch.setenv("COLUMNS", "40")
    monkeypatch.setenv("LINES", "10")
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert gen.reference() == expected


def test_this_machines_paths_are_replaced() -> None:
    assert gen.normalise(f"default {gen.REPO_ROOT}/var/x.db") == "default ./var/x.db"
    assert gen.normalise(f"{Path.home()}/.config/siaga") == "~/.config/siaga"
    assert gen.normalise("var/site-demo") == "var/site-demo"


def test_a_new_option_makes_the_doc_stale() -> None:
    parser = gen.siaga_parser()
    calls = next(command for path, _, command in gen.walk(parser) if path == "siaga calls")
    calls.add_argument("--brand-new", help="an option nobody documented")
    diff = gen.stale_diff(section=gen.reference(parser))
    assert (
        "+  --brand-new BRAND_NEW\n+                        an option nobody documented\n" in diff
    )


def test_check_says_what_to_run_and_the_rewrite_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = tmp_path / "cli.md"
    committed = gen.CLI_DOC.read_text(encoding="utf-8")
    stale = committed.replace("more log output; twice: debug", "more log output", 1)
    assert stale != committed
    doc.write_text(stale, encoding="utf-8")

    assert gen.main(["--check", "--doc", str(doc)]) == 1
    out, err = capsys.readouterr()
    assert "-  -v, --verbose  more log output\n" in out
    assert "+  -v, --verbose  more log output; twice: debug\n" in out
    assert FIX in err
    assert doc.read_text(encoding="utf-8") == stale  # --check changes nothing

    assert gen.main(["--doc", str(doc)]) == 0
    assert doc.read_text(encoding="utf-8") == committed
    assert gen.main(["--check", "--doc", str(doc)]) == 0


def test_only_the_text_between_the_markers_is_rewritten() -> None:
    doc = f"# Guide\n\nprose\n\n{gen.START}\nold\n{gen.END}\n\n## After\n"
    assert gen.with_reference(doc, "NEW\n") == "# Guide\n\nprose\n\nNEW\n\n## After\n"
    assert gen.guide(doc) == "# Guide\n\nprose\n\n\n## After\n"


@pytest.mark.parametrize(
    "doc",
    [
        "no markers\n",
        f"{gen.START}\nonly the start\n",
        f"{gen.END}\n{gen.START}\n",
        f"{gen.START}\n{gen.END}\n{gen.START}\n{gen.END}\n",
    ],
)
def test_a_doc_without_its_markers_once_each_is_refused(tmp_path: Path, doc: str) -> None:
    path = tmp_path / "cli.md"
    path.write_text(doc, encoding="utf-8")
    assert gen.main(["--check", "--doc", str(path)]) == 2
    assert gen.main(["--doc", str(path)]) == 2
    assert path.read_text(encoding="utf-8") == doc


def test_the_parser_is_the_console_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The generator builds the parser with the groups `web_ui.cli:main` passes."""
    import appliance.cli
    import web_ui.cli

    class Built(Exception):
        pass

    passed: list[object] = []

    def build_parser(groups: Sequence[object] = ()) -> argparse.ArgumentParser:
        passed.append(tuple(groups))
        raise Built

    monkeypatch.setattr(appliance.cli, "build_parser", build_parser)
    with pytest.raises(Built):
        web_ui.cli.main(["--help"])
    assert passed == [(web_ui.cli.add_web_commands,)]
