"""What the engines report while they search, heard as a route plan's worker hears it: through
a pipe the engines' processes write to, read as they write."""

import multiprocessing
import threading
from collections.abc import Callable
from typing import TypeVar

from logistics.progress import Improvement, Sink

Answer = TypeVar("Answer")


def heard_while(search: Callable[[Sink], Answer]) -> tuple[Answer, list[Improvement]]:
    """`search(report)`'s answer, and every improvement it reported, in order."""
    receive, send = multiprocessing.Pipe(duplex=False)
    heard: list[Improvement] = []

    def listen() -> None:
        while True:
            try:
                heard.append(receive.recv())
            except EOFError:
                return

    listener = threading.Thread(target=listen)
    listener.start()
    try:
        answer = search(send.send)
    finally:
        send.close()
        listener.join()
    return answer, heard
