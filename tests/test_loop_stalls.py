"""The measure of how long an event loop is held, which the worker logs."""

import asyncio
import time

from app.kit.loop_stalls import LoopStalls


async def test_a_loop_held_is_measured_and_the_measure_starts_again_when_taken() -> None:
    stalls = LoopStalls(tick_s=0.01)
    watching = asyncio.create_task(stalls.watch())
    try:
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # noqa: ASYNC251 - what a decode on the loop does
        await asyncio.sleep(0.05)
        assert stalls.take_longest() >= 0.29
        await asyncio.sleep(0.05)
        assert stalls.take_longest() < 0.29
    finally:
        watching.cancel()
