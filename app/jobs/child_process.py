"""CPU-bound work (a search, an allocation) in a process of its own: the worker's event loop
goes on beating, delivering and fetching meanwhile, and work that eats memory is stopped
alone, at a limit, and reported, instead of taking the worker down.

Children come from a fork server, which imports the heavy modules once, and are started,
answered and ended as the engines' processes are (`logistics.child_process`): a worker killed
mid-search leaves no search behind."""

import asyncio
import logging
import multiprocessing
from collections.abc import Callable, Iterable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from app.jobs.queue import JobInterrupted
from logistics.child_process import OUT_OF_MEMORY, Child, Outcome, death_reason, start_child

log = logging.getLogger(__name__)

_CONTEXT = multiprocessing.get_context("forkserver")

Result = TypeVar("Result")


def preload_in_children(modules: Iterable[str]) -> None:
    """Modules the fork server imports once for every child (before the first child)."""
    _CONTEXT.set_forkserver_preload([__name__, *modules])


def _nothing() -> None:
    return None


async def start_fork_server() -> None:
    """Starts the fork server and its imports now (a couple of seconds), so that the first
    plan does not wait for them."""
    await call_in_child_process(_nothing, memory_limit_mb=1024)


async def call_in_child_process(
    function: Callable[..., Result],
    *args: Any,
    memory_limit_mb: int,
    on_message: Callable[[Any], None] | None = None,
) -> Result:
    """`function(*args)` in a child process limited to `memory_limit_mb` of address space.
    Raises what the function raised, or `JobInterrupted` when the child ran out of memory or
    was killed. A cancelled call kills the child.

    With `on_message`, the function gets one more argument, a function that sends a small
    picklable message, which `on_message` receives on the event loop as it comes."""
    loop = asyncio.get_running_loop()
    # Starting pickles the arguments (matrices can weigh megabytes): off the event loop, and
    # seen through even when cancelled, so that the child is known and killed.
    starting = asyncio.ensure_future(
        asyncio.to_thread(
            start_child,
            _CONTEXT,
            function,
            args,
            memory_limit_mb=memory_limit_mb,
            messages=on_message is not None,
        )
    )
    try:
        child = await asyncio.shield(starting)
    except asyncio.CancelledError:
        await asyncio.to_thread((await starting).stop)
        raise
    messages = child.messages
    ready = asyncio.Event()
    watched = [child.answer.fileno(), child.process.sentinel]
    try:
        if messages is not None and on_message is not None:
            loop.add_reader(messages.fileno(), _hand_on, loop, messages, on_message)
        for fd in watched:
            loop.add_reader(fd, ready.set)
        await ready.wait()
        outcome = await asyncio.to_thread(child.receive)
    finally:
        for fd in watched:
            loop.remove_reader(fd)
        await asyncio.to_thread(child.stop)
        if messages is not None and on_message is not None:
            loop.remove_reader(messages.fileno())
            # What was sent before the end.
            _hand_on(loop, messages, on_message)
            messages.close()
    return _result(function, child, outcome, memory_limit_mb)


def _result(
    function: Callable[..., Result], child: Child, outcome: Outcome | None, memory_limit_mb: int
) -> Result:
    if outcome is None:
        raise JobInterrupted(death_reason(child.process.exitcode, memory_limit_mb))
    if outcome.out_of_memory:
        raise JobInterrupted(f"{OUT_OF_MEMORY} (more than {memory_limit_mb} MB)")
    if outcome.raised is not None:
        log.error("%s raised in its child process:\n%s", function.__name__, outcome.traceback)
        raise outcome.raised
    result: Result = outcome.value
    return result


def _hand_on(
    loop: asyncio.AbstractEventLoop, messages: Connection, on_message: Callable[[Any], None]
) -> None:
    try:
        while messages.poll():
            on_message(messages.recv())
    except EOFError:
        # Every process that could write has ended.
        loop.remove_reader(messages.fileno())
