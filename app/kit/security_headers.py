"""The headers every answer carries, so that nothing a user wrote runs in a browser even where an
escape were missed: pages (text/html) may run scripts of this origin alone, never inline, and
may not be framed; any other answer (JSON, GeoJSON, CSV, tiles) may run nothing at all. A
script gets the pages' policy: a worker started from a script file runs under that file's
policy (MapLibre's fetches the tiles). No answer is sniffed into another type, and no page
tells another site where it was."""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Styles may be inline: Swagger UI, ReDoc and MapLibre set theirs at run time, and a style runs
# no script. Workers come from this origin or from blobs it made (MapLibre, ReDoc's search).
PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
DATA_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"

_RUNS_IN_A_PAGE = ("text/html", "text/javascript", "application/javascript")

_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                page = headers.get("content-type", "").startswith(_RUNS_IN_A_PAGE)
                headers["Content-Security-Policy"] = PAGE_POLICY if page else DATA_POLICY
                for name, value in _ALWAYS:
                    headers[name.decode()] = value.decode()
            await send(message)

        await self.app(scope, receive, with_headers)
