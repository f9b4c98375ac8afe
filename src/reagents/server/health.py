"""``/healthz`` (the process answers) and ``/readyz`` (the pipeline runs its sources)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from reagents.server.readiness import readiness_checks

__all__ = ["router"]

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the server answers (no auth, for probes)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the pipeline runs, every source reads (or has ended) and Kafka answers.

    503 otherwise, with ``failing`` naming the checks that failed and why.
    """
    checks = await readiness_checks(request.app.state.reagents.pipeline)
    failing = {name: reason for name, reason in checks.items() if reason != "ok"}
    body = {"ready": not failing, "checks": checks, "failing": failing}
    return JSONResponse(body, status_code=503 if failing else 200)
