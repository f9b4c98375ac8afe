"""``POST /events`` (scope ``publish``): events into the pipeline over HTTP.

One event, a batch (JSON array or NDJSON) or CloudEvents (structured, batch or binary
mode; see `reagents.server.bodies` and the mapping in `reagents.server.cloudevents`).

- All or nothing: every event is decoded and its payload checked against
  ``pipeline.schemas`` before any is published; one bad event is a ``422`` naming its
  index and the reason a dead letter would carry, and nothing of the request is kept
  (items that do not decode are reported first; payloads are checked once all decode).
- ``202 Accepted`` comes only once the events are handed off (`reagents.server.handoff`):
  queued in the pipeline's inbox, or acknowledged by Kafka (``acks=all``). The answer
  lists the ids in request order: ``{"ids": [...], "published": n, "duplicates": [...]}``.
- Idempotent: an event id seen among the last ``settings.idempotency_window`` accepted
  ones (or, for a single event, the same ``Idempotency-Key`` from the same caller) is
  not published again; it gets 202 with the first id, listed under ``duplicates``.
- Backpressure: ``429`` with ``Retry-After`` while the pipeline is above its high
  watermark with events already waiting (or the Kafka producer is full); ``413`` for a
  body over ``settings.max_body_bytes`` (or a batch larger than the inbox); ``415`` for
  a ``Content-Type`` it does not read; ``503`` when the hand-off failed.
- A W3C ``traceparent`` (and ``tracestate``) request header goes into every event that
  carries none.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Hashable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from reagents.errors import PayloadValidationError
from reagents.events import AgentEvent
from reagents.schemas import PayloadSchemas
from reagents.server.auth import Caller, require
from reagents.server.bodies import BadEvents, UnsupportedMediaType, decode_body
from reagents.server.dedupe import IdempotencyWindow
from reagents.server.handoff import (
    Busy,
    Handoff,
    HandoffFailed,
    InboxHandoff,
    TooMany,
    wait_for_room,
)
from reagents.server.settings import Scope

__all__ = ["Ingest", "router"]


class Ingest:
    """What ``POST /events`` of one app shares: its hand-off and its idempotency window."""

    def __init__(self, handoff: Handoff, window: int) -> None:
        self.handoff = handoff
        self.window = IdempotencyWindow(window)

    async def close(self) -> None:
        """Close the hand-off (a Kafka producer flushes and disconnects)."""
        await self.handoff.close()


@asynccontextmanager
async def _closing(app: FastAPI) -> AsyncIterator[None]:
    yield
    ingest: Ingest | None = app.state.reagents.ingest
    if ingest is not None:
        await ingest.close()


router = APIRouter(tags=["events"], lifespan=_closing)


@router.post("/events", status_code=202)
async def post_events(
    request: Request, caller: Annotated[Caller, Depends(require(Scope.PUBLISH))]
) -> JSONResponse:
    """Publish events (JSON, NDJSON or CloudEvents); 202 once they are handed off."""
    state = request.app.state.reagents
    ingest: Ingest = state.ingest
    if isinstance(ingest.handoff, InboxHandoff) and not state.started:
        # e.g. the app mounted in another whose lifespan does not run this one's
        detail = f"pipeline {state.pipeline.name!r} is not running: nothing would handle events"
        return _error(503, detail, {"Retry-After": "1"})
    body = await request.body()
    patience = state.settings.busy_wait
    try:  # when not even one event fits (after waiting a little), decode none
        await wait_for_room(ingest.handoff, 1, patience)
    except Busy as busy:
        return _error(429, str(busy), {"Retry-After": str(busy.retry_after)})
    try:
        decoded = decode_body(body, request.headers)
        key = request.headers.get("idempotency-key")
        if key is not None and not decoded.single:
            raise BadEvents([(0, _KEY_ON_BATCH)], single=True)
        if key is not None and len(key) > MAX_KEY:
            raise BadEvents([(0, f"Idempotency-Key is longer than {MAX_KEY} characters")], True)
        if long := [
            (i, _LONG_ID) for i, e in enumerate(decoded.events) if len(e.event_id) > MAX_KEY
        ]:
            raise BadEvents(long, decoded.single)
        events = _traced(decoded.events, request.headers)
        _check_payloads(events, state.pipeline.schemas, decoded.single)
    except UnsupportedMediaType as error:
        return _error(415, str(error))
    except BadEvents as error:
        return _bad(error)
    try:
        await wait_for_room(ingest.handoff, len(events), patience)
    except Busy as busy:
        return _error(429, str(busy), {"Retry-After": str(busy.retry_after)})
    except TooMany as error:
        return _error(413, str(error))
    ids = [event.event_id for event in events]
    keys: list[Hashable] = [("key", caller.name, key)] if key else [("id", i) for i in ids]
    claim = await ingest.window.claim(keys, ids)
    fresh = [events[i] for i in claim.fresh]
    if fresh:
        try:
            ingest.handoff.refuse(len(fresh))
        except Busy as busy:
            return _error(429, str(busy), {"Retry-After": str(busy.retry_after)})
        except TooMany as error:
            return _error(413, str(error))
        ingest.window.hold(claim)
        accepted = False
        try:
            await ingest.handoff.hand_off(fresh)
            accepted = True
        except HandoffFailed as error:
            return _error(503, f"events not accepted: {error}", {"Retry-After": "1"})
        finally:
            ingest.window.settle(claim, ids, accepted)
    answer_ids = [claim.repeats.get(i, event_id) for i, event_id in enumerate(ids)]
    answer: dict[str, Any] = {
        "ids": answer_ids,
        "published": len(fresh),
        "duplicates": [answer_ids[i] for i in sorted(claim.repeats)],
    }
    if decoded.ignored:
        answer["ignored_attributes"] = decoded.ignored
    return JSONResponse(answer, status_code=202)


MAX_KEY = 256
"""Longest ``event_id`` / ``Idempotency-Key`` accepted: the window remembers them."""
_LONG_ID = f"event_id is longer than {MAX_KEY} characters"

_KEY_ON_BATCH = (
    "Idempotency-Key applies to a single event; in a batch, give each event its own "
    "event_id (repeated ids are recognised)"
)


def _traced(events: list[AgentEvent], headers: Mapping[str, str]) -> list[AgentEvent]:
    """Give the request's W3C trace context to the events that carry none."""
    parent = headers.get("traceparent")
    if parent is None:
        return events
    probe = AgentEvent(event_type="trace", traceparent=parent, tracestate=headers.get("tracestate"))
    if probe.traceparent is None:  # malformed: ignored, as W3C trace context says
        return events
    update = {"traceparent": probe.traceparent, "tracestate": probe.tracestate}
    return [e if e.traceparent else e.model_copy(update=update) for e in events]


def _check_payloads(
    events: Sequence[AgentEvent], schemas: PayloadSchemas | None, single: bool
) -> None:
    if schemas is None:
        return
    problems = []
    for index, event in enumerate(events):
        try:
            schemas.validate(event)
        except PayloadValidationError as error:
            problems.append((index, str(error)))
    if problems:
        raise BadEvents(problems, single)


def _bad(error: BadEvents) -> JSONResponse:
    errors: list[dict[str, object]] = [{"index": i, "reason": r} for i, r in error.problems]
    content: dict[str, object] = {"detail": str(error), "errors": errors}
    if error.more:
        content["more_errors"] = error.more
    return JSONResponse(content, status_code=422)


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)
