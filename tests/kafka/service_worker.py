"""A service process for the Kafka collaboration tests: agents that answer requests.

    python -m tests.kafka.service_worker {pricer,shop} BOOTSTRAP REQUESTS RESPONSES GROUP STATE

It consumes REQUESTS as consumer group GROUP, hands each event to the agent it is
addressed to, and writes every answer of its agents to RESPONSES. On SIGTERM it stops
reading, drains, commits and writes its final state to STATE (JSON). Services:

* ``pricer``: agent ``pricer`` answers ``{"n", "price", "pid"}`` after a short random
  delay; agent ``broken`` always raises (its requester gets an ``agent_error``).
* ``shop``: the e-commerce agents of ``examples/ecommerce.py`` (``inventory``,
  ``payment``, ``shipping``, each `idempotent`) plus agent ``shop``, which answers
  with the shop's state (stock, card spend, reservations, shipments).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
from collections.abc import Callable
from typing import Any

from reagents.events import AgentEvent
from reagents.kafka import KafkaConfig
from reagents.operators import addressed_only
from reagents.patterns.idempotency import MemoryIdempotencyStore, idempotent
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Backoff
from reagents.sinks.agent import Agent
from reagents.sinks.kafka import KafkaSink
from reagents.sinks.memory import MemoryDeadLetters
from reagents.sources.kafka import KafkaSource
from tests.examples import load_example

NO_RETRY = Backoff(max_retries=0)
State = Callable[[], dict[str, Any]]


def price_of(n: int) -> int:
    """What the pricer answers for ``n`` (the test computes it too)."""
    return n * n + 7


def pricer_agents() -> tuple[list[Agent], State]:
    handled = {"pricer": 0, "broken": 0}

    async def pricer(event: AgentEvent) -> dict[str, Any]:
        await asyncio.sleep(random.uniform(0.0, 0.05))  # answers come back out of order
        handled["pricer"] += 1
        n = event.payload["n"]
        return {"n": n, "price": price_of(n), "pid": os.getpid()}

    def broken(event: AgentEvent) -> None:
        handled["broken"] += 1
        raise ValueError(f"no price list for {event.payload.get('sku')!r}")

    agents = [
        Agent(pricer, id="pricer", subscription=addressed_only(), max_concurrent=8),
        Agent(broken, id="broken", subscription=addressed_only(), retry=NO_RETRY),
    ]
    return agents, lambda: {"handled": dict(handled)}


def shop_agents() -> tuple[list[Agent], State]:
    shop = load_example("ecommerce")
    inventory = shop.Inventory(dict(shop.STOCK))
    payments = shop.Payments(dict(shop.CARD_LIMITS))
    shipping = shop.Shipping(shop.SHIPS_TO)

    def state() -> dict[str, Any]:
        return {
            "stock": inventory.stock,
            "reservations": inventory.reservations,
            "spent": payments.spent,
            "shipments": shipping.shipments,
        }

    agents = [
        Agent(
            idempotent(handler, MemoryIdempotencyStore()),
            id=agent_id,
            subscription=addressed_only(),
        )
        for agent_id, handler in [
            ("inventory", inventory.handle),
            ("payment", payments.handle),
            ("shipping", shipping.handle),
        ]
    ]
    agents.append(Agent(lambda _: state(), id="shop", subscription=addressed_only()))
    return agents, state


async def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("service", choices=["pricer", "shop"])
    for name in ("bootstrap", "requests", "responses", "group", "state"):
        parser.add_argument(name)
    args = parser.parse_args(argv)
    config = KafkaConfig(
        bootstrap_servers=args.bootstrap, session_timeout_ms=10_000, heartbeat_interval_ms=1_000
    )
    agents, state = pricer_agents() if args.service == "pricer" else shop_agents()
    ids = ", ".join(f"'{agent.id}'" for agent in agents)
    pipeline = Pipeline(
        f"{args.service}-service",
        sources=[
            KafkaSource(args.requests, group_id=args.group, config=config, commit_interval=0.2)
        ],
        agents=agents,
        # only the agents' answers go back, never the requests the service consumed
        sinks=[KafkaSink(args.responses, f"source IN ({ids})", config=config)],
        dead_letters=MemoryDeadLetters(),
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, pipeline.request_stop)
    await pipeline.run(forever=True)
    with open(args.state, "w") as out:
        json.dump(state(), out)
    print(f"stopped: {pipeline.stats()}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
