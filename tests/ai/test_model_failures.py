"""Model failures that mean something: rate limits and outages retry (a Retry-After
pauses the model in the budget), rejected requests and misbehaving models are
dead-lettered at once with the model, the error class and the request size."""

from __future__ import annotations

import itertools
import time

import pytest
from pydantic_ai.exceptions import (
    ModelHTTPError,
    ModelQuotaExceededError,
    ModelRateLimitError,
    ModelTimeoutError,
    UnexpectedModelBehavior,
    UsageLimitExceeded,
)
from pydantic_ai.messages import ModelMessage, ModelResponse
from pydantic_ai.models.function import AgentInfo, FunctionModel

from reagents import AgentEvent, MemoryDeadLetters, Pipeline
from reagents.ai import LLMAgent, PermanentModelError, TransientModelError
from reagents.ai.errors import classify, retry_after
from tests.ai.models import FAST, FakeBudget, Verdict, failing, run_events


def pipeline_failing_with(
    error: Exception, budget: FakeBudget | None = None
) -> tuple[Pipeline, list[int]]:
    attempts: list[int] = []
    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    model = failing(lambda: error, attempts)
    pipeline.add_agent(
        LLMAgent(model, id="analyst", output_type=Verdict, retry=FAST, budget=budget)
    )
    return pipeline, attempts


JOB = AgentEvent(event_type="job", payload={"text": "x" * 40})


async def test_a_429_with_retry_after_pauses_the_model_and_is_retried() -> None:
    budget = FakeBudget()
    limited = ModelHTTPError(429, "fake-model", "slow down", headers={"retry-after": "0.01"})
    pipeline, attempts = pipeline_failing_with(limited, budget)
    [letter], _ = await run_events(pipeline, JOB)
    assert attempts == [1, 2, 3, 4]  # retried as the backoff says, then dead-lettered
    assert budget.pauses == [("fake-model", 0.01)] * 4
    assert letter.error_type == "TransientModelError"


async def test_a_retry_after_holds_the_retry_even_without_a_budget() -> None:
    attempts: list[float] = []

    def limited(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        attempts.append(time.monotonic())
        raise ModelHTTPError(429, "fake-model", headers={"retry-after": "0.05"})

    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(LLMAgent(FunctionModel(limited), id="analyst", retry=FAST))
    await run_events(pipeline, JOB)
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert len(gaps) == 3
    assert min(gaps) >= 0.045  # the backoff alone would wait 1 ms


async def test_a_503_is_retried() -> None:
    pipeline, attempts = pipeline_failing_with(ModelHTTPError(503, "fake-model", "overloaded"))
    [letter], _ = await run_events(pipeline, JOB)
    assert len(attempts) == 4
    assert letter.attempts == 4


async def test_a_401_is_dead_lettered_at_once_naming_model_error_and_size() -> None:
    pipeline, attempts = pipeline_failing_with(ModelHTTPError(401, "fake-model", "bad key"))
    [letter], _ = await run_events(pipeline, JOB)
    assert attempts == [1]
    assert letter.attempts == 1
    assert letter.error_type == "PermanentModelError"
    assert "model 'fake-model' failed with ModelHTTPError" in letter.message
    assert "prompt characters" in letter.message
    assert "tokens" in letter.message
    assert letter.message.endswith("(not retried: no_retry lists PermanentModelError)")
    agent = pipeline.get_agent("analyst")
    assert isinstance(agent, LLMAgent)
    assert (agent.usage.calls, agent.usage.failures) == (1, 1)


async def test_a_model_that_keeps_misbehaving_is_dead_lettered_at_once() -> None:
    error = UnexpectedModelBehavior("Exceeded maximum retries (1) for output validation")
    pipeline, attempts = pipeline_failing_with(error)
    [letter], _ = await run_events(pipeline, JOB)
    assert attempts == [1]
    assert "UnexpectedModelBehavior" in letter.message


async def test_the_agents_own_no_retry_still_counts() -> None:
    attempts: list[int] = []
    model = failing(lambda: KeyError("k"), attempts)
    pipeline = Pipeline("desk", dead_letters=MemoryDeadLetters())
    pipeline.add_agent(LLMAgent(model, id="analyst", retry=FAST, no_retry=KeyError))
    [letter], _ = await run_events(pipeline, JOB)
    assert attempts == [1]  # not a model error: raised as it is, and not retried
    assert letter.error_type == "KeyError"


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (ModelHTTPError(429, "m"), TransientModelError),
        (ModelHTTPError(500, "m"), TransientModelError),
        (ModelHTTPError(408, "m"), TransientModelError),
        (ModelTimeoutError("m", "read timeout"), TransientModelError),
        (TimeoutError("slow"), TransientModelError),
        (ConnectionError("reset"), TransientModelError),
        (ModelHTTPError(400, "m", "context_length_exceeded"), PermanentModelError),
        (ModelHTTPError(403, "m"), PermanentModelError),
        (
            ModelHTTPError.for_category(ModelQuotaExceededError, status_code=429, model_name="m"),
            PermanentModelError,  # out of credits: waiting will not help
        ),
        (
            ModelHTTPError.for_category(ModelRateLimitError, status_code=429, model_name="m"),
            TransientModelError,
        ),
        (UsageLimitExceeded("request_limit of 1 exceeded"), PermanentModelError),
        (UnexpectedModelBehavior("bad output"), PermanentModelError),
    ],
)
def test_errors_are_classified(error: Exception, kind: type[Exception]) -> None:
    classified = classify(error, "m", "10 prompt characters")
    assert type(classified) is kind


def test_other_errors_are_not_model_errors() -> None:
    assert classify(ValueError("a bug in a tool"), "m", "1 prompt character") is None


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # in the past
        ({"retry-after": "soon"}, None),
        ({}, None),
    ],
)
def test_retry_after_reads_seconds_and_dates(
    headers: dict[str, str], seconds: float | None
) -> None:
    assert retry_after(ModelHTTPError(429, "m", headers=headers)) == seconds
