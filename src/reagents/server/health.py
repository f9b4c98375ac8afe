"""``/healthz`` (the process answers) and ``/readyz`` (the pipeline runs its sources)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the server answers (no auth, for probes)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the pipeline is running and takes events (503 until then)."""
    state = request.app.state.reagents
    checks: dict[str, Any] = {"pipeline": "running" if state.started else "not running"}
    ready = state.started
    return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)
