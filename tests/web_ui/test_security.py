"""What an attacker on the centre's network tries, over real sockets: oversized and stalled
requests, floods of logins, lockouts aimed at a name, and the smaller holes.

Bodies are streamed in chunks over a raw socket, so a test sees how much the server took
before it answered: a limit that is only checked after the whole body was read fails.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest

from appliance.store import restore
from tests.web_ui.conftest import LiveServer, api_login, serve
from tests.web_ui.own_server import add_account, logged_in
from web_ui.auth import passwords, sessions
from web_ui.calls import service as calllog
from web_ui.core import db as web_db
from web_ui.core import request_limits
from web_ui.core.deps import SESSION_COOKIE
from web_ui.core.streams import STREAMS_PER_SESSION
from web_ui.users.service import Role

CHUNK_BYTES = 16 * 1024
SOCKET_TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A web UI of this module's own (its tests change limits and stall connections)."""
    with serve(tmp_path_factory.mktemp("security") / "siaga.db") as server:
        yield server


@dataclass(frozen=True)
class Streamed:
    """How a chunked upload over a raw socket ended."""

    sent: int  # body bytes the server took before it answered or closed
    answer: bytes  # what it answered ("" when it only closed)

    @property
    def status(self) -> int | None:
        """The answer's status code, if there was one."""
        parts = self.answer.split(b" ", 2)
        return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def connect(server: LiveServer) -> socket.socket:
    """A raw TCP connection to the server."""
    address = urlsplit(server.url)
    sock = socket.create_connection((address.hostname, address.port), timeout=SOCKET_TIMEOUT_S)
    sock.settimeout(SOCKET_TIMEOUT_S)
    return sock


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or resets it)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return received


def stream_chunked(
    server: LiveServer,
    path: str,
    total: int,
    *,
    cookie: str = "",
    content_type: str = "application/x-www-form-urlencoded",
    preamble: bytes = b"",
) -> Streamed:
    """POST a chunked body of `total` bytes, a chunk at a time, until the server answers."""
    head = (
        f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: {content_type}\r\n"
        f"Transfer-Encoding: chunked\r\n{cookie}\r\n"
    ).encode()
    with connect(server) as sock:
        sock.sendall(head)
        sent = 0
        body = preamble + b"x" * (total - len(preamble))
        while sent < total:
            if select.select([sock], [], [], 0.05)[0]:
                break  # the server answered (or closed) before the body was done
            piece = body[sent : sent + CHUNK_BYTES]
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(piece)
        return Streamed(sent=sent, answer=read_answer(sock))


def session_cookie(server: LiveServer, role: Role) -> tuple[str, str]:
    """(a `Cookie:` header line, the CSRF token) of a fresh logged-in account."""
    session = logged_in(server, role)
    token = session.client.cookies[SESSION_COOKIE]
    return f"Cookie: {SESSION_COOKIE}={token}\r\n", session.csrf


# ------------------------------------------------------------------ body limits


@pytest.mark.parametrize("path", ["/login", "/setup", "/api/login", "/rules/import"])
def test_an_anonymous_chunked_body_is_cut_off_at_the_route_limit(
    own: LiveServer, path: str
) -> None:
    limit = request_limits.body_limit("POST", path)
    streamed = stream_chunked(own, path, 20 * 1024 * 1024)
    assert streamed.sent <= limit + 4 * CHUNK_BYTES, streamed
    assert streamed.status in (413, None), streamed.answer[:200]


def test_an_anonymous_restore_upload_is_refused_before_its_body_is_read(
    own: LiveServer,
) -> None:
    streamed = stream_chunked(
        own, "/system/restore", 20 * 1024 * 1024, content_type="multipart/form-data; boundary=b"
    )
    assert streamed.status == 303, streamed.answer[:200]  # to the login page
    assert streamed.sent <= 8 * CHUNK_BYTES
    assert list(own.db_path.parent.glob(restore.UPLOAD_PREFIX + "*")) == []


