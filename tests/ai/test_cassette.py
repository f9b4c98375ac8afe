"""Cassettes: a recorded run replays to the same reactions without calling the model,
a request missing from the cassette dead-letters at once naming its fingerprint, and
fingerprints are the same in every process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.tools import ToolDefinition

from reagents import AgentEvent, MemoryDeadLetters, Pipeline
from reagents.ai import Cassette, CassetteMissError, LLMAgent, fingerprint
from reagents.dead_letter import DeadLetter
from reagents.errors import ConfigurationError
from reagents.events import encode_event
from tests.ai.models import Verdict, run_events


def tick(n: int) -> AgentEvent:
    return AgentEvent(event_type="tick", payload={"n": n})


def price(symbol: str) -> float:
    """The price of a symbol (a tool the model calls)."""
    return 101.5 if symbol == "ACME" else 7.0


def looking_up(calls: list[int]) -> FunctionModel:
    """A model that first calls the price tool, then answers from the tool's return."""

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        calls.append(len(messages))
        last = messages[-1]
        returned = [p for p in last.parts if isinstance(p, ToolReturnPart)]
        if not returned:
            return ModelResponse(parts=[ToolCallPart("price", {"symbol": "ACME"})])
        args = {"label": f"at {returned[0].content}", "confidence": len(calls) / 10}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, args)])

    return FunctionModel(answer, model_name="fake-model")


def refusing() -> FunctionModel:
    """A model that must never be called."""

    def fail(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        raise AssertionError("the model was called during a replay")

    return FunctionModel(fail, model_name="fake-model")


async def react_through(
    model: FunctionModel, cassette: Cassette, *events: AgentEvent
) -> tuple[list[DeadLetter], list[AgentEvent]]:
    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(
        LLMAgent(
            model,
            id="analyst",
            output_type=Verdict,
            tools=[price],
            cassette=cassette,
            subscription="type = tick",
        )
    )
    letters, seen = await run_events(pipeline, *events)
    replies = [e for e in seen if e.source_agent == "analyst"]
    return letters, replies


def without_ids(event: AgentEvent) -> dict[str, object]:
    encoded = json.loads(encode_event(event))
    return {k: v for k, v in encoded.items() if k not in ("event_id", "timestamp")}


async def test_a_replay_reacts_exactly_as_the_recording_without_the_model(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    events = [tick(1), tick(2)]
    calls: list[int] = []
    letters, recorded = await react_through(looking_up(calls), Cassette(path, "record"), *events)
    assert letters == []
    assert len(calls) == 4  # two calls an event: the tool call, then the answer
    assert len(path.read_text().splitlines()) == 4
    letters, replayed = await react_through(refusing(), Cassette(path, "replay"), *events)
    assert letters == []
    assert [r.event_type for r in replayed] == [r.event_type for r in recorded] == ["verdict"] * 2
    assert [json.dumps(r.payload) for r in replayed] == [json.dumps(r.payload) for r in recorded]
    assert [without_ids(r) for r in replayed] == [without_ids(r) for r in recorded]


async def test_auto_replays_what_it_has_and_records_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    calls: list[int] = []
    await react_through(looking_up(calls), Cassette(path, "auto"), tick(1))
    assert len(calls) == 2
    await react_through(looking_up(calls), Cassette(path, "auto"), tick(1), tick(2))
    assert len(calls) == 4  # tick 1 replayed, tick 2 recorded
    assert len(Cassette(path, "replay")) == 4


async def test_a_miss_dead_letters_at_once_naming_the_fingerprint(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    await react_through(looking_up([]), Cassette(path, "record"), tick(1))
    letters, replies = await react_through(refusing(), Cassette(path, "replay"), tick(2))
    assert replies == []
    [letter] = letters
    assert (letter.attempts, letter.error_type) == (1, "PermanentModelError")
    assert "CassetteMissError" in letter.message
    missed = letter.message.split("no recorded response for request ")[1].split()[0]
    assert len(missed) == 64
    assert missed not in Cassette(path, "replay")


def test_replaying_needs_a_cassette_and_a_known_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no cassette"):
        Cassette(tmp_path / "absent.jsonl", "replay")
    with pytest.raises(ConfigurationError, match="mode"):
        Cassette(tmp_path / "run.jsonl", "play")  # type: ignore[arg-type]
    error = CassetteMissError("abc", "run.jsonl")
    assert error.fingerprint == "abc"
    assert "abc" in str(error)


FINGERPRINT_SCRIPT = """
from pydantic_ai.messages import ModelRequest, ModelResponse, ToolCallPart, UserPromptPart
from pydantic_ai.models import ModelRequestParameters
from pydantic_ai.tools import ToolDefinition
from reagents.ai import fingerprint

tool = ToolDefinition(name="final_result", parameters_json_schema={"type": "object"})
messages = [
    ModelRequest(parts=[UserPromptPart("hi")], instructions="be brief"),
    ModelResponse(parts=[ToolCallPart("look", {"a": 1})]),
]
print(fingerprint("fake-model", messages, ModelRequestParameters(output_tools=[tool])))
"""


def test_a_fingerprint_is_the_same_in_every_process() -> None:
    outputs = {
        subprocess.run(
            [sys.executable, "-c", FINGERPRINT_SCRIPT],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    tool = ToolDefinition(name="final_result", parameters_json_schema={"type": "object"})
    messages: list[ModelMessage] = [
        ModelRequest(parts=[UserPromptPart("hi")], instructions="be brief"),
        ModelResponse(parts=[ToolCallPart("look", {"a": 1})]),
    ]
    here = fingerprint("fake-model", messages, ModelRequestParameters(output_tools=[tool]))
    assert outputs == {here}
    other = [ModelRequest(parts=[UserPromptPart("hello")], instructions="be brief")]
    assert fingerprint("fake-model", other, ModelRequestParameters()) != here
