"""The AT channel: one serial port to one modem, driven by the running asyncio loop.

Bytes in → lines → each line is either part of the pending command's reply or a URC event
handed to `on_urc` at once. Commands are serialised; a timeout is an asyncio timer. No
threads, no `time.sleep`, no wall clock: a virtual-time loop (`appliance.clock`) can drive
the very same code against pseudo-terminals.

Why not python-gsmmodem-new's reader (GsmModem/SerialComms): as released (0.13.0) it
- groups lines into notifications whenever the input buffer momentarily empties, so RING
  and +CLIP in separate reads lose the number (docs/modems.md §d pitfall 1);
- appends URCs that arrive while a command is pending to that command's reply: a RING
  during a signal poll is swallowed (pitfall 2);
- handles only the first recognised line of a burst, and assumes the line before +CLIP is
  RING, which SIM7600's `\\r\\r\\n` framing breaks (pitfalls 3, 4);
- adds a '+' to national numbers and cannot parse withheld/alphanumeric caller IDs
  (pitfall 5);
- has no end-of-call for incoming calls on SIMCom/Quectel and treats NO CARRIER for ATA
  as a 10 s timeout (pitfalls 7, 8);
- hard-wires `rtscts=True`, which a 3-wire Raspberry Pi UART cannot honour (pitfall 14);
- dies silently on a single non-UTF-8 byte of line noise (pitfall 15);
- runs a thread per notification (pitfall 9).
This module fixes each of those; the tests in tests/firmware/test_channel.py prove it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Callable, Mapping
from typing import Any

import serial

from firmware.at.parser import (
    FinalResult,
    is_dial_command,
    is_final_result,
    parse_line,
    response_prefix,
)
from firmware.at.urc import CallEnded, OtherUrc, Urc

logger = logging.getLogger(__name__)
# Every byte both ways, at DEBUG: switch this one logger on in the field to see the wire.
raw_logger = logging.getLogger("firmware.at.raw")

_READ_CHUNK_BYTES = 4096
# A modem line is < 600 bytes (a long +CLCC/+CMGL); more without a terminator is noise.
_MAX_LINE_BYTES = 2048
_LINE_BREAK = re.compile(rb"[\r\n]")
# Control characters (C0 except tab, DEL) and U+FFFD from undecodable bytes mark noise.
_NOISE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ufffd]")
# The same characters plus space, for stripping noise off the ends of a line.
_NOISE_CHARS = "".join(map(chr, [*range(0x09), *range(0x0B, 0x20), 0x7F, 0xFFFD])) + " "
# A wrong baud rate or a floating RX pin yields endless garbage: warn about the first
# lines, then only every Nth, so the Pi's SD card is not worn out by the log.
_GARBAGE_WARN_FIRST = 10
_GARBAGE_WARN_EVERY = 100


def worth_a_warning(count: int) -> bool:
    """Whether the `count`-th repeat of a fault is logged as a WARNING (with its count):
    the first _GARBAGE_WARN_FIRST, then every _GARBAGE_WARN_EVERY-th; the rest at DEBUG."""
    return count <= _GARBAGE_WARN_FIRST or count % _GARBAGE_WARN_EVERY == 0


class ATError(Exception):
    """Base of every error the AT channel raises."""


class ChannelError(ATError, OSError):
    """The serial port cannot be opened or used."""


class ChannelClosedError(ChannelError):
    """The channel was closed, or the port vanished (USB unplug), before the reply came."""


# How a refused or unanswered command reads in a line's error (the web UI reads the
# figures back from these, so each is written once, here).
AT_ERRORS: Mapping[str, str] = {
    "at_refused": "'{command}' failed: {reply}",
    "at_timeout": "'{command}': no final result within {seconds} s",
}


class ATCommandError(ATError):
    """The modem answered a command with an error final result (ERROR, +CME ERROR, ...)."""

    def __init__(self, command: str, final_line: str, lines: list[str]) -> None:
        super().__init__(AT_ERRORS["at_refused"].format(command=command, reply=final_line))
        self.command = command
        self.final_line = final_line
        self.lines = lines


class ATTimeoutError(ATError, TimeoutError):
    """The modem gave no final result within the command's timeout."""

    def __init__(self, command: str, timeout_s: float) -> None:
        super().__init__(AT_ERRORS["at_timeout"].format(command=command, seconds=timeout_s))
        self.command = command
        self.timeout_s = timeout_s


