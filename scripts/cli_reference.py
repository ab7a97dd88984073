# ruff: noqa: T201  (a script: it prints what it did)
"""The command reference of docs/cli.md, generated from the `siaga` parser.

    .venv/bin/python scripts/cli_reference.py            # rewrite the reference in docs/cli.md
    .venv/bin/python scripts/cli_reference.py --check    # exit 1, with a diff, if it is stale

The parser is the one the `siaga` console script runs (`web_ui.cli:main`): the appliance's
commands (`appliance.cli.build_parser`) with the web UI's group (`web_ui.cli`). It is
walked depth first, in the order the commands are added: `siaga` itself, then every
command and nested command (`siaga block`, `siaga block add`, ...). Each gets a heading,
the one-line help its parent lists it with, and its `--help` output as argparse formats
it: usage line, positionals and options with their help text.

Only the text between the two markers (`START`, `END`) is rewritten; the hand-written
guide around them is left as it is. tests/test_cli_reference.py fails when the committed
reference differs from what the parser gives, so an option added without running this
script fails the suite.

The output does not depend on the machine: the help is formatted `WIDTH` columns wide
whatever the terminal (or `COLUMNS`) says, without colour, and any absolute path of this
machine a help text might show (the checkout, the current folder, the home folder) is
replaced by a placeholder. argparse's layout changes a little between Python versions;
the reference is made with the project's Python (.venv, 3.11).
"""

from __future__ import annotations

import argparse
import difflib
import functools
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
CLI_DOC = REPO_ROOT / "docs" / "cli.md"
COMMAND = ".venv/bin/python scripts/cli_reference.py"

START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"
NOTE = (
    "<!-- Generated from the `siaga` parser by scripts/cli_reference.py: do not edit here.\n"
    "     Change the help in appliance/cli.py or web_ui/cli.py, then run the script. -->"
)
WIDTH = 100  # columns of the help text (a terminal's width less the 2 argparse keeps spare)
PROGRAM = "siaga"


class MarkerError(Exception):
    """docs/cli.md does not hold the two markers once each, start before end."""


def siaga_parser() -> argparse.ArgumentParser:
    """The parser of the `siaga` console script, as `web_ui.cli.main` builds it."""
    from appliance.cli import build_parser
    from web_ui.cli import add_web_commands

    return build_parser((add_web_commands,))


def _subcommands(
    parser: argparse.ArgumentParser,
) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """(name, one-line help, parser) of a parser's commands, in the order they were added."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                yield name, helps.get(name, ""), sub


def walk(
    parser: argparse.ArgumentParser, path: str = PROGRAM, summary: str = ""
) -> Iterator[tuple[str, str, argparse.ArgumentParser]]:
    """(command path, one-line help, parser) of the whole tree, depth first, root first."""
    yield path, summary, parser
    for name, line, sub in _subcommands(parser):
        yield from walk(sub, f"{path} {name}", line)


def help_text(parser: argparse.ArgumentParser) -> str:
    """The parser's `--help`, `WIDTH` columns wide and without colour, whatever the terminal."""
    state = vars(parser)  # set through its attributes' dict: `color` exists from Python 3.14
    saved: dict[str, Any] = {
        key: state[key] for key in ("formatter_class", "color") if key in state
    }
    state["formatter_class"] = functools.partial(saved["formatter_class"], width=WIDTH)
    if "color" in saved:  # Python 3.14 colours the help on a terminal
        state["color"] = False
    try:
        lines = parser.format_help().splitlines()
    finally:
        state.update(saved)
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _machine_paths() -> list[tuple[str, str]]:
    """Absolute paths of this machine a help text might show, and what stands for them."""
    paths = [(str(REPO_ROOT), "."), (os.getcwd(), "."), (str(Path.home()), "~")]
    return sorted({(p, s) for p, s in paths if len(p) > 1}, key=lambda item: -len(item[0]))


def normalise(text: str) -> str:
    """The text with this machine's absolute paths replaced (longest first)."""
    for path, placeholder in _machine_paths():
        text = text.replace(path, placeholder)
    return text


def reference(parser: argparse.ArgumentParser | None = None) -> str:
    """The generated section, markers included, ending with a newline."""
    parts = [START, NOTE]
    for path, summary, command in walk(parser or siaga_parser()):
        parts.append(f"### `{path}`")
        if summary:
            parts.append(summary)
        parts.append("```text\n" + normalise(help_text(command)) + "\n```")
    parts.append(END)
    return "\n\n".join(parts) + "\n"


def _span(text: str) -> tuple[int, int]:
    """Where the section (markers included) starts and ends in the document."""
    if text.count(START) != 1 or text.count(END) != 1:
        raise MarkerError(f"docs/cli.md must hold `{START}` and `{END}` once each")
    start = text.index(START)
    end = text.index(END)
    if end < start:
        raise MarkerError(f"docs/cli.md: `{END}` comes before `{START}`")
    return start, end + len(END) + (1 if text[end + len(END) :].startswith("\n") else 0)


def with_reference(text: str, section: str) -> str:
    """The document with its section between the markers replaced by `section`."""
    start, end = _span(text)
    return text[:start] + section + text[end:]


def guide(text: str) -> str:
    """The hand-written part of the document: everything but the generated section."""
    start, end = _span(text)
    return text[:start] + text[end:]


def stale_diff(doc: Path = CLI_DOC, section: str | None = None) -> str:
    """A unified diff from the document to what the parser gives; empty when up to date."""
    current = doc.read_text(encoding="utf-8")
    wanted = with_reference(current, section if section is not None else reference())
    name = "docs/cli.md" if doc == CLI_DOC else doc.name
    return "".join(
        difflib.unified_diff(
            current.splitlines(keepends=True),
            wanted.splitlines(keepends=True),
            fromfile=f"{name} (committed)",
            tofile=f"{name} (from the parser)",
        )
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the reference, or with --check say whether it is stale (exit status 1)."""
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    options.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 with a diff if stale"
    )
    options.add_argument("--doc", type=Path, default=CLI_DOC, help=argparse.SUPPRESS)
    args = options.parse_args(argv)
    try:
        current = args.doc.read_text(encoding="utf-8")
        wanted = with_reference(current, reference())
    except MarkerError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.check:
        if current == wanted:
            return 0
        sys.stdout.write(stale_diff(args.doc))
        print(f"docs/cli.md is stale: run `{COMMAND}` and commit the result", file=sys.stderr)
        return 1
    if current == wanted:
        print("docs/cli.md: the reference is up to date")
    else:
        args.doc.write_text(wanted, encoding="utf-8")
        print("docs/cli.md: the reference is rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
