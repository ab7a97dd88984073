"""`LoginGate` (web_ui.auth.login_guard) on its own, and where Argon2 runs (web_ui.auth.passwords).

The gate is driven as ASGI with a stand-in app that answers what a test tells it, with
hold times of a few tens of milliseconds: how many logins are inside at once, that a 429
is sent late and later for each refusal in a row to one address (another address and
other answers are not held), and that other routes pass untouched. Argon2 runs in
threads of its own at the lowest CPU priority, so the event loop goes first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import anyio
import pytest

from web_ui.auth import passwords
from web_ui.auth.login_guard import LoginGate, Message

HOLD_S = 0.05


class StandIn:
    """An app answering `status` after `work_s`, counting how many are inside at once."""

    def __init__(self, status: int, work_s: float = 0.0) -> None:
        self.status = status
        self.work_s = work_s
        self.inside = 0
        self.peak = 0

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        self.inside += 1
        self.peak = max(self.peak, self.inside)
        try:
            await anyio.sleep(self.work_s)
            await send({"type": "http.response.start", "status": self.status, "headers": []})
            await send({"type": "http.response.body", "body": b"{}", "more_body": False})
        finally:
            self.inside -= 1


def scope(path: str = "/api/login", address: str = "127.0.9.1") -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": path, "client": (address, 50000)}


async def call(gate: LoginGate, request: dict[str, Any]) -> tuple[int, float]:
    """(status, seconds until the answer started) of one request through `gate`."""
    started = time.monotonic()
    answered: list[tuple[int, float]] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answered.append((int(message["status"]), time.monotonic() - started))

    await gate(request, receive, send)
    return answered[0]


def run(gate: LoginGate, *requests: dict[str, Any]) -> list[tuple[int, float]]:
    """Every request at once; their answers in order."""
    results: list[tuple[int, float]] = [(0, 0.0)] * len(requests)

    async def one(index: int) -> None:
        results[index] = await call(gate, requests[index])

    async def every() -> None:
        async with anyio.create_task_group() as group:
            for index in range(len(requests)):
                group.start_soon(one, index)

    anyio.run(every)
    return results


def test_at_most_a_few_logins_are_inside_the_app_at_once() -> None:
    app = StandIn(401, work_s=0.02)
    gate = LoginGate(app, at_once=3, hold_s=HOLD_S)
    answers = run(gate, *(scope(address=f"127.0.9.{n}") for n in range(1, 31)))
    assert [status for status, _ in answers] == [401] * 30
    assert app.peak == 3 and gate.peak == 3


def test_a_refusal_is_sent_late_and_later_for_each_in_a_row() -> None:
    gate = LoginGate(StandIn(429), hold_s=HOLD_S, hold_max_s=4 * HOLD_S)
    waits = [run(gate, scope())[0][1] for _ in range(4)]
    assert waits[0] >= HOLD_S
    assert waits[1] >= 2 * HOLD_S and waits[2] >= 4 * HOLD_S
    assert waits[3] < 8 * HOLD_S  # never more than the most
    [(status, elsewhere)] = run(gate, scope(address="127.0.9.2"))
    assert status == 429 and elsewhere < 2 * HOLD_S  # another address starts at the first


def test_another_answer_is_not_held_and_starts_the_count_again() -> None:
    refusing = StandIn(429)
    gate = LoginGate(refusing, hold_s=HOLD_S, hold_max_s=8 * HOLD_S)
    run(gate, scope())
    run(gate, scope())
    refusing.status = 401
    [(status, waited)] = run(gate, scope())
    assert status == 401 and waited < HOLD_S
    refusing.status = 429
    [(status, waited)] = run(gate, scope())
    assert status == 429 and HOLD_S <= waited < 2 * HOLD_S


@pytest.mark.parametrize(
    "request_scope",
    [scope(path="/api/console"), {**scope(), "method": "GET"}, scope(path="/login/x")],
)
def test_other_requests_pass_untouched(request_scope: dict[str, Any]) -> None:
    gate = LoginGate(StandIn(429), hold_s=10.0)
    [(status, waited)] = run(gate, request_scope)
    assert status == 429 and waited < 1.0


class SpyHasher:
    """The real hasher, noting the thread and its nice value of each check."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.seen: dict[str, int] = {}

    def hash(self, password: str) -> str:
        return str(self.real.hash(password))

    def verify(self, password_hash: str, password: str) -> bool:
        tid = threading.get_native_id()
        fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        self.seen[threading.current_thread().name] = int(fields[16])  # nice
        return bool(self.real.verify(password_hash, password))


def test_argon2_runs_in_its_own_threads_at_the_lowest_priority(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = passwords.hash_password("kata-sandi-rahasia-112")
    spy = SpyHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", spy)
    assert passwords.verify_password(stored, "kata-sandi-rahasia-112")
    [(name, nice)] = spy.seen.items()
    assert name.startswith("argon2") and name != threading.current_thread().name
    assert nice == passwords.HASHING_NICE  # lowering one's own priority needs no privilege
