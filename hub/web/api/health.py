"""Liveness and readiness for load balancers and orchestrators (no authentication, no data)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from core.store.database import require_current_schema
from hub.web.state import WebState, web_state

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(state: Annotated[WebState, Depends(web_state)]) -> JSONResponse:
    """The database answers and its schema is the one this code expects."""
    try:
        await run_in_threadpool(require_current_schema, state.hub.engine)
    except Exception as error:  # any failure means "not ready"; the class name says which
        return JSONResponse({"status": "unavailable", "reason": type(error).__name__}, status_code=503)
    return {"status": "ready"}  # type: ignore[return-value]
