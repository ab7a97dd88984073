"""How often a sharing process looks at its database while nothing changes.

`siaga sync` and `siaga hub` learn of a new fact, rule or setting by looking at SQLite's
`PRAGMA data_version`, which changes only when another connection commits: next to no
work per look, but a look every 10 ms all day is still a hundred wake-ups a second on a
Pi that has lines to screen. So the wait between looks starts at `FIRST_S` after a
change (a burst of changes goes out within about 10 ms each) and doubles while nothing
changes, up to `LONGEST_S`: an idle box looks about six times a second, and the first
change after a quiet spell leaves within `LONGEST_S`, which nobody who blocks a number
or records a verdict can notice (`bench/bench_cluster.py` measures both).
"""

from __future__ import annotations

import asyncio

FIRST_S = 0.01
LONGEST_S = 0.16


class IdleWait:
    """A wait that grows while nothing happens and starts short again after a change."""

    def __init__(self, first_s: float = FIRST_S, longest_s: float = LONGEST_S) -> None:
        self.first_s = first_s
        self.longest_s = longest_s
        self.wait_s = first_s

    def changed(self) -> None:
        """Something happened: look again soon."""
        self.wait_s = self.first_s

    async def sleep(self) -> None:
        """Wait before the next look; the next wait is twice as long, up to the longest."""
        await asyncio.sleep(self.wait_s)
        self.wait_s = min(self.wait_s * 2, self.longest_s)
