"""Ten LLM agents share one `ModelBudget` through a real pipeline, in virtual time.

A burst of 1,000 events reaches the agents at once; the budget, not the burst, sets
the pace of model calls: 600 requests a minute gives about 10 calls a second. A 429
with Retry-After pauses every agent calling that model.
"""

from __future__ import annotations

import asyncio

from pydantic_ai.exceptions import ModelHTTPError
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from reagents import AgentEvent, MemoryDeadLetters, MemorySink, MemorySource, ModelBudget, Pipeline
from reagents.ai import LLMAgent
from reagents.policies import Backoff
from reagents.testing import run_in_virtual_time
from tests.ai.models import Verdict
from tests.policies.test_budget import most_in_any_window

DESKS = 10


def timed_model(starts: list[float], fail_first_with: Exception | None = None) -> FunctionModel:
    """A model that notes the loop time of each call (and may fail the first)."""

    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        starts.append(asyncio.get_running_loop().time())
        if fail_first_with is not None and len(starts) == 1:
            raise fail_first_with
        args = {"label": "ok", "confidence": 0.9}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, args)])

    return FunctionModel(answer, model_name="fake-model")


async def burst_through_budget(
    events: int, starts: list[float], fail_first_with: Exception | None = None
) -> tuple[int, int]:
    """Run ``events`` tickets through ten budgeted agents; return (reactions, letters)."""
    budget = ModelBudget(requests_per_minute=600, clock=asyncio.get_running_loop().time)
    model = timed_model(starts, fail_first_with)
    letters = MemoryDeadLetters()
    replies = MemorySink(subscription="type = verdict")
    pipeline = Pipeline("desks", dead_letters=letters)
    pipeline.add_sink(replies)
    for desk in range(DESKS):
        pipeline.add_agent(
            LLMAgent(
                model,
                id=f"desk{desk}",
                output_type=Verdict,
                subscription=f"type = ticket AND payload.desk = {desk}",
                budget=budget,
                max_concurrent=4,
                retry=Backoff(max_retries=3, initial=0.01, jitter=0),
            )
        )
    tickets = [
        AgentEvent(event_type="ticket", payload={"desk": n % DESKS, "n": n}) for n in range(events)
    ]
    pipeline.add_source(MemorySource.from_events(tickets))
    await pipeline.run()
    return len(replies.events), len(letters)


def test_a_burst_of_1000_events_is_paced_at_the_budget_not_the_burst() -> None:
    starts: list[float] = []
    reactions, letters = run_in_virtual_time(burst_through_budget(1000, starts))
    assert (reactions, letters) == (1000, 0)
    assert most_in_any_window(starts, 60.0) <= 600 + 10  # the bucket holds 1 s of burst
    rate = (len(starts) - 1) / (max(starts) - min(starts))
    assert 9.5 <= rate <= 10.5, f"{rate:.2f} calls/s"


def test_a_429_with_retry_after_pauses_every_agent_on_that_model() -> None:
    starts: list[float] = []
    limited = ModelHTTPError(429, "fake-model", "slow down", headers={"retry-after": "5"})
    reactions, letters = run_in_virtual_time(burst_through_budget(50, starts, limited))
    assert (reactions, letters) == (50, 0)  # the limited call was retried
    limited_at = starts[0]
    in_flight_then = [t for t in starts if t == limited_at]  # admitted with it, in the burst
    after = sorted(t for t in starts if t > limited_at)
    assert len(in_flight_then) <= 10  # one second of burst
    assert after, "no call after the pause"
    assert after[0] >= limited_at + 5  # nobody called the model during the pause
    assert after[0] <= limited_at + 5 * 1.1 + 0.1  # the pause plus at most its jitter
