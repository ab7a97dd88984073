"""A restore upload read straight from the request, after the login check, into its file.

`POST /system/restore` declares no form parameters: FastAPI parses form parameters before
it runs any dependency, so a declared `UploadFile` would be read (and spooled to the
system's temporary folder) before anyone had checked who sent it. Here the technician's
session and role are checked first; then `receive_restore_upload` parses the multipart
body as it arrives (python-multipart's streaming parser):

- plain fields (the form's `csrf_token`) are kept in memory, at most `FIELD_BYTES` each
  and `MAX_FIELDS` of them, and must come before the file (browsers send fields in the
  form's order, and the form puts the token first); the token is checked when the file
  part begins, before a byte of it is stored (or taken from the `X-CSRF-Token` header);
- the one file part goes straight to its own owner-only file next to the database
  (`appliance.store.restore.start_upload`), `WRITE_BYTES` at a time from a worker thread, and is
  refused with 413 the moment it passes `appliance.store.restore.MAX_RESTORE_BYTES`.

`web_ui.core.request_limits` bounds the whole body too, before routing. Whatever goes wrong,
the partial file is removed.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import anyio
from fastapi import Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

from appliance.store import restore
from appliance.store.restore import RestoreRefused
from web_ui.core.deps import CSRF_FIELD, CSRF_HEADER, ForbiddenError
from web_ui.core.web_settings import WebSettings

logger = logging.getLogger(__name__)

FIELD_BYTES = 4096
MAX_FIELDS = 8
WRITE_BYTES = 1024 * 1024


class _Parts:
    """The parser's callbacks: fields into memory, the file's bytes into `pending`."""

    def __init__(self, csrf_ok: Callable[[str | None], bool], header_token: str | None) -> None:
        self._csrf_ok = csrf_ok
        self._header_token = header_token
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""
        self._field: str | None = None  # the plain field being read, if not the file
        self._value = bytearray()
        self.fields: dict[str, str] = {}
        self.in_file = False
        self.files = 0
        self.file_bytes = 0
        self.pending: list[bytes] = []
        self.pending_bytes = 0

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._field = None
        self._value = bytearray()
        self.in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = b""
        self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"filename" in options:
            self._begin_file()
            return
        if len(self.fields) >= MAX_FIELDS or b"name" not in options:
            raise RestoreRefused("error.invalid_input", 400)
        self._field = options[b"name"].decode("utf-8", "replace")

    def _begin_file(self) -> None:
        self.files += 1
        if self.files > 1:
            raise RestoreRefused("error.invalid_input", 400)
        token = self._header_token or self.fields.get(CSRF_FIELD)
        if not self._csrf_ok(token):
            raise ForbiddenError("error.csrf")
        self.in_file = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        piece = data[start:end]
        if self.in_file:
            self.file_bytes += len(piece)
            if self.file_bytes > restore.MAX_RESTORE_BYTES:
                raise RestoreRefused("system.restore.too_large", 413)
            self.pending.append(piece)
            self.pending_bytes += len(piece)
            return
        self._value += piece
        if len(self._value) > FIELD_BYTES:
            raise RestoreRefused("error.invalid_input", 400)

    def on_part_end(self) -> None:
        if self._field is not None:
            self.fields[self._field] = self._value.decode("utf-8", "replace")
        self._field = None
        self.in_file = False

    def take_pending(self) -> bytes:
        """The file's bytes received since the last call."""
        data = b"".join(self.pending)
        self.pending.clear()
        self.pending_bytes = 0
        return data


def _boundary(request: Request) -> bytes:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not options.get(b"boundary"):
        raise RestoreRefused("system.restore.no_file", 400)
    return options[b"boundary"]


def _declared_bytes(request: Request) -> int:
    length = request.headers.get("content-length", "")
    return int(length) if length.isdigit() else 0


async def _write(handle: BinaryIO, data: bytes) -> None:
    if data:
        await anyio.to_thread.run_sync(handle.write, data)


def _csrf_checker(expected: str) -> Callable[[str | None], bool]:
    def check(sent: str | None) -> bool:
        return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())

    return check


async def receive_restore_upload(request: Request, settings: WebSettings, csrf_token: str) -> str:
    """Stream the request's file part next to the database; the upload's token.

    Raises `ForbiddenError` for a missing or wrong CSRF token (before the file is stored)
    and `RestoreRefused` for a body that is not a form with one file, or a file too large.
    """
    header_token = request.headers.get(CSRF_HEADER)
    if header_token is None and not request.headers.get("content-type", "").startswith(
        "multipart/form-data"
    ):
        raise ForbiddenError("error.csrf")  # no token anywhere a browser could have sent one
    boundary = _boundary(request)
    parts = _Parts(_csrf_checker(csrf_token), header_token)
    token, path = restore.start_upload(settings, expected_bytes=_declared_bytes(request))
    try:
        await _stream_into(request, boundary, parts, path)
    except BaseException:
        restore.remove_with_siblings(path)
        raise
    logger.info("restore upload %s received: %d bytes", token[:6], parts.file_bytes)
    return token


async def _stream_into(request: Request, boundary: bytes, parts: _Parts, path: Path) -> None:
    callbacks = {
        "on_part_begin": parts.on_part_begin,
        "on_part_data": parts.on_part_data,
        "on_part_end": parts.on_part_end,
        "on_header_field": parts.on_header_field,
        "on_header_value": parts.on_header_value,
        "on_header_end": parts.on_header_end,
        "on_headers_finished": parts.on_headers_finished,
    }
    parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
    with path.open("wb") as handle:
        try:
            async for chunk in request.stream():
                parser.write(chunk)
                if parts.pending_bytes >= WRITE_BYTES:
                    await _write(handle, parts.take_pending())
            parser.finalize()
        except FormParserError:
            raise RestoreRefused("error.invalid_input", 400) from None
        await _write(handle, parts.take_pending())
    if parts.files != 1:
        raise RestoreRefused("system.restore.no_file", 400)
