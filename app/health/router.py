from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import get_session
from app.health import service

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: the database answers and its migrations are at head",
    responses={503: {"description": "Not ready"}},
)
async def readyz(
    request: Request, session: Annotated[AsyncSession, Depends(get_session)]
) -> JSONResponse:
    state: dict[str, Any] = await service.readiness(session, request.app.state.migration_head)
    return JSONResponse(state, status_code=200 if state["ready"] else 503)
