"""The app served by uvicorn on 127.0.0.1, for the tests whose client is a real HTTP client
of its own (Schemathesis, OWSLib, a browser)."""

import asyncio
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

T = TypeVar("T")


class Served:
    """An app served by uvicorn on 127.0.0.1, in a thread with an event loop of its own: the
    tests' loop does not run while a synchronous test (Schemathesis's) does."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        # Port 0: uvicorn binds a free one (a socket handed to it answers 20 times slower).
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", access_log=False)
        )
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.address: tuple[str, int] = ("127.0.0.1", 0)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.address[1]}"

    def __enter__(self) -> "Served":
        self.thread.start()
        for _ in range(400):
            if self.server.started:
                self.address = self.server.servers[0].sockets[0].getsockname()[:2]
                return self
            time.sleep(0.05)
        raise RuntimeError("uvicorn did not start")

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Runs `work` on the server's loop, where the app's engine lives, and answers its result."""
        return asyncio.run_coroutine_threadsafe(work, self.loop).result()

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.loop.close()
