"""The other process of the agents-as-tools test: the pricing agent, over Kafka.

    python -m tests.kafka.tools_worker BOOTSTRAP REQUESTS RESPONSES GROUP STATE

It consumes REQUESTS as group GROUP, lets agent ``pricing`` answer what is addressed
to it, and writes its answers to RESPONSES. On SIGTERM it drains, commits and writes
``{"pid", "processed"}`` to STATE (JSON).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

from reagents import MemoryDeadLetters, Pipeline
from reagents.kafka import KafkaConfig
from reagents.sinks.kafka import KafkaSink
from reagents.sources.kafka import KafkaSource
from tests.ai.tools import pricing_agent


async def main(bootstrap: str, requests: str, responses: str, group: str, state: Path) -> None:
    config = KafkaConfig(bootstrap_servers=bootstrap)
    pipeline = Pipeline(
        "pricer",
        sources=[KafkaSource(requests, group_id=group, config=config)],
        agents=[pricing_agent()],
        sinks=[KafkaSink(responses, "source = 'pricing'", config=config)],
        dead_letters=MemoryDeadLetters(),
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, pipeline.request_stop)
    await pipeline.run(forever=True)
    processed = pipeline.stats()["pricing"].processed
    state.write_text(json.dumps({"pid": os.getpid(), "processed": processed}))


if __name__ == "__main__":
    bootstrap, requests, responses, group, state = sys.argv[1:6]
    asyncio.run(main(bootstrap, requests, responses, group, Path(state)))
