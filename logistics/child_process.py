"""The one way to run a function in a child process, for the engines of a portfolio (forked,
beside each other, in a plan's process) and for the worker's children (`app.jobs.child_process`,
from a fork server, waited for on the event loop) alike.

A child ends when the process that started it ends, however that ends (a worker killed half-way
through a plan), so that no search goes on for no one. The kernel does it
(`PR_SET_PDEATHSIG`): no thread, which a process out of memory could not start, and nothing to
allocate in the child but the call.

A child answers once, through a pipe: its function's value, the exception it raised, or that it
ran out of memory. A child that ends without answering was killed, and `death_reason` says by
what. With `messages`, it may also say how it is getting on through a pipe of its own, which
the processes it forks share: each message is one write of less than `PIPE_BUF` bytes, which a
pipe keeps whole however many processes write to it."""

import ctypes
import gc
import os
import resource
import signal
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from typing import Any

PR_SET_PDEATHSIG = 1
PR_SET_NAME, PR_GET_NAME = 15, 16
# What the kernel keeps of a process's name (with its closing zero byte).
NAME_BYTES = 16
_prctl = ctypes.CDLL(None, use_errno=True).prctl

# How `death_reason` and a child's answer begin when memory ran out, for callers that tell that
# apart from other failures.
OUT_OF_MEMORY = "ran out of memory"


@dataclass(frozen=True)
class Outcome:
    """What a child answered: its function's value, or what it raised (with the traceback as
    the child saw it), or that it ran out of memory."""

    value: Any = None
    raised: BaseException | None = None
    traceback: str = ""
    out_of_memory: bool = False


@dataclass
class Child:
    process: BaseProcess
    answer: Connection
    messages: Connection | None

    def receive(self) -> Outcome | None:
        """The child's answer, waiting for it; None when it ended without one."""
        try:
            outcome: Outcome = self.answer.recv()
        except EOFError:
            return None
        return outcome

    def stop(self) -> None:
        """Kills the child if it still runs, and waits for its end."""
        if self.process.pid is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join()
        self.answer.close()


def start_child(
    context: BaseContext,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    *,
    memory_limit_mb: int | None = None,
    messages: bool = False,
) -> Child:
    """Starts `function(*args)` in a child of `context`, limited to `memory_limit_mb` of address
    space when given. With `messages`, the function gets one more argument, a function that
    sends a small picklable message, which the parent reads from `Child.messages`."""
    receive, send = context.Pipe(duplex=False)
    messages_in, messages_out = context.Pipe(duplex=False) if messages else (None, None)
    # A forked child's parent is this process; a fork server's child's is the server, which
    # only the child knows.
    parent = os.getpid() if context.get_start_method() == "fork" else None
    memory_bytes = memory_limit_mb * 1024 * 1024 if memory_limit_mb is not None else None
    process = context.Process(  # type: ignore[attr-defined]
        target=_child_main,
        args=(send, function, args, parent, memory_bytes, messages_out),
        name=f"boucle {function.__name__}",
    )
    try:
        process.start()
    finally:
        send.close()
        if messages_out is not None:
            messages_out.close()
    return Child(process, receive, messages_in)


def die_with_parent(parent: int) -> None:
    """In a child just started by `parent`."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        # It was gone before the call.
        os._exit(1)


@contextmanager
def named_process(name: str) -> Iterator[None]:
    """The calling thread (a process's main thread: the process) is called `name` (its first
    15 bytes) in `ps` and /proc/PID/comm meanwhile, and as it was after."""
    was = ctypes.create_string_buffer(NAME_BYTES)
    _prctl(PR_GET_NAME, was)
    _prctl(PR_SET_NAME, name.encode()[: NAME_BYTES - 1])
    try:
        yield
    finally:
        _prctl(PR_SET_NAME, was.value)


def death_reason(exitcode: int | None, memory_limit_mb: int | None = None) -> str:
    """Why a child ended without answering."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        # What a search that cannot allocate ends with: the kernel's OOM killer or an abort.
        if -exitcode in (signal.SIGKILL, signal.SIGABRT):
            limit = f"; the limit is {memory_limit_mb} MB" if memory_limit_mb else ""
            return f"{OUT_OF_MEMORY} (its process ended with {name}{limit})"
        return f"was stopped by {name}"
    return f"ended without an answer (exit code {exitcode})"


def _let_go_of_the_fork_server() -> None:
    """A child starts no child through a fork server. The server ends when no process holds
    its pipe from the worker any more, and a fork server's child inherits it: closed here, the
    pipe is the worker's alone, and the server (and with it its children) ends with the
    worker."""
    server = forkserver._forkserver
    inherited: int | None = getattr(server, "_forkserver_alive_fd", None)
    if inherited is not None:
        os.close(inherited)
        setattr(server, "_forkserver_alive_fd", None)  # noqa: B010


def _child_main(
    send: Connection,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    parent: int | None,
    memory_bytes: int | None,
    messages: Connection | None,
) -> None:
    # A fork server's child: the server cannot end while this child holds its pipe.
    die_with_parent(parent if parent is not None else os.getppid())
    _let_go_of_the_fork_server()
    if memory_bytes is not None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    if messages is not None:
        args = (*args, messages.send)
    # What the child inherited (every module the fork server imported, some million objects)
    # lives as long as the child: out of the collector's sight, a collection looks at what the
    # child made only (a 5,000 x 5,000 allocation's proposals spent a fifth of the child's
    # time in collections that went over all of it).
    gc.freeze()
    outcome: Outcome
    try:
        outcome = Outcome(value=function(*args))
    except MemoryError:
        outcome = Outcome(out_of_memory=True)
    except Exception as exc:
        outcome = Outcome(raised=exc, traceback=traceback.format_exc())
    try:
        send.send(outcome)
    except MemoryError:
        send.send(Outcome(out_of_memory=True))
