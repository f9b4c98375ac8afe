"""``GET /stats``: the pipeline's counters as JSON (and the snapshot the streams send).

One snapshot holds every agent's and sink's counters (`pipeline.stats()`), the bus
counters and what is in flight, stamped with the server's clock, so a client computes
rates (events/s) from two successive snapshots without guessing the interval.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request

from reagents.pipelines.pipeline import Pipeline
from reagents.server.auth import require
from reagents.server.settings import Scope

__all__ = ["router", "stats_snapshot"]

router = APIRouter(tags=["watch"])


def stats_snapshot(pipeline: Pipeline) -> dict[str, Any]:
    """The pipeline's counters now, as plain JSON-ready data.

    ``at`` is wall-clock seconds (for display), ``monotonic`` the server's monotonic
    clock (for rates: it never jumps).
    """
    counters = pipeline.counters
    return {
        "pipeline": pipeline.name,
        "running": pipeline.running,
        "at": time.time(),
        "monotonic": time.monotonic(),
        "in_flight": pipeline.in_flight,
        "bus": {
            "ingested": counters.ingested,
            "emitted": counters.emitted,
            "dead_letters": counters.dead_letters,
            "subscriber_failures": counters.subscriber_failures,
        },
        "agents": {name: asdict(snapshot) for name, snapshot in pipeline.stats().items()},
    }


@router.get("/stats", dependencies=[Depends(require(Scope.READ))])
async def stats(request: Request) -> dict[str, Any]:
    """Every agent's counters (received, processed, failed, queue depth, latency
    percentiles in ms over the whole run...), the bus counters and the deliveries in
    flight."""
    pipeline: Pipeline = request.app.state.reagents.pipeline
    return stats_snapshot(pipeline)
