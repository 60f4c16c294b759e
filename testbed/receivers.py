"""A webhook receiver on this machine's loopback, which records what it receives."""

import json
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Receiver:
    """A local HTTP endpoint that records what it receives, and when, and answers the first
    `failures` with `failure_status` (and `failure_body`), then 204. With `tls` (a certificate
    and its key), it speaks https. `on_receipt(n)` runs on the n-th request before the answer
    (to hold it, say)."""

    def __init__(
        self,
        failures: int = 0,
        failure_status: int = 500,
        failure_body: bytes = b"",
        tls: tuple[Path, Path] | None = None,
        on_receipt: Callable[[int], None] | None = None,
    ) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append(
                    {"headers": dict(self.headers), "body": body, "at": time.time()}
                )
                if on_receipt is not None:
                    on_receipt(len(receiver.received))
                failing = receiver.failures > 0
                receiver.failures -= 1
                self.send_response(failure_status if failing else 204)
                self.send_header("Content-Length", str(len(failure_body) if failing else 0))
                self.end_headers()
                if failing:
                    self.wfile.write(failure_body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        bodies = [json.loads(r["body"]) for r in self.received]
        return [b for b in bodies if event_type is None or b["type"] == event_type]
