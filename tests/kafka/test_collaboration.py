"""Request/response and sagas across processes: the agents run in a service over Kafka.

The test process runs a requester pipeline with no agents: every event addressed to an
agent goes to the ``requests`` topic (a `KafkaSink` on ``target``), and the
``responses`` topic comes back in through a `KafkaSource`, where `Pipeline.request`
matches each answer to its request by ``causation_id``. The agents run in another
process (``tests/kafka/service_worker.py``) that consumes ``requests`` as its own group
and writes its answers to ``responses``.

The requester reads ``responses`` without a group, from the earliest offset: every
requester must see the answers to its own requests (a shared group would hand some to
another requester), and starting at the earliest offset means an answer written before
its partitions were assigned is not missed; answers to someone else's (or older)
requests match no waiting request and are simply acknowledged.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from reagents.events import AgentEvent
from reagents.kafka import KafkaConfig
from reagents.patterns.saga import SagaCoordinator
from reagents.patterns.saga_store import Action, Phase, SagaStatus
from reagents.pipelines.pipeline import Pipeline
from reagents.pipelines.requests import AgentRequestError, RequestTimeoutError
from reagents.sinks.kafka import KafkaSink
from reagents.sinks.memory import MemoryDeadLetters, MemorySink
from reagents.sinks.outputs import RESPONSE_TYPE
from reagents.sources.kafka import KafkaSource
from tests.examples import load_example
from tests.kafka.conftest import create_topic
from tests.kafka.service_worker import price_of

pytestmark = [pytest.mark.kafka, pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
ecommerce = load_example("ecommerce")


class Service:
    """A service process (``tests.kafka.service_worker``) and the files it writes."""

    def __init__(self, kind: str, config: KafkaConfig, topic: str, folder: Path) -> None:
        self.log = folder / f"{kind}.log"
        self.state_file = folder / f"{kind}.json"
        command = [sys.executable, "-m", "tests.kafka.service_worker", kind]
        command += [config.bootstrap_servers, f"{topic}_requests", f"{topic}_responses"]
        command += [f"{topic}_{kind}", str(self.state_file)]
        env = {**os.environ, "PYTHONWARNINGS": "error"}
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=log)

    async def stop(self, timeout: float = 30) -> dict[str, Any]:
        """SIGTERM, wait for a clean exit, and return the state the service wrote."""
        self.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert self.process.returncode == 0, self.log.read_text()
        state: dict[str, Any] = json.loads(self.state_file.read_text())
        return state

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


async def requester(config: KafkaConfig, topic: str, *sinks: MemorySink) -> Pipeline:
    """A pipeline whose addressed events go to ``requests`` and that reads ``responses``."""
    requests = await create_topic(config, f"{topic}_requests", partitions=3)
    responses = await create_topic(config, f"{topic}_responses", partitions=3)
    return Pipeline(
        "requester",
        sources=[KafkaSource(responses, group_id=None, config=config, start="earliest")],
        sinks=[KafkaSink(requests, "target", config=config), *sinks],
        dead_letters=MemoryDeadLetters(),
    )


async def test_requests_are_answered_by_agents_in_another_process(
    kafka_config: KafkaConfig, topic_name: str, tmp_path: Path
) -> None:
    pipeline = await requester(kafka_config, topic_name)
    service = Service("pricer", kafka_config, topic_name, tmp_path)
    try:
        async with pipeline.serving():
            answers = await asyncio.gather(
                *(
                    pipeline.request("pricer", {"n": n}, event_type="price.request", timeout=30)
                    for n in range(30)
                )
            )
            with pytest.raises(AgentRequestError, match="ValueError: no price list") as failed:
                await pipeline.request("broken", {"sku": "lamp"}, timeout=30)
            state = await service.stop()
            with pytest.raises(RequestTimeoutError):
                await pipeline.request("pricer", {"n": 99}, event_type="price.request", timeout=1)
    finally:
        service.kill()

    results = [answer.payload["result"] for answer in answers]
    assert [r["n"] for r in results] == list(range(30))
    assert [r["price"] for r in results] == [price_of(n) for n in range(30)]
    assert {r["pid"] for r in results} == {service.process.pid} != {os.getpid()}
    assert {a.event_type for a in answers} == {RESPONSE_TYPE}
    assert {a.source_agent for a in answers} == {"pricer"}
    assert len({a.causation_id for a in answers}) == 30
    answer = failed.value.answer
    assert isinstance(answer, AgentEvent)  # typed `object` by AgentRequestError
    error = answer.payload
    assert (error["agent_id"], error["error_type"], error["attempts"]) == (
        "broken",
        "ValueError",
        1,
    )
    assert state == {"handled": {"pricer": 30, "broken": 1}}


async def test_the_ecommerce_saga_runs_against_a_shop_in_another_process(
    kafka_config: KafkaConfig, topic_name: str, tmp_path: Path
) -> None:
    status_events = MemorySink("type = saga.*", name="saga-status")
    pipeline = await requester(kafka_config, topic_name, status_events)
    # opened from a path, the saga store is the coordinator's to close
    coordinator = SagaCoordinator(pipeline, tmp_path / "sagas.db", [ecommerce.ORDER_SAGA])
    orders: dict[str, dict[str, Any]] = ecommerce.ORDERS
    service = Service("shop", kafka_config, topic_name, tmp_path)
    try:
        async with pipeline.serving():
            # the saga's steps time out after 5 s: wait until the shop has joined its group
            await pipeline.request("shop", event_type="shop.state", timeout=30)
            try:
                records = dict(
                    zip(
                        orders,
                        await asyncio.gather(
                            *(coordinator.run("order", o, saga_id=i) for i, o in orders.items())
                        ),
                        strict=True,
                    )
                )
            finally:
                await coordinator.close()
            shop = (await pipeline.request("shop", event_type="shop.state")).payload["result"]
        final_state = await service.stop()
    finally:
        service.kill()

    statuses = {order_id: record.status for order_id, record in records.items()}
    assert statuses == {
        "order-ok": SagaStatus.COMPLETED,
        "order-declined": SagaStatus.COMPENSATED,
        "order-unshippable": SagaStatus.COMPENSATED,
    }
    assert "declined" in (records["order-declined"].reason or "")
    assert "no delivery to country 'AQ'" in (records["order-unshippable"].reason or "")
    undone = {
        order_id: [
            e.step_id
            for e in record.log
            if (e.phase, e.action) == (Phase.COMPENSATION, Action.DONE)
        ]
        for order_id, record in records.items()
    }
    assert undone == {
        "order-ok": [],
        "order-declined": ["reserve"],
        "order-unshippable": ["charge", "reserve"],
    }
    assert records["order-ok"].results()["ship"] == {"tracking": "TRACK-0001"}

    assert shop == {
        "stock": {"lamp": 8, "desk": 4},
        "reservations": {"order-ok": orders["order-ok"]["items"]},
        "spent": {"visa-1": 340.0},
        "shipments": {"order-ok": "TRACK-0001"},
    }
    assert final_state == shop  # what the service wrote when it shut down
    finals = {
        e.payload["saga_id"]: e.event_type
        for e in status_events.events
        if e.event_type in ("saga.completed", "saga.compensated", "saga.failed")
    }
    assert finals == {
        "order-ok": "saga.completed",
        "order-declined": "saga.compensated",
        "order-unshippable": "saga.compensated",
    }