def test_a_declared_size_over_the_limit_is_refused_before_a_byte_is_sent(
    own: LiveServer,
) -> None:
    cookie, _ = session_cookie(own, Role.TECHNICIAN)
    for path, size in (("/system/restore", 3 * 1024**3), ("/login", 10 * 1024**2)):
        head = (
            f"POST {path} HTTP/1.1\r\nHost: test\r\n{cookie}"
            f"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: {size}\r\n\r\n"
        )
        with connect(own) as sock:
            sock.sendall(head.encode())
            answer = read_answer(sock)
        assert answer.startswith(b"HTTP/1.1 413 "), (path, answer[:200])
        assert b"too large" in answer and b"terlalu besar" in answer


def test_a_restore_upload_over_the_limit_is_refused_while_it_streams(
    own: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    cookie, csrf = session_cookie(own, Role.TECHNICIAN)
    monkeypatch.setattr(restore, "MAX_RESTORE_BYTES", 256 * 1024)
    preamble = (
        f'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{csrf}\r\n'
        '--b\r\nContent-Disposition: form-data; name="file"; filename="big.db"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    streamed = stream_chunked(
        own,
        "/system/restore",
        20 * 1024 * 1024,
        cookie=cookie,
        content_type="multipart/form-data; boundary=b",
        preamble=preamble,
    )
    assert streamed.status == 413, streamed.answer[:300]
    assert streamed.sent <= 256 * 1024 + 8 * CHUNK_BYTES
    assert list(own.db_path.parent.glob(restore.UPLOAD_PREFIX + "*")) == []


def test_a_restore_upload_without_its_csrf_token_first_is_refused_unstored(
    own: LiveServer,
) -> None:
    cookie, _ = session_cookie(own, Role.TECHNICIAN)
    preamble = b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.db"\r\n\r\n'
    streamed = stream_chunked(
        own,
        "/system/restore",
        4 * 1024 * 1024,
        cookie=cookie,
        content_type="multipart/form-data; boundary=b",
        preamble=preamble,
    )
    assert streamed.status == 403, streamed.answer[:300]
    assert list(own.db_path.parent.glob(restore.UPLOAD_PREFIX + "*")) == []


def test_a_body_that_stops_arriving_is_answered_408(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with serve(tmp_path_factory.mktemp("idle") / "siaga.db", body_idle_s=0.5) as server:
        with connect(server) as sock:
            sock.sendall(
                b"POST /api/login HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"user'
            )
            started = time.monotonic()
            answer = read_answer(sock)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
        assert time.monotonic() - started < SOCKET_TIMEOUT_S


# ------------------------------------------------------------------ logins: pool, throttle, lockout


def from_address(server: LiveServer, address: str) -> httpx.Client:
    """An HTTP client whose connections come from `address` (any 127.x.y.z is loopback)."""
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(base_url=server.url, transport=transport, timeout=60.0)


def login_from(server: LiveServer, address: str, username: str, password: str) -> httpx.Response:
    with from_address(server, address) as client:
        return client.post("/api/login", json={"username": username, "password": password})


def test_a_login_flood_runs_two_password_checks_at_once_and_refuses_the_rest_cheaply(
    own: LiveServer,
) -> None:
    operator = logged_in(own, Role.OPERATOR)
    passwords.POOL.peak = 0
    addresses = [f"127.0.1.{n}" for n in range(1, 41)]  # one each: no address is throttled
    with ThreadPoolExecutor(max_workers=len(addresses)) as pool:
        floods = [
            pool.submit(login_from, own, address, "nobody", "wrong-password")
            for address in addresses
        ]
        console = operator.client.get("/api/console")
        answers = [flood.result() for flood in floods]
    assert console.status_code == 200
    assert passwords.POOL.peak <= passwords.HASHING_WORKERS
    busy = [answer for answer in answers if answer.status_code == 429]
    assert busy, [answer.status_code for answer in answers]
    for answer in busy:
        assert answer.json()["detail"] == "login.busy"
        assert answer.json()["message"].startswith("Server sedang sibuk memeriksa kata sandi")
        assert answer.headers["retry-after"] == "1"
    assert {answer.status_code for answer in answers} <= {401, 429}


def test_one_address_is_throttled_whatever_names_it_tries(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    db_path = tmp_path_factory.mktemp("throttle") / "siaga.db"
    with serve(db_path, login_throttle_failures=6) as server:
        account = add_account(server, Role.OPERATOR)
        codes = [
            login_from(server, "127.0.2.1", f"name{n}", "wrong-password").status_code
            for n in range(6)
        ]
        assert codes == [401] * 6
        refused = login_from(server, "127.0.2.1", account.username, account.password)
        assert refused.status_code == 429
        assert refused.json()["detail"] == "login.throttled"
        assert int(refused.headers["retry-after"]) > 0
        assert "dari alamat ini" in refused.json()["message"]
        elsewhere = login_from(server, "127.0.2.2", account.username, account.password)
        assert elsewhere.status_code == 200
        conn = web_db.connect(db_path, busy_timeout_s=5.0)
        try:  # the refusal cost no database write
            rows = conn.execute(
                "SELECT count(*) FROM login_failures WHERE remote = '127.0.2.1'"
            ).fetchone()[0]
        finally:
            conn.close()
        assert rows == 6


def test_a_lockout_holds_only_for_the_address_that_caused_it(own: LiveServer) -> None:
    account = add_account(own, Role.TECHNICIAN)
    attacker, desk = "127.0.3.1", "127.0.3.2"
    codes = [
        login_from(own, attacker, account.username, f"guess-{n}").status_code for n in range(5)
    ]
    assert codes == [401, 401, 401, 401, 429]
    assert login_from(own, attacker, account.username, account.password).status_code == 429
    assert login_from(own, desk, account.username, account.password).status_code == 200
    conn = web_db.connect(own.db_path, busy_timeout_s=5.0)
    try:
        [row] = conn.execute(
            "SELECT actor, remote FROM audit_log WHERE action = 'auth.locked' AND target = ?",
            [account.username],
        ).fetchall()
    finally:
        conn.close()
    assert (row["actor"], row["remote"]) == ("anonymous", attacker)


def test_a_technician_lifts_a_lock_from_the_users_page(own: LiveServer) -> None:
    locked = add_account(own, Role.OPERATOR)
    for n in range(5):
        login_from(own, "127.0.4.1", locked.username, f"guess-{n}")
    technician = logged_in(own, Role.TECHNICIAN, language="en")
    page = technician.client.get("/users").text
    assert f'data-locked="{locked.username}"' in page
    assert "locked out from 127.0.4.1" in page
    answer = technician.client.post(
        f"/users/{locked.id}/unlock", data={"csrf_token": technician.csrf}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/users?done=done.user_unlocked"
    assert f'data-locked="{locked.username}"' not in technician.client.get("/users").text
    assert login_from(own, "127.0.4.1", locked.username, locked.password).status_code == 200
    conn = web_db.connect(own.db_path, busy_timeout_s=5.0)
    try:
        [row] = conn.execute(
            "SELECT actor FROM audit_log WHERE action = 'user.unlock' AND target = ?",
            [locked.username],
        ).fetchall()
    finally:
        conn.close()
    assert row["actor"] == technician.user.username


def test_repeated_lockouts_of_one_account_raise_an_alarm(own: LiveServer) -> None:
    account = add_account(own, Role.SUPERVISOR)
    for address in ("127.0.5.1", "127.0.5.2", "127.0.5.3"):
        for n in range(5):
            login_from(own, address, account.username, f"guess-{n}")
    conn = web_db.connect(own.db_path, busy_timeout_s=5.0)
    try:
        details = [
            json.loads(row[0])
            for row in conn.execute("SELECT detail FROM events WHERE kind = 'alarm'")
        ]
    finally:
        conn.close()
    [alarm] = [d for d in details if d.get("user") == account.username]
    assert alarm["kind"] == "login_lockouts"
    assert alarm["lockouts"] == 3 and alarm["remote"] == "127.0.5.3"
    technician = logged_in(own, Role.TECHNICIAN, language="en")
    dashboard = technician.client.get("/").text
    assert "Account locked out repeatedly by wrong passwords" in dashboard


def add_old_failures(server: LiveServer, names: list[str], per_name: int, ts: float) -> None:
    """`per_name` failed logins of each of `names` at `ts`, from an address of their own."""
    rows = [(name, ts + n, "127.0.6.99") for name in names for n in range(per_name)]
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        with web_db.transaction(conn):
            conn.executemany(
                "INSERT INTO login_failures (username, ts, remote) VALUES (?, ?, ?)", rows
            )
    finally:
        conn.close()


def old_failures(server: LiveServer, names: list[str]) -> int:
    """How many failures of `names` are past their retention (older than a day)."""
    cutoff_ts = time.time() - sessions.FAILURE_RETENTION_S
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        marks = ", ".join("?" * len(names))
        return int(
            conn.execute(
                f"SELECT count(*) FROM login_failures WHERE ts < ? AND username IN ({marks})",
                [cutoff_ts, *names],
            ).fetchone()[0]
        )
    finally:
        conn.close()


def test_a_failed_login_deletes_its_own_names_old_failures_and_all_others_only_hourly(
    own: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flood of wrong passwords never runs a full-table delete per attempt: each failure
    drops its own name's day-old failures, every other name's wait for the hourly sweep."""
    account = add_account(own, Role.OPERATOR)
    address = "127.0.6.1"
    # A sweep due now runs at this failure; the next failure is within the hour.
    assert login_from(own, address, account.username, "guess-0").status_code == 401
    others = [f"stranger{n}" for n in range(200)]
    day_old_ts = time.time() - 2 * sessions.FAILURE_RETENTION_S
    add_old_failures(own, others, per_name=5, ts=day_old_ts)
    add_old_failures(own, [account.username], per_name=3, ts=day_old_ts)

    assert login_from(own, address, account.username, "guess-1").status_code == 401
    assert old_failures(own, [account.username]) == 0
    assert old_failures(own, others) == 1000

    # An hour after the last sweep, the next failure of any name runs the next one.
    monkeypatch.setattr(
        sessions, "_last_full_prune_ts", time.time() - sessions.FULL_PRUNE_EVERY_S - 1
    )
    assert login_from(own, address, account.username, "guess-2").status_code == 401
    assert old_failures(own, others) == 0


# ------------------------------------------------------------------ stalled connections

STALLED = 300  # a test process stays within its 1,024 descriptors


def closed_by_server(sockets: list[socket.socket], deadline_s: float) -> int:
    """How many of `sockets` the server closed (read EOF or reset) before the deadline."""
    open_ones = {sock.fileno(): sock for sock in sockets}
    closed = 0
    end = time.monotonic() + deadline_s
    while open_ones and time.monotonic() < end:
        readable, _, _ = select.select(list(open_ones.values()), [], [], 0.5)
        for sock in readable:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:  # closed (anything else is the answer to a whole request)
                del open_ones[sock.fileno()]
                closed += 1
    return closed


def test_stalled_connections_are_dropped_and_never_stop_a_logged_in_operator(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    db_path = tmp_path_factory.mktemp("stalled") / "siaga.db"
    with serve(db_path, header_timeout_s=1.0) as server:
        operator = logged_in(server, Role.OPERATOR)
        stalled: list[socket.socket] = []
        try:
            for n in range(STALLED):
                sock = connect(server)
                if n % 3 == 1:  # headers dribbled, never finished
                    sock.sendall(b"GET /login HTTP/1.1\r\nHost: test\r\n")
                elif n % 3 == 2:  # one whole request, then a second one that stalls
                    sock.sendall(b"GET /login HTTP/1.1\r\nHost: test\r\n\r\nGET /log")
                stalled.append(sock)
            assert operator.client.get("/api/console").status_code == 200
            assert closed_by_server(stalled, deadline_s=SOCKET_TIMEOUT_S) == STALLED
            # The operator's own keep-alive connection, idle meanwhile, may have been
            # closed too (as every idle one is after 5 s): a browser opens a new one.
            cookies = operator.client.cookies
            with httpx.Client(base_url=server.url, cookies=cookies, timeout=10.0) as again:
                assert again.get("/api/console").status_code == 200
        finally:
            for sock in stalled:
                sock.close()


# ------------------------------------------------------------------ the console


def test_one_session_holds_a_few_event_streams_and_no_more(own: LiveServer) -> None:
    operator = logged_in(own, Role.OPERATOR)
    readers = []  # held: a reader dropped closes its connection
    with contextlib.ExitStack() as streams:
        for _ in range(STREAMS_PER_SESSION):
            stream = streams.enter_context(
                operator.client.stream("GET", "/api/console/events", timeout=10.0)
            )
            assert stream.status_code == 200
            readers.append(stream.iter_lines())
            assert next(readers[-1]) == "retry: 1000"
        refused = operator.client.get("/api/console/events")
        assert refused.status_code == 429
        assert refused.json()["detail"] == "error.too_many_streams"
        other = logged_in(own, Role.OPERATOR)  # another session is not affected
        with other.client.stream("GET", "/api/console/events", timeout=10.0) as stream:
            assert stream.status_code == 200


@pytest.mark.parametrize("ending", ["disabled", "logged out"])
def test_an_event_stream_ends_within_seconds_of_its_session(own: LiveServer, ending: str) -> None:
    operator = logged_in(own, Role.OPERATOR)
    technician = logged_in(own, Role.TECHNICIAN)
    with operator.client.stream("GET", "/api/console/events", timeout=10.0) as stream:
        lines = stream.iter_lines()
        assert next(lines) == "retry: 1000"
        assert next(line for line in lines if line.startswith("event: ")) == "event: snapshot"
        if ending == "disabled":
            answer = technician.client.patch(
                f"/api/users/{operator.user.id}",
                json={"disabled": True},
                headers=technician.headers(),
            )
            assert answer.status_code == 200
        else:
            assert (
                operator.client.post("/api/logout", headers=operator.headers()).status_code == 204
            )
        # It ends by itself, long before the 15 s heartbeat (a read waits 10 s at most).
        events = [line for line in lines if line.startswith("event: ")]
    assert events[-1] == "event: logout"


def test_a_desk_request_is_read_only_by_its_operator_and_supervisors(own: LiveServer) -> None:
    owner, other = logged_in(own, Role.OPERATOR), logged_in(own, Role.OPERATOR)
    supervisor = logged_in(own, Role.SUPERVISOR)
    conn = web_db.connect(own.db_path, busy_timeout_s=5.0)
    try:
        with web_db.transaction(conn):
            request_id = conn.execute(
                "INSERT INTO desk_requests (kind, line, call_id, operator, requested_ts)"
                " VALUES ('answer', 'l1', 1, ?, ?)",
                [owner.user.username, time.time()],
            ).lastrowid
    finally:
        conn.close()
    path = f"/api/console/requests/{request_id}"
    assert owner.client.get(path).status_code == 200
    assert supervisor.client.get(path).status_code == 200
    assert other.client.get(path).status_code == 404


# ------------------------------------------------------------------ smaller holes


def audit_of(server: LiveServer, action: str, actor: str) -> list[sqlite3.Row]:
    conn = web_db.connect(server.db_path, busy_timeout_s=5.0)
    try:
        return conn.execute(
            "SELECT * FROM audit_log WHERE action = ? AND actor = ? ORDER BY id", [action, actor]
        ).fetchall()
    finally:
        conn.close()


def test_a_forwarded_for_header_does_not_change_the_audited_address(own: LiveServer) -> None:
    account = add_account(own, Role.OPERATOR)
    with httpx.Client(base_url=own.url) as client:
        answer = client.post(
            "/api/login",
            json={"username": account.username, "password": account.password},
            headers={"X-Forwarded-For": "10.99.99.99"},
        )
    assert answer.status_code == 200
    [row] = audit_of(own, "auth.login", account.username)
    assert row["remote"] == "127.0.0.1"


@pytest.mark.parametrize(
    "path",
    [
        "/calls?until=9999-12-31",
        "/calls?since=0001-01-01",
        "/api/calls?until=9999-12-31",
        "/calls.csv?until=9999-12-31",
        "/reports?month=9999-12",
        "/reports?until=9999-12-31",
        "/api/reports?month=9999-12",
        "/reports.csv?month=9999-12",
    ],
)
def test_far_dates_are_refused_with_a_reason_not_a_server_error(own: LiveServer, path: str) -> None:
    technician = logged_in(own, Role.TECHNICIAN, language="en")
    answer = technician.client.get(path)
    page = not path.startswith("/api/") and ".csv" not in path
    # A page shows the reason beside its filters; the API and the exports answer 422.
    assert answer.status_code in ((200, 422) if page else (422,)), answer.text[:300]
    assert "outside the range that can be searched" in answer.text


def test_a_line_state_this_version_does_not_know_is_shown_as_it_is(own: LiveServer) -> None:
    conn = web_db.connect(own.db_path, busy_timeout_s=5.0)
    try:
        with web_db.transaction(conn):
            conn.execute(
                "INSERT OR REPLACE INTO line_status (line, state, since_ts, updated_ts)"
                " VALUES ('sec-line', 'quantum_flux', ?, ?)",
                [time.time(), time.time()],
            )
    finally:
        conn.close()
    technician = logged_in(own, Role.TECHNICIAN)
    for path in ("/lines", "/"):
        answer = technician.client.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert "quantum_flux" in answer.text


def test_the_api_docs_are_for_technicians_only(own: LiveServer) -> None:
    for role, expected in ((Role.SUPERVISOR, 403), (Role.TECHNICIAN, 200)):
        session = logged_in(own, role)
        assert session.client.get("/docs").status_code == expected
        assert session.client.get("/openapi.json").status_code == expected


def test_logging_in_again_ends_the_session_the_browser_had(own: LiveServer) -> None:
    account = add_account(own, Role.OPERATOR)
    first = api_login(own, account)
    old_token = first.client.cookies[SESSION_COOKIE]
    again = first.client.post(
        "/api/login", json={"username": account.username, "password": account.password}
    )
    assert again.status_code == 200
    assert first.client.cookies[SESSION_COOKIE] != old_token
    with httpx.Client(base_url=own.url, cookies={SESSION_COOKIE: old_token}) as planted:
        assert planted.get("/api/me").status_code == 401
    assert first.client.get("/api/me").status_code == 200


@pytest.mark.parametrize("dialect", [None, "excel"])
def test_every_csv_export_is_audited(own: LiveServer, dialect: str | None) -> None:
    """The call log, the report and the rules leave the box audited, as plain CSV and in
    the Indonesian Excel dialect alike."""
    supervisor = logged_in(own, Role.SUPERVISOR)
    name = supervisor.user.username
    exports = {
        "/calls.csv": ({"number": "0812"}, "export.calls"),
        "/reports.csv": ({"month": "2026-01"}, "export.report"),
        "/rules.csv": ({}, "export.rules"),
    }
    for path, (params, action) in exports.items():
        asked = params if dialect is None else {**params, "dialect": dialect}
        answer = supervisor.client.get(path, params=asked)
        assert answer.status_code == 200, path
        [row] = audit_of(own, action, name)
        assert row["remote"] == "127.0.0.1"
        if dialect is not None:
            assert answer.headers["content-disposition"].endswith(f'-{dialect}.csv"'), path
            assert json.loads(row["after"])["dialect"] == dialect, path
    [calls] = audit_of(own, "export.calls", name)
    assert "0812" in calls["after"]
    [report] = audit_of(own, "export.report", name)
    assert "2026-01-01" in report["after"] and "2026-01-31" in report["after"]


@pytest.mark.parametrize(
    "cell",
    ["=1+1", " =1+1", "\u3000=1+1", "\uff1d1+1", "\uff0b62812", "\uff0d1", "\uff20SUM(A1)", "+628"],
)
def test_the_formula_guard_sees_what_a_spreadsheet_sees(cell: str) -> None:
    assert calllog.neutralise(cell) == "'" + cell


def test_the_formula_guard_leaves_plain_text_alone() -> None:
    for cell in ("0812 3456 7890", "Budi", "a=b", " plain"):
        assert calllog.neutralise(cell) == cell