class LineFramer:
    """Cuts a byte stream into lines on CR or LF, keeping a partial line until its end arrives.

    Splitting on either byte handles `\\r\\n`, SIM7600's `\\r\\r\\n` and a lone `\\r`; the
    empty pieces between consecutive terminators are dropped.
    """

    def __init__(self, max_line_bytes: int = _MAX_LINE_BYTES, name: str = "") -> None:
        self._partial = b""
        self._max_line_bytes = max_line_bytes
        self._name = name
        self.dropped = 0  # over-long unterminated runs dropped so far

    def feed(self, data: bytes) -> list[bytes]:
        """Add `data`; return the complete, non-empty lines it finished (without terminators)."""
        *complete, self._partial = _LINE_BREAK.split(self._partial + data)
        if len(self._partial) > self._max_line_bytes:
            self.dropped += 1
            level = logging.WARNING if worth_a_warning(self.dropped) else logging.DEBUG
            logger.log(level, "%s: dropping %d bytes without a line end (%d times so far)",
                       self._name, len(self._partial), self.dropped)  # fmt: skip
            self._partial = b""
        return [line for line in complete if line]

    @property
    def partial(self) -> bytes:
        """The bytes of the line not finished yet (a prompt such as "> " ends no line)."""
        return self._partial

    @partial.setter
    def partial(self, value: bytes) -> None:
        self._partial = value


_CTRL_Z = b"\x1a"  # ends an SMS data block
_ESC = b"\x1b"  # cancels it


class _Pending:
    """The command waiting for its final result, and the reply lines collected so far."""

    def __init__(self, command: str, future: asyncio.Future[list[str]]) -> None:
        self.command = command
        self.echo = command.upper()
        self.prefix = response_prefix(command)
        self.dial = is_dial_command(command)
        self.lines: list[str] = []
        self.future = future
        # Set for commands that take a data block after a "> " prompt (AT+CMGS).
        self.prompt: asyncio.Future[None] | None = None


