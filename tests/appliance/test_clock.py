"""The virtual-time event loop: idle waits cost no real time, real I/O still works."""

import asyncio
import os
import time
from datetime import UTC, datetime

from appliance.clock import LoopClock, VirtualTimeLoop


def test_virtual_loop_skips_idle_time() -> None:
    loop = VirtualTimeLoop()
    started = time.monotonic()

    async def wait_a_day() -> float:
        await asyncio.sleep(86_400)
        return loop.time()

    assert loop.run_until_complete(wait_a_day()) == 86_400
    loop.close()
    # A day of virtual waiting must not take a day; a minute is a generous bound.
    assert time.monotonic() - started < 60


def test_virtual_loop_waits_for_bytes_in_flight() -> None:
    loop = VirtualTimeLoop()
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    written = 0
    received: list[bytes] = []

    loop.add_in_flight_probe(lambda: written != sum(len(chunk) for chunk in received))
    loop.add_reader(read_fd, lambda: received.append(os.read(read_fd, 100)))

    async def exchange() -> float:
        nonlocal written
        written += os.write(write_fd, b"RING\r\n")
        # A timer far in the future must not fire before the bytes are read.
        await asyncio.sleep(3600)
        return loop.time()

    assert loop.run_until_complete(exchange()) == 3600
    assert b"".join(received) == b"RING\r\n"
    loop.remove_reader(read_fd)
    loop.close()
    os.close(read_fd)
    os.close(write_fd)


def test_loop_clock_maps_loop_time_to_the_calendar() -> None:
    loop = VirtualTimeLoop()
    epoch = datetime(2024, 4, 1, tzinfo=UTC)
    clock = LoopClock(loop, epoch)
    loop.advance(90)
    assert clock.now() == datetime(2024, 4, 1, 0, 1, 30, tzinfo=UTC)
    assert clock.to_loop_time(datetime(2024, 4, 1, 0, 2, tzinfo=UTC)) == loop.time() + 30
    loop.close()
