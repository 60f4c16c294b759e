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


Session = Annotated[AsyncSession, Depends(get_session)]
AppSettings = Annotated[Settings, Depends(app_settings)]