class ATChannel:
    """An AT command channel on one serial port, with URCs delivered as events.

    `on_urc` is called synchronously from the reader for every URC, in arrival order;
    `on_lost` is called once if the port disappears (not on `close()`); `on_echo`, if
    given, for every command echoed back. Reconnecting is the owner's job: build a new
    channel.

    Public counters: `bytes_sent`/`bytes_received` count raw bytes written to and read from
    the port (the simulator compares them with the virtual modem's to know when bytes are
    still in flight); `garbage_lines` counts lines skipped as noise.
    """

    def __init__(
        self,
        port: str,
        *,
        name: str,
        baudrate: int = 115200,
        rtscts: bool = False,
        on_urc: Callable[[Urc], None],
        on_lost: Callable[[BaseException], None],
        on_echo: Callable[[], None] | None = None,
    ) -> None:
        self.port = port
        self.name = name
        self.baudrate = baudrate
        self.rtscts = rtscts
        self.bytes_received = 0
        self.bytes_sent = 0
        self._on_urc = on_urc
        self._on_lost = on_lost
        self._on_echo = on_echo
        self._serial: Any = None
        self._fd = -1
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = asyncio.Lock()
        self._framer = LineFramer(name=name)
        self._pending: _Pending | None = None
        self._out = bytearray()
        self._writer_registered = False
        self.garbage_lines = 0
        self.recovered_lines = 0  # known lines kept out of noisy ones

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"<ATChannel {self.name} {self.port} {state}>"

    @property
    def is_open(self) -> bool:
        """True between a successful `open()` and `close()` or loss of the port."""
        return self._serial is not None

    @property
    def serial_settings(self) -> dict[str, Any]:
        """The port settings pyserial applied (baudrate, rtscts, dsrdtr, ...); {} when closed."""
        if self._serial is None:
            return {}
        settings: dict[str, Any] = self._serial.get_settings()
        return settings

    # -- lifecycle ----------------------------------------------------------------------

    async def open(self) -> None:
        """Open the port and start reading; raises ChannelError at once if it is absent."""
        if self.is_open:
            return
        loop = asyncio.get_running_loop()
        try:
            # python-gsmmodem hard-wires rtscts=True (and dsrdtr=True); a 3-wire Pi UART has
            # no RTS/CTS, so flow control is the caller's choice here. timeout=0 and
            # write_timeout=0 make every call non-blocking; `exclusive` stops a second
            # process (another Siaga, a stray minicom) from sharing the modem.
            port = serial.Serial(
                self.port,
                self.baudrate,
                rtscts=self.rtscts,
                dsrdtr=False,
                timeout=0,
                write_timeout=0,
                exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise ChannelError(f"{self.name}: cannot open {self.port}: {exc}") from exc
        self._serial = port
        self._fd = port.fileno()
        self._loop = loop
        self._framer = LineFramer(name=self.name)
        loop.add_reader(self._fd, self._on_readable)
        logger.info(
            "%s: opened %s at %d baud, rtscts=%s", self.name, self.port, self.baudrate, self.rtscts
        )

    def close(self) -> None:
        """Stop reading and close the port; a pending command fails with ChannelClosedError."""
        if self.is_open:
            self._teardown(ChannelClosedError(f"{self.name}: channel closed"))
            logger.info("%s: closed %s", self.name, self.port)

    def _teardown(self, reason: ChannelClosedError) -> None:
        """Unregister the fd, close the port, fail the pending command with `reason`."""
        port, self._serial = self._serial, None
        if self._loop is not None:
            self._loop.remove_reader(self._fd)
            if self._writer_registered:
                self._loop.remove_writer(self._fd)
        self._writer_registered = False
        self._out.clear()
        try:
            port.close()
        except (OSError, serial.SerialException):
            logger.debug("%s: error closing %s", self.name, self.port, exc_info=True)
        self._fd = -1
        pending, self._pending = self._pending, None
        if pending is not None and not pending.future.done():
            pending.future.set_exception(reason)

    def _lose(self, exc: BaseException) -> None:
        """The port vanished (unplug, pty master closed): tear down and tell `on_lost` once."""
        if not self.is_open:
            return
        logger.error("%s: lost %s: %s", self.name, self.port, exc)
        self._teardown(ChannelClosedError(f"{self.name}: port lost: {exc}"))
        try:
            self._on_lost(exc)
        except Exception:
            logger.exception("%s: on_lost handler failed", self.name)

    # -- commands -----------------------------------------------------------------------

    async def command(self, cmd: str, *, timeout_s: float = 5.0) -> list[str]:
        """Send `cmd` and return its information lines (no echo, no final result).

        Raises ATCommandError on an error result (and on NO CARRIER/BUSY/... for ATA/ATD),
        ATTimeoutError when no final result arrives in `timeout_s`, ChannelClosedError when
        the port is closed or lost. Commands queue behind each other in call order.
        """
        text = cmd.strip()
        if not text or "\r" in text or "\n" in text or not text.isascii():
            raise ValueError(f"not a single ASCII AT command: {cmd!r}")
        async with self._lock:
            if self._loop is None or not self.is_open:
                raise ChannelClosedError(f"{self.name}: channel is not open")
            pending = _Pending(text, self._loop.create_future())
            self._pending = pending
            try:
                self._write(text.encode("ascii") + b"\r")
                return await asyncio.wait_for(pending.future, timeout_s)
            except TimeoutError:
                self._drop_unsent(text)
                raise ATTimeoutError(text, timeout_s) from None
            finally:
                if self._pending is pending:
                    self._pending = None

    async def command_with_data(
        self, cmd: str, data: bytes, *, prompt_timeout_s: float = 5.0, timeout_s: float = 60.0
    ) -> list[str]:
        """A command that answers "> " and then takes a data block (AT+CMGS in PDU mode):
        send `cmd`, wait for the prompt, send `data` and Ctrl-Z, return the reply lines.

        If the prompt does not come, ESC cancels the data entry so the modem is not left
        waiting for it, and ATTimeoutError is raised; an error result instead of the prompt
        raises ATCommandError. `data` must not contain Ctrl-Z or ESC.
        """
        text = cmd.strip()
        if not text or "\r" in text or "\n" in text or not text.isascii():
            raise ValueError(f"not a single ASCII AT command: {cmd!r}")
        if _CTRL_Z in data or _ESC in data:
            raise ValueError("the data block must not contain Ctrl-Z or ESC")
        async with self._lock:
            if self._loop is None or not self.is_open:
                raise ChannelClosedError(f"{self.name}: channel is not open")
            pending = _Pending(text, self._loop.create_future())
            pending.prompt = self._loop.create_future()
            self._pending = pending
            try:
                self._write(text.encode("ascii") + b"\r")
                await self._await_prompt(pending, prompt_timeout_s)
                self._write(data + _CTRL_Z)
                return await asyncio.wait_for(pending.future, timeout_s)
            except TimeoutError:
                self._write(_ESC)
                self._drop_unsent(text)
                raise ATTimeoutError(text, timeout_s) from None
            finally:
                if self._pending is pending:
                    self._pending = None

    async def _await_prompt(self, pending: _Pending, timeout_s: float) -> None:
        """Wait for the "> " prompt, or for the command to end first (an error result)."""
        assert pending.prompt is not None
        waiting: set[asyncio.Future[Any]] = {pending.prompt, pending.future}
        done, _ = await asyncio.wait(
            waiting, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
        if pending.future in done:
            await pending.future  # raises ATCommandError; an OK here would be a modem bug
            raise ATCommandError(pending.command, "OK before the data prompt", pending.lines)
        if not done:
            raise TimeoutError

    def _drop_unsent(self, command: str) -> None:
        """After a timeout, forget bytes the port never took (CTS held low), so a stale
        command is not executed later out of turn."""
        if self._out:
            logger.warning(
                "%s: %r timed out with %d bytes unsent (flow control?)",
                self.name,
                command,
                len(self._out),
            )
            self._out.clear()
        else:
            # A late final result may still arrive and would then be taken as unsolicited.
            logger.warning("%s: %r timed out", self.name, command)

    def _write(self, data: bytes) -> None:
        raw_logger.debug("%s -> %r", self.name, data)
        self._out += data
        if not self._writer_registered:
            self._flush()

    def _flush(self) -> None:
        """Write what the port takes now; wait for writability (loop writer) for the rest."""
        try:
            written = os.write(self._fd, self._out)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            self._lose(exc)
            return
        self.bytes_sent += written
        del self._out[:written]
        if self._loop is None:
            return
        if self._out and not self._writer_registered:
            self._loop.add_writer(self._fd, self._flush)
            self._writer_registered = True
        elif not self._out and self._writer_registered:
            self._loop.remove_writer(self._fd)
            self._writer_registered = False

    # -- reader -------------------------------------------------------------------------

    def _on_readable(self) -> None:
        """Loop callback: read what is there, dispatch each complete line."""
        # pyserial opened the fd O_NONBLOCK; reading it directly skips pyserial's select()
        # per call and keeps the real errno (EIO on unplug) for `_lose`.
        try:
            data = os.read(self._fd, _READ_CHUNK_BYTES)
        except BlockingIOError:
            return
        except OSError as exc:  # EIO: USB unplugged or pty master closed
            self._lose(exc)
            return
        if not data:  # EOF: the other end hung up
            self._lose(ChannelClosedError(f"{self.name}: end of file on {self.port}"))
            return
        self.bytes_received += len(data)
        raw_logger.debug("%s <- %r", self.name, data)
        for raw_line in self._framer.feed(data):
            if not self.is_open:  # an on_urc handler closed us mid-burst
                return
            try:
                self._handle_raw_line(raw_line)
            except Exception:
                # A parser bug must cost one line, never the rest of the burst.
                logger.exception("%s: failed to handle line %r", self.name, raw_line)
        self._check_data_prompt()

    def _check_data_prompt(self) -> None:
        """The "> " prompt of AT+CMGS ends no line: look for it in the unfinished one."""
        pending = self._pending
        if pending is None or pending.prompt is None or pending.prompt.done():
            return
        if self._framer.partial.strip() == b">":
            self._framer.partial = b""
            pending.prompt.set_result(None)

    def _handle_raw_line(self, raw_line: bytes) -> None:
        """Decode one line without ever raising; skip noise unless a known line survives it."""
        text = raw_line.decode("utf-8", errors="replace").strip()
        if not _NOISE.search(text):
            if text:
                self._dispatch(text)
            return
        # Line noise (a 0xFF at power-up, a glitch on a long UART lead) usually sits at the
        # ends of a line; keep the line only if what lies between is something we know.
        core = text.strip(_NOISE_CHARS)
        if core and not _NOISE.search(core) and self._is_recognisable(core):
            self.recovered_lines += 1
            level = logging.WARNING if worth_a_warning(self.recovered_lines) else logging.DEBUG
            logger.log(level, "%s: recovered %r from noisy line %r (%d so far)", self.name,
                       core, raw_line, self.recovered_lines)  # fmt: skip
            self._dispatch(core)
        else:
            self._log_garbage(raw_line)

    def _log_garbage(self, raw_line: bytes) -> None:
        self.garbage_lines += 1
        count = self.garbage_lines
        level = logging.WARNING if worth_a_warning(count) else logging.DEBUG
        logger.log(level, "%s: skipped garbage line %r (%d so far)", self.name, raw_line, count)

    def _is_recognisable(self, line: str) -> bool:
        """True for a final result of the pending command or a call-relevant URC."""
        pending = self._pending
        if pending is not None and is_final_result(line, dial=pending.dial) is not None:
            return True
        urc = parse_line(line)
        return urc is not None and not isinstance(urc, OtherUrc)

    def _dispatch(self, line: str) -> None:
        """Route one clean line: echo, final result, reply line, URC, or unknown."""
        pending = self._pending
        if pending is not None and not pending.future.done():
            if line.upper() == pending.echo:
                if self._on_echo is not None:
                    self._on_echo()  # echo is back: a modem that was told ATE0 reset
                return
            final = is_final_result(line, dial=pending.dial)
            if final is not None:
                self._complete(pending, final, line)
                return
            if pending.prefix is not None and line.startswith(pending.prefix):
                pending.lines.append(line)
                return
        urc = parse_line(line)
        if urc is not None:
            self._deliver(urc)
        elif pending is not None and not pending.future.done():
            pending.lines.append(line)
        else:
            logger.debug("%s: unsolicited unknown line %r", self.name, line)

    def _complete(self, pending: _Pending, final: FinalResult, line: str) -> None:
        """End the pending command; a call-progress final of ATA also ends the call."""
        self._pending = None
        if final.ok:
            pending.future.set_result(pending.lines)
            return
        pending.future.set_exception(ATCommandError(pending.command, line, pending.lines))
        # NO CARRIER for ATA means the caller already hung up: the line must hear it too.
        urc = parse_line(line)
        if isinstance(urc, CallEnded):
            self._deliver(urc)

    def _deliver(self, urc: Urc) -> None:
        """Hand one URC to the owner; a failing handler must not kill the reader."""
        try:
            self._on_urc(urc)
        except Exception:
            logger.exception("%s: on_urc handler failed for %r", self.name, urc.text)
