"""Watching a pipeline: one router with the status page, stats, streams and dead letters.

* ``GET /`` — the status page (HTML, no auth; its script sends the user's token)
* ``GET /graph.svg`` — the pipeline's graph (``read``)
* ``GET /stats``, ``GET /stats/stream`` — counters, once or as SSE (``read``)
* ``GET /events/stream?where=...`` — routed events as SSE (``read``)
* ``GET /dead-letters``, ``POST /dead-letters/{id}/replay`` (``read`` / ``admin``)
"""

from __future__ import annotations

from fastapi import APIRouter

from reagents.server import dead_letters, page, stats, stream

__all__ = ["router"]

router = APIRouter()
for _part in (page.router, stats.router, stream.router, dead_letters.router):
    router.include_router(_part)
