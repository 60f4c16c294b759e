"""A process ends when the process that forked it ends, however that ends (a worker killed
half-way through a plan), so that no search goes on for no one: the one way for the engines'
processes and for the worker's children (`app.jobs.child_process`) alike.

The kernel does it (`PR_SET_PDEATHSIG`): no thread, which a process out of memory could not
start, and nothing to allocate in the child but the call."""

import ctypes
import os
import signal

PR_SET_PDEATHSIG = 1
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def die_with_parent(parent: int) -> None:
    """In a child just forked by `parent`."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        # It was gone before the call.
        os._exit(1)
