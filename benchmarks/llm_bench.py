"""What an LLM agent costs besides the model, and how a budget paces it.

    python benchmarks/llm_bench.py [--calls N] [--rounds K]

1. Overhead per call: the same TestModel call through pydantic-ai's own ``Agent.run``
   (the ceiling) and through ``LLMAgent.react`` (prompt, budget lease, usage, the
   reaction event), in interleaved rounds; CPU µs per call, min/median/max.
2. Pacing: 1,000 events at once through ten LLM agents sharing one
   ``ModelBudget(requests_per_minute=600)``, in virtual time (the model answers in
   50 ms): model calls per second against the budget's 10/s, and without a budget.
Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time

from pydantic import BaseModel
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from rich.console import Console
from rich.table import Table

from reagents import AgentEvent, MemoryDeadLetters, MemorySource, ModelBudget, Pipeline
from reagents.ai import LLMAgent
from reagents.testing import run_in_virtual_time


class Verdict(BaseModel):
    label: str
    confidence: float


def spread(values: list[float], fmt: str) -> str:
    low, mid, high = min(values), statistics.median(values), max(values)
    return f"{low:{fmt}}/{mid:{fmt}}/{high:{fmt}}"


async def per_call_us(calls: int, through_reagents: bool) -> float:
    """CPU µs per call, through `LLMAgent.react` or pydantic-ai's `Agent.run`."""
    event = AgentEvent(event_type="tick", payload={"symbol": "AAPL", "price": 241.5})
    agent = LLMAgent(TestModel(), id="analyst", output_type=Verdict)
    direct = PydanticAgent(TestModel(), output_type=Verdict)
    prompt = event.payload_json
    gc.collect()
    started = time.process_time()
    for _ in range(calls):
        if through_reagents:
            await agent.react(event)
        else:
            await direct.run(prompt)
    return (time.process_time() - started) / calls * 1e6


def timed_model(starts: list[float]) -> FunctionModel:
    async def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        starts.append(asyncio.get_running_loop().time())
        await asyncio.sleep(0.05)  # the model thinking
        args = {"label": "ok", "confidence": 0.9}
        return ModelResponse(parts=[ToolCallPart(info.output_tools[0].name, args)])

    return FunctionModel(answer, model_name="bench-model")


async def paced(events: int, budgeted: bool) -> list[float]:
    """Model call start times for ``events`` events through ten (budgeted) agents."""
    starts: list[float] = []
    budget = ModelBudget(requests_per_minute=600, clock=asyncio.get_running_loop().time)
    pipeline = Pipeline("desks", dead_letters=MemoryDeadLetters())
    model = timed_model(starts)
    for desk in range(10):
        pipeline.add_agent(
            LLMAgent(
                model,
                id=f"desk{desk}",
                output_type=Verdict,
                subscription=f"type = ticket AND payload.desk = {desk}",
                budget=budget if budgeted else None,
                max_concurrent=4,
            )
        )
    tickets = [AgentEvent(event_type="ticket", payload={"desk": n % 10}) for n in range(events)]
    pipeline.add_source(MemorySource.from_events(tickets))
    await pipeline.run()
    return starts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    console = Console(width=80)

    direct: list[float] = []
    through: list[float] = []
    for _ in range(args.rounds):  # interleaved: the machine's noise hits both alike
        direct.append(asyncio.run(per_call_us(args.calls, through_reagents=False)))
        through.append(asyncio.run(per_call_us(args.calls, through_reagents=True)))
    extra = [t - d for d, t in zip(direct, through, strict=True)]
    table = Table("per call (TestModel)", "CPU µs min/median/max", title="LLMAgent overhead")
    table.add_row("pydantic-ai Agent.run (ceiling)", spread(direct, ",.0f"))
    table.add_row("LLMAgent.react", spread(through, ",.0f"))
    table.add_row("added by reagents", spread(extra, ",.0f"))
    console.print(table)

    pacing = Table("1,000 events, 10 agents", "calls/s", "most in any 60 s", title="Budget")
    for label, budgeted in (("no budget", False), ("ModelBudget(600/min)", True)):
        starts = run_in_virtual_time(paced(1000, budgeted))
        span = max(starts) - min(starts)
        rate = (len(starts) - 1) / span if span else float("inf")
        window = max(sum(1 for t in starts if s <= t < s + 60) for s in starts)
        pacing.add_row(label, f"{rate:,.1f}", f"{window:,}")
    console.print(pacing)
    console.print("budget limit: 600 requests/minute = 10.0 calls/s (virtual time)")


if __name__ == "__main__":
    main()
