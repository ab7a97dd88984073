"""Parsing of AT command lines and the shape of a reply (V.250 / 27.007 syntax).

`split_commands("E0+CLIP=1;+CRC=1")` gives the commands of one line; each handler returns a
`Reply`. Pure functions and data: no I/O, so they are tested without a pty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Verbose texts for AT+CMEE=2 (27.007 §9.2).
CME_TEXT: dict[int, str] = {
    3: "operation not allowed",
    4: "operation not supported",
    10: "SIM not inserted",
    30: "no network service",
    100: "unknown",
    903: "tts busy or not in call",
}


class CommandSyntaxError(ValueError):
    """The command line cannot be split into commands."""


@dataclass(frozen=True)
class Command:
    """One command of a line: `name` upper-cased (`+CLIP`, `^CVOICE`, `E`, `&F`, `S0`),
    `op` one of "", "=", "?", "=?", `args` the raw text after the operator or the digits
    of a basic command (`E0` -> "0")."""

    name: str
    op: str = ""
    args: str = ""

    @property
    def text(self) -> str:
        """The command as the host wrote it, without the AT prefix (`+CHLD=0`, `H`)."""
        return f"{self.name}{self.op}{self.args}"

    def params(self) -> list[str]:
        """Comma-separated arguments, quotes removed (commas inside quotes kept)."""
        if not self.args:
            return []
        out: list[str] = []
        current: list[str] = []
        quoted = False
        for char in self.args:
            if char == '"':
                quoted = not quoted
            elif char == "," and not quoted:
                out.append("".join(current).strip())
                current = []
            else:
                current.append(char)
        out.append("".join(current).strip())
        return out

    def first(self, default: str = "") -> str:
        """The first argument, or `default`."""
        params = self.params()
        return params[0] if params else default


SMS_PROMPT = "> "  # Reply.final of AT+CMGS: the prompt for the PDU, not a result code


@dataclass
class Reply:
    """What a command produces. `final` is a result code string or an int CME error code.

    Order on the wire: `lines`, `urcs_before`, final result, `urcs_after` (URC-framed lines
    such as SIM7600's `VOICE CALL: BEGIN` before OK, Huawei's `^CONN:1,0` after it).
    """

    lines: list[str] = field(default_factory=list)
    final: str | int = "OK"
    urcs_before: list[str] = field(default_factory=list)
    urcs_after: list[str] = field(default_factory=list)

    def extend(self, other: Reply) -> None:
        """Append another command's output (for concatenated commands)."""
        self.lines += other.lines
        self.urcs_before += other.urcs_before
        self.urcs_after += other.urcs_after
        self.final = other.final


def format_error(code: int, cmee: int) -> str:
    """A +CME ERROR in the style AT+CMEE selected: 0 plain, 1 numeric, 2 verbose."""
    if cmee == 0:
        return "ERROR"
    if cmee == 1:
        return f"+CME ERROR: {code}"
    return f"+CME ERROR: {CME_TEXT.get(code, 'unknown')}"


def split_commands(body: str) -> list[Command]:
    """Split what follows "AT" into commands. Raises CommandSyntaxError."""
    commands: list[Command] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char in " ;":
            i += 1
        elif char in "+^$":
            end = _extended_end(body, i)
            commands.append(_parse_extended(body[i:end]))
            i = end
        elif char == "&" and i + 1 < len(body):
            end = _digits_end(body, i + 2)
            commands.append(Command("&" + body[i + 1].upper(), "", body[i + 2 : end]))
            i = end
        elif char.isalpha():
            command, i = _parse_basic(body, i)
            commands.append(command)
        else:
            raise CommandSyntaxError(body)
    return commands


def _parse_basic(body: str, i: int) -> tuple[Command, int]:
    letter = body[i].upper()
    if letter == "D":  # dial string runs to the end of the line
        return Command("D", "", body[i + 1 :]), len(body)
    if letter == "S":  # S-register: S0=1 / S0?
        end = _digits_end(body, i + 1)
        name = "S" + body[i + 1 : end]
        if body[end : end + 1] == "?":
            return Command(name, "?"), end + 1
        if body[end : end + 1] == "=":
            value_end = _digits_end(body, end + 1)
            return Command(name, "=", body[end + 1 : value_end]), value_end
        return Command(name), end
    end = _digits_end(body, i + 1)
    return Command(letter, "", body[i + 1 : end]), end


def _digits_end(body: str, i: int) -> int:
    while i < len(body) and body[i].isdigit():
        i += 1
    return i


def _extended_end(body: str, i: int) -> int:
    """Index of the `;` that ends an extended command (outside quotes), or the end."""
    quoted = False
    for j in range(i, len(body)):
        if body[j] == '"':
            quoted = not quoted
        elif body[j] == ";" and not quoted:
            return j
    return len(body)


def _parse_extended(text: str) -> Command:
    j = 1
    while j < len(text) and (text[j].isalnum() or text[j] == "_"):
        j += 1
    name, rest = text[:j].upper(), text[j:].strip()
    if len(name) < 2:
        raise CommandSyntaxError(text)
    if rest == "":
        return Command(name)
    if rest == "?":
        return Command(name, "?")
    if rest == "=?":
        return Command(name, "=?")
    if rest.startswith("="):
        return Command(name, "=", rest[1:])
    raise CommandSyntaxError(text)
