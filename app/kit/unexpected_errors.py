"""The 500 problem for an exception that no handler took: logged with its traceback, and
answered without closing the client's connection."""

import logging

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.kit.problems import Problem, ProblemResponse, problem_response

log = logging.getLogger(__name__)


def unexpected_error_response(request: Request, exc: Exception) -> ProblemResponse:
    """The 500 problem for an exception no handler took, logged with its traceback."""
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(Problem("The server hit an unexpected error."), request)


class UnexpectedErrorMiddleware:
    """Answers an exception that no handler took with the 500 problem, and keeps it from the
    server. Starlette's last resort (ServerErrorMiddleware) answers too, but then raises the
    exception on to the server, which closes the connection: a client's keep-alive connection
    would die with each 500. Installed innermost, so that the middleware around it see the 500
    as any other answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:
                raise  # half an answer is out: only closing the connection ends it
            await unexpected_error_response(Request(scope), exc)(scope, receive, send)
