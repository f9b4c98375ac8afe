"""Every shape a handler may return, typed as a `Handler` and turned into events."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import reactivex

from reagents.events import AgentEvent, AgentResponse
from reagents.sinks.outputs import RESPONSE_TYPE, Handler, collect_outputs

CAUSE = AgentEvent(event_type="ask", payload={"n": 1})


def nothing(event: AgentEvent) -> None:
    return None


def one_event(event: AgentEvent) -> AgentEvent:
    return event.derive("answer", {"n": 2})


def a_dict(event: AgentEvent) -> dict[str, object]:
    return {"ok": True}


def a_response(event: AgentEvent) -> AgentResponse:
    return AgentResponse(original_event_id=event.event_id, agent_id="me", result={"ok": 1})


def a_list(event: AgentEvent) -> list[AgentEvent]:
    return [event.derive("a", {}), event.derive("b", {})]


def a_generator(event: AgentEvent) -> Iterator[AgentEvent | dict[str, int]]:
    yield event.derive("a", {})
    yield {"n": 3}


async def a_coroutine(event: AgentEvent) -> list[dict[str, str]]:
    return [{"x": "1"}, {"x": "2"}]


async def an_async_generator(event: AgentEvent) -> AsyncIterator[AgentEvent]:
    for name in ("a", "b"):
        yield event.derive(name, {})


def an_observable(event: AgentEvent) -> reactivex.Observable[AgentEvent]:
    return reactivex.of(event.derive("a", {}), event.derive("b", {}))


async def an_awaited_observable(event: AgentEvent) -> reactivex.Observable[AgentEvent]:
    return reactivex.of(event.derive("a", {}))


HANDLERS: dict[str, tuple[Handler, list[str]]] = {
    "nothing": (nothing, []),
    "one_event": (one_event, ["answer"]),
    "a_dict": (a_dict, [RESPONSE_TYPE]),
    "a_response": (a_response, [RESPONSE_TYPE]),
    "a_list": (a_list, ["a", "b"]),
    "a_generator": (a_generator, ["a", RESPONSE_TYPE]),
    "a_coroutine": (a_coroutine, [RESPONSE_TYPE, RESPONSE_TYPE]),
    "an_async_generator": (an_async_generator, ["a", "b"]),
    "an_observable": (an_observable, ["a", "b"]),
    "an_awaited_observable": (an_awaited_observable, ["a"]),
}


@pytest.mark.parametrize("name", sorted(HANDLERS))
async def test_each_result_shape_becomes_stamped_events(name: str) -> None:
    handler, types = HANDLERS[name]
    outputs = await collect_outputs(handler(CAUSE), CAUSE, "me")
    assert [e.event_type for e in outputs] == types
    assert all(e.source_agent == "me" and e.causation_id == CAUSE.event_id for e in outputs)


async def test_a_result_of_another_type_is_refused() -> None:
    with pytest.raises(TypeError, match="returned int"):
        await collect_outputs(42, CAUSE, "me")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="produced str inside its result"):
        await collect_outputs(["text"], CAUSE, "me")  # type: ignore[list-item]
