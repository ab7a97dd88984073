"""The sharing processes' wait between looks at the database: it grows while nothing
changes, never beyond its longest, and starts short again after a change (a burst of
changes goes out as fast as before; an idle box wakes a few times a second, not a
hundred)."""

from __future__ import annotations

import asyncio

from appliance.cluster.idle import IdleWait


def test_the_wait_doubles_while_idle_up_to_its_longest_and_a_change_makes_it_short() -> None:
    idle = IdleWait(first_s=0.001, longest_s=0.004)

    async def waits(count: int) -> list[float]:
        seen = []
        for _ in range(count):
            seen.append(idle.wait_s)
            await idle.sleep()
        return seen

    assert asyncio.run(waits(4)) == [0.001, 0.002, 0.004, 0.004]
    idle.changed()
    assert asyncio.run(waits(2)) == [0.001, 0.002]
