"""``GET /events/stream`` and ``GET /stats/stream``: watch a pipeline live, as SSE.

``/events/stream?where=<expression>`` sends every routed event the ``where``
expression matches (all without one) as ``event: event`` messages whose data is the
event's JSON. A bad expression is answered 422 with the parser's message before the
stream starts. Each client has a bounded queue (``ServerSettings.stream_buffer``):
a client that falls that far behind gets ``event: error`` (``{"reason": ...}``) and
the stream ends; it never makes the server hold more. Comment lines every
``heartbeat`` seconds keep proxies from closing an idle stream. ``/stats/stream``
sends a `stats_snapshot` every ``interval`` seconds (``event: stats``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from reagents.errors import FilterSyntaxError
from reagents.operators.expression import where as compile_where
from reagents.operators.filters import Filter
from reagents.pipelines.pipeline import Pipeline
from reagents.server.auth import require
from reagents.server.settings import Scope
from reagents.server.sse import ClientQueue, sse_comment, sse_message
from reagents.server.stats import stats_snapshot

__all__ = ["parse_where", "router"]

router = APIRouter(tags=["watch"])

_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}  # nginx: do not buffer
_MAX_WHERE = 2000  # characters of a where expression

Heartbeat = Annotated[
    float, Query(ge=0.05, le=300, description="Seconds between keep-alive comments.")
]


def parse_where(text: str | None) -> Filter | None:
    """The filter a ``where`` query parameter asks for (``None``: every event); 422 if bad."""
    if text is None or not text.strip():
        return None
    if len(text) > _MAX_WHERE:
        raise HTTPException(422, detail=f"where: longer than {_MAX_WHERE} characters")
    try:
        return compile_where(text)
    except FilterSyntaxError as error:
        raise HTTPException(422, detail=f"where: {error}") from None
    except RecursionError:
        raise HTTPException(422, detail="where: expression nested too deeply") from None


@router.get("/events/stream", dependencies=[Depends(require(Scope.READ))])
async def event_stream(
    request: Request,
    where: Annotated[
        str | None,
        Query(description="Only events this expression matches, e.g. type = order.*"),
    ] = None,
    heartbeat: Heartbeat = 15.0,
) -> StreamingResponse:
    """Routed events as Server-Sent Events (``event: event``, data: the event's JSON)."""
    match = parse_where(where)
    state = request.app.state.reagents
    events = _events(state.pipeline, match, state.settings.stream_buffer, heartbeat)
    return StreamingResponse(events, media_type="text/event-stream", headers=_HEADERS)


async def _events(
    pipeline: Pipeline, match: Filter | None, limit: int, heartbeat: float
) -> AsyncIterator[bytes]:
    # Subscribed here, not in the endpoint: only a stream that runs can clean up after.
    queue = ClientQueue(pipeline.events, match, limit)
    try:
        yield b"retry: 3000\n" + sse_comment("reagents event stream")
        while True:
            events = await queue.take(heartbeat)
            for event in events:
                try:
                    data = event.model_dump_json()
                except ValueError:  # text JSON cannot hold (lone surrogates): skip, not die
                    yield sse_comment(f"event {event.event_id[:64]!r} cannot be written as JSON")
                    continue
                yield sse_message("event", data, id=event.event_id)
            if queue.overflowed:
                reason = (
                    f"this client fell {queue.limit:,} events behind (the stream buffer): "
                    "dropped; reconnect, or narrow the stream with ?where="
                )
                yield sse_message("error", {"reason": reason, "buffer": queue.limit})
                return
            if not events:
                yield sse_comment("heartbeat")
    finally:
        queue.close()  # the client left, was dropped, or the server stops


@router.get("/stats/stream", dependencies=[Depends(require(Scope.READ))])
async def stats_stream(
    request: Request,
    interval: Annotated[
        float, Query(ge=0.05, le=300, description="Seconds between snapshots.")
    ] = 1.0,
) -> StreamingResponse:
    """The pipeline's counters (as ``GET /stats``) every ``interval`` s (``event: stats``)."""
    pipeline: Pipeline = request.app.state.reagents.pipeline
    return StreamingResponse(
        _stats(pipeline, interval), media_type="text/event-stream", headers=_HEADERS
    )


async def _stats(pipeline: Pipeline, interval: float) -> AsyncIterator[bytes]:
    yield b"retry: 3000\n" + sse_comment("reagents stats stream")
    next_at = time.monotonic()
    while True:
        yield sse_message("stats", stats_snapshot(pipeline))
        next_at += interval
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))
