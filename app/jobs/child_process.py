"""CPU-bound work (a search, an allocation) in a process of its own: the worker's event loop
goes on beating, delivering and fetching meanwhile, and work that eats memory is stopped
alone, at a limit, and reported, instead of taking the worker down.

Children come from a fork server, which imports the heavy modules once; each child ends with
the worker that asked for it, so a worker killed mid-search leaves no search behind.

A child may also say how it is getting on, through a pipe of its own which the processes it
forks share: each message is one write of less than `PIPE_BUF` bytes, which a pipe keeps
whole however many processes write to it."""

import asyncio
import logging
import multiprocessing
import os
import resource
import signal
import traceback
from collections.abc import Callable, Iterable
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from app.jobs.queue import JobInterrupted
from logistics.parent_watch import die_with_parent

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


def _end_with_the_worker() -> None:
    """Ends this child when the worker that asked for it ends, however it ends. The fork server
    is the child's parent, and the child ends with it (`die_with_parent`, as the engines' own
    processes do); the fork server ends when no process holds its pipe from the worker any
    more, which every child inherits to fork children of its own through the server, which
    this one never does: closed here, the pipe is the worker's alone, and the server ends with
    it."""
    fork_server = os.getppid()  # alive: it cannot end while this child holds the pipe
    die_with_parent(fork_server)
    server = forkserver._forkserver
    inherited: int | None = getattr(server, "_forkserver_alive_fd", None)
    if inherited is not None:
        os.close(inherited)
        setattr(server, "_forkserver_alive_fd", None)  # noqa: B010


def _child_main(
    send: Connection,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    memory_bytes: int,
    messages: Connection | None,
) -> None:
    _end_with_the_worker()
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if messages is not None:
        args = (*args, messages.send)
    outcome: tuple[str, Any, str]
    try:
        outcome = ("done", function(*args), "")
    except MemoryError:
        outcome = ("out_of_memory", None, "")
    except Exception as exc:
        outcome = ("raised", exc, traceback.format_exc())
    try:
        send.send(outcome)
    except MemoryError:
        send.send(("out_of_memory", None, ""))


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
    receive, send = _CONTEXT.Pipe(duplex=False)
    messages_in, messages_out = _CONTEXT.Pipe(duplex=False) if on_message else (None, None)
    process = _CONTEXT.Process(
        target=_child_main,
        args=(send, function, args, memory_limit_mb * 1024 * 1024, messages_out),
        name=f"boucle {function.__name__}",
    )
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    watched: list[int] = []
    try:
        # Starting pickles the arguments (matrices can weigh megabytes): off the event loop,
        # and seen through even when cancelled, so that the child is known and killed.
        starting = asyncio.ensure_future(asyncio.to_thread(process.start))
        try:
            await asyncio.shield(starting)
        except asyncio.CancelledError:
            await starting
            raise
        send.close()
        if messages_out is not None:
            messages_out.close()
        if messages_in is not None and on_message is not None:
            loop.add_reader(messages_in.fileno(), _hand_on, loop, messages_in, on_message)
        watched = [receive.fileno(), process.sentinel]
        for fd in watched:
            loop.add_reader(fd, ready.set)
        await ready.wait()
        outcome = await asyncio.to_thread(_receive, receive)
    finally:
        for fd in watched:
            loop.remove_reader(fd)
        if process.pid is not None:
            if process.is_alive():
                process.kill()
            await asyncio.to_thread(process.join)
        receive.close()
        if messages_out is not None:
            messages_out.close()
        if messages_in is not None and on_message is not None:
            loop.remove_reader(messages_in.fileno())
            # What was sent before the end.
            _hand_on(loop, messages_in, on_message)
            messages_in.close()
    if outcome is None:
        raise JobInterrupted(_death_reason(process.exitcode, memory_limit_mb))
    status, value, formatted = outcome
    if status == "out_of_memory":
        raise JobInterrupted(f"ran out of memory (more than {memory_limit_mb} MB)")
    if status == "raised":
        log.error("%s raised in its child process:\n%s", function.__name__, formatted)
        raise value
    result: Result = value
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


def _receive(connection: Connection) -> tuple[str, Any, str] | None:
    try:
        outcome: tuple[str, Any, str] = connection.recv()
    except EOFError:
        return None
    return outcome


def _death_reason(exitcode: int | None, memory_limit_mb: int) -> str:
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        # What a search that cannot allocate ends with: the kernel's OOM killer or an abort.
        if -exitcode in (signal.SIGKILL, signal.SIGABRT):
            return f"ran out of memory (its process ended with {name}; the limit is {memory_limit_mb} MB)"
        return f"was stopped by {name}"
    return f"ended without an answer (exit code {exitcode})"
