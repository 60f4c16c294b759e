"""The request-scoped dependencies every router uses."""

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_session
from app.settings import Settings


def app_settings(request: Request) -> Settings:
    """The settings the app was created with (not re-read from the environment)."""
    settings: Settings = request.app.state.settings
    return settings


Session = Annotated[AsyncSession, Depends(get_session, scope="function")]
"""The request's session. Function-scoped: FastAPI runs the end of `get_session` (its commit)
when the route returns, before the response is sent, and throws the route's errors into it; a
request-scoped dependency would commit after the client has its answer."""
AppSettings = Annotated[Settings, Depends(app_settings)]
