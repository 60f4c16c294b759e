"""Real worker processes (`python -m app.worker`) for the tests and the benchmark of the job
layer: started with settings of their own, stopped with real signals."""

import asyncio
import inspect
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import IO, Any

from app.settings import PROJECT_ROOT
from testbed.database import role_environment

# Workers that notice a dead peer within seconds, and retry at once, for the tests.
QUICK_RECOVERY: dict[str, Any] = {
    "worker_heartbeat_seconds": 0.5,
    "worker_stalled_after_seconds": 3,
    "worker_stalled_check_seconds": 0.5,
    "worker_shutdown_grace_seconds": 1,
    "job_retry_base_seconds": 0.2,
    "webhook_private_hosts": '["127.0.0.1", "::1"]',
    # Nothing a test does reaches past this machine.
    "webhook_allowed_hosts": '["127.0.0.1", "localhost"]',
    "webhook_retry_base_seconds": 0,
}


class WorkerProcess:
    """One `python -m app.worker` against `database_url`; each keyword is a setting."""

    def __init__(self, database_url: str, log_path: Path, *args: str, **settings: Any) -> None:
        self.env = role_environment(database_url)
        for name, value in {**QUICK_RECOVERY, **settings}.items():
            self.env[f"BOUCLE_{name.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
        self.args = args
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> "WorkerProcess":
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.worker", *self.args],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30) -> int:
        assert self.process is not None
        return self.process.wait(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


async def eventually(
    check: Callable[[], Awaitable[Any] | Any], within_s: float = 90, every_s: float = 0.2
) -> Any:
    """Polls `check` (plain or async) until it answers something true, and answers it; fails
    after `within_s` (a bound on the test's length, not a measure of speed)."""
    deadline = time.monotonic() + within_s
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert time.monotonic() < deadline, f"still waiting after {within_s} s"
        await asyncio.sleep(every_s)
