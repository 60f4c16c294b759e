"""How long an event loop is held: a task that sleeps a short tick and measures how late it
wakes. Whatever runs on the loop without awaiting (decoding, pickling, scoring) delays every
other task of the process by as much: the worker's heartbeat, its deliveries, its other jobs."""

import asyncio


class LoopStalls:
    """The longest stall seen since it was last taken; `watch` runs as a task of the loop."""

    def __init__(self, tick_s: float = 0.01) -> None:
        self.tick_s = tick_s
        self._longest_s = 0.0

    async def watch(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.tick_s)
            self._longest_s = max(self._longest_s, loop.time() - before - self.tick_s)

    def take_longest(self) -> float:
        """The longest stall, in seconds, since the last call."""
        longest, self._longest_s = self._longest_s, 0.0
        return longest
