"""The checks behind ``/readyz``: the pipeline runs, its sources read, Kafka answers.

Each check gives ``None`` when it passes, else the reason, so a probe's 503 names what
is wrong. A source that ended (a file read to its end) is fine; one that failed or was
stopped is not. For a `KafkaSource` the brokers must answer a metadata request on the
source's own connections within ``timeout`` seconds (one cheap request per probe).
"""

from __future__ import annotations

import asyncio

from reagents.pipelines.pipeline import Pipeline
from reagents.sources.base import Source
from reagents.sources.kafka import KafkaSource

__all__ = ["readiness_checks"]

_SOURCE_OK = {"reading", "ended"}


async def readiness_checks(pipeline: Pipeline, timeout: float = 2.0) -> dict[str, str]:
    """Every check by name, ``ok`` or why it fails (the pipeline first)."""
    if not pipeline.running:
        return {"pipeline": "not running"}
    checks = {"pipeline": "ok"}
    sources = pipeline.sources
    answers = await asyncio.gather(*(_check_source(source, timeout) for source in sources))
    for source, answer in zip(sources, answers, strict=True):
        checks[f"source:{source.name}"] = answer or "ok"
    return checks


async def _check_source(source: Source, timeout: float) -> str | None:
    if source.state not in _SOURCE_OK:
        return source.state
    if isinstance(source, KafkaSource) and source.state == "reading":
        return await source.reachable(timeout)
    return None
