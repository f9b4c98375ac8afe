"""``GET /dead-letters`` (newest first, filtered) and ``POST /dead-letters/{id}/replay``.

Dead letters are listed from the pipeline's own dead-letter sink: the in-memory ones
(`MemoryDeadLetters`, and `UnsavedDeadLetters`, the default) and a JSONL log
(`JsonlDeadLetterLog`, read line by line, keeping only the newest ``limit`` matches).
Other sinks (a Kafka topic) cannot be listed here: 501, saying which can.

A replay puts the letter's event back on the bus as a new event (a new ``event_id``,
``retry_count`` 0, the rest unchanged), as ``reagents dlq replay`` does; a letter of
raw bytes is decoded again first (422 if it still does not decode).
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent, decode_event, new_id
from reagents.pipelines.pipeline import Pipeline
from reagents.server.auth import require
from reagents.server.settings import Scope
from reagents.sinks.base import DeadLetterSink
from reagents.sinks.file import JsonlDeadLetterLog, read_dead_letters
from reagents.sinks.memory import MemoryDeadLetters

__all__ = ["find_letter", "list_letters", "replayed_event", "router"]

router = APIRouter(tags=["dead letters"])

_LISTABLE = "MemoryDeadLetters, UnsavedDeadLetters (the default) and JsonlDeadLetterLog"


def _letters_of(sink: DeadLetterSink) -> Iterable[DeadLetter]:
    if isinstance(sink, MemoryDeadLetters):
        return list(sink.letters)  # a copy: the pipeline appends while we read
    if isinstance(sink, JsonlDeadLetterLog):
        return read_dead_letters(sink.path) if sink.path.exists() else ()
    raise HTTPException(
        501,
        detail=(
            f"the dead letters of this pipeline go to {sink.describe()}, which this server "
            f"cannot list or replay; it can for {_LISTABLE} sinks"
        ),
    )


def list_letters(
    sink: DeadLetterSink,
    *,
    stage: FailureStage | None = None,
    agent: str | None = None,
    limit: int = 100,
) -> list[DeadLetter]:
    """The newest ``limit`` dead letters of ``sink`` that match, newest first.

    Raises `HTTPException` 501 for a sink that cannot be listed.
    """
    kept: deque[DeadLetter] = deque(maxlen=limit)
    for letter in _letters_of(sink):
        if (stage is None or letter.stage == stage) and (agent is None or letter.agent_id == agent):
            kept.append(letter)
    kept.reverse()
    return list(kept)


def find_letter(sink: DeadLetterSink, letter_id: str) -> DeadLetter:
    """The dead letter ``letter_id`` (the last record of it); 404 if there is none."""
    found: DeadLetter | None = None
    for letter in _letters_of(sink):
        if letter.dead_letter_id == letter_id:
            found = letter
    if found is None:
        raise HTTPException(404, detail=f"no dead letter with id {letter_id!r}")
    return found


def replayed_event(letter: DeadLetter) -> AgentEvent:
    """The event to publish for ``letter``: its event (or its raw bytes decoded) anew."""
    event = letter.event
    if event is None:
        try:
            event = decode_event(letter.raw or b"")
        except Exception as error:  # the decoder's reason, whatever its type
            raise HTTPException(
                422,
                detail=(
                    f"dead letter {letter.dead_letter_id} holds raw bytes that still do "
                    f"not decode into an event: {error}"
                ),
            ) from None
    return event.model_copy(update={"event_id": new_id(), "retry_count": 0})


def _summary(letter: DeadLetter) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(letter.model_dump_json(exclude={"raw"}))
    except ValueError as error:  # an event made in Python with text JSON cannot hold
        data = json.loads(letter.model_dump_json(exclude={"raw", "event"}))
        event = letter.event
        data["event"] = {"event_id": event and event.event_id, "unwritable": str(error)}
    if letter.raw is not None:
        data["raw_text"] = letter.raw.decode("utf-8", errors="replace")
    return data


@router.get("/dead-letters", dependencies=[Depends(require(Scope.READ))])
async def dead_letters(
    request: Request,
    stage: Annotated[FailureStage | None, Query(description="Only this failure stage.")] = None,
    agent: Annotated[str | None, Query(max_length=500, description="Only this agent id.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many.")] = 100,
) -> dict[str, Any]:
    """The pipeline's dead letters, newest first (raw bytes shown as text, ``raw_text``)."""
    pipeline: Pipeline = request.app.state.reagents.pipeline
    sink = pipeline.dead_letter_sink
    letters = await asyncio.to_thread(list_letters, sink, stage=stage, agent=agent, limit=limit)
    return {"sink": sink.describe(), "letters": [_summary(letter) for letter in letters]}


@router.post(
    "/dead-letters/{letter_id}/replay",
    status_code=202,
    dependencies=[Depends(require(Scope.ADMIN))],
)
async def replay(request: Request, letter_id: str) -> JSONResponse:
    """Publish the dead letter's event again (new event id, retry count 0): 202."""
    pipeline: Pipeline = request.app.state.reagents.pipeline
    letter = await asyncio.to_thread(find_letter, pipeline.dead_letter_sink, letter_id)
    event = replayed_event(letter)
    if not pipeline.running:
        raise HTTPException(503, detail="the pipeline is not running: nothing to replay into")
    await pipeline.publish_async(event)
    return JSONResponse(
        {"event_id": event.event_id, "replay_of": letter.dead_letter_id, "stage": letter.stage},
        status_code=202,
    )
