"""What a path answers to: `OPTIONS` says it (204 with `Allow`), `HEAD` answers what `GET`
would without the body, and a method the path does not take answers 405 naming all those it
does. Starlette's router answers 405 for OPTIONS, with an
`Allow` of the one route it tried first, where a path is often two routes (GET and POST).

The methods come from the app's OpenAPI document, the one list of its operations."""

import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_PARAMETER = re.compile(r"\\\{[^}]+\\\}")


def _methods_by_path(app: Any) -> list[tuple[re.Pattern[str], list[str]]]:
    known: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        app.state, "methods_by_path", None
    )
    if known is None:
        known = []
        for path, operations in app.openapi()["paths"].items():
            pattern = re.compile("^" + _PARAMETER.sub("[^/]+", re.escape(path)) + "$")
            methods = {m.upper() for m in operations}
            if "GET" in methods:
                methods.add("HEAD")
            known.append((pattern, sorted(methods | {"OPTIONS"})))
        app.state.methods_by_path = known
    return known


def allowed_methods(app: Any, path: str) -> list[str]:
    """The methods of the API's operations on this path (`/v1/organizations/me` is also
    `/v1/organizations/{id}`); none when it has none."""
    return sorted(
        {m for pattern, methods in _methods_by_path(app) if pattern.match(path) for m in methods}
    )


class MethodsMiddleware:
    """Answers `OPTIONS` on a path of the API with 204 and its `Allow` (CORS preflights are
    CORSMiddleware's, outside this one), and `HEAD` as `GET` less the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method") if scope["type"] == "http" else None
        methods = (
            allowed_methods(scope["app"], scope["path"]) if method in ("OPTIONS", "HEAD") else []
        )
        if method == "OPTIONS" and methods:
            headers = [(b"allow", ", ".join(methods).encode()), (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
        elif method == "HEAD" and "GET" in methods:

            async def without_body(message: Message) -> None:
                if message["type"] == "http.response.body":
                    message = {**message, "body": b""}
                await send(message)

            await self.app({**scope, "method": "GET"}, receive, without_body)
        else:
            await self.app(scope, receive, send)
