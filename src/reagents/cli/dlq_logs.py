"""Where ``reagents dlq`` reads dead letters from, and which of them are resolved.

A dead-letter log is a JSONL file written by `JsonlDeadLetterLog`, or the Kafka topic a
`KafkaDeadLetterSink` writes (one `DeadLetter` JSON per record). Both are read into one
`Letters` value; input in which no record is a dead letter (an event log given by
mistake) is refused with one line instead of one warning per record.

Replayed letters are marked resolved in a sidecar file, ``<log>.resolved``: one
dead-letter id a line, appended (and synced) only after the replay finished. The log
itself is never rewritten, and a crash between the replay and the mark leaves the
letters unresolved, so they are replayed again: at-least-once, never lost.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from reagents.cli.console import CliError
from reagents.dead_letter import DeadLetter
from reagents.errors import describe_validation_error
from reagents.events import decode_event
from reagents.kafka.config import KafkaConfig, require_aiokafka

__all__ = [
    "Letters",
    "mark_resolved",
    "parse_records",
    "read_log",
    "read_topic",
    "resolved_ids",
    "resolved_path",
]

Record = tuple[str, bytes]
"""A record's label (``file:line``, ``topic[partition]@offset``) and its bytes."""


@dataclass(frozen=True)
class Letters:
    """The dead letters read from ``where``, and what was skipped (not dead letters)."""

    where: str
    letters: list[DeadLetter]
    skipped: int = 0
    first_problem: str | None = None


def parse_records(records: Iterable[Record], where: str) -> Letters:
    """The dead letters among ``records`` (blank ones ignored).

    Raises:
        CliError: not one record is a dead letter (say, an event log): one line that
            names the first bad record and why.
    """
    letters: list[DeadLetter] = []
    skipped = 0
    first_problem: str | None = None
    is_event_log = False
    for label, raw in records:
        if not raw.strip():
            continue
        try:
            letters.append(DeadLetter.model_validate_json(raw))
        except ValidationError as error:
            skipped += 1
            if first_problem is None:
                first_problem = f"{label}: {describe_validation_error(error)}"
                is_event_log = _is_event(raw)
    if skipped and not letters:
        if is_event_log:
            raise CliError(
                f"{where} is not a dead-letter log: it holds events (replay an event log "
                "with `reagents replay`)"
            )
        raise CliError(f"{where} is not a dead-letter log ({_short(first_problem or '')})")
    return Letters(where, letters, skipped, first_problem)


def read_log(path: Path) -> Letters:
    """The dead letters of the JSONL log ``path`` (see `parse_records`)."""
    if not path.is_file():
        raise CliError(f"dead-letter log {str(path)!r} does not exist")
    try:
        with open(path, "rb") as file:
            return parse_records(
                ((f"{path}:{n}", line) for n, line in enumerate(file, start=1)), str(path)
            )
    except OSError as error:
        raise CliError(f"cannot read {str(path)!r} ({error.strerror})") from None


def read_topic(topic: str, config: KafkaConfig, idle: float = 1.0) -> Letters:
    """The dead letters of the Kafka topic ``topic``, from the beginning of every partition.

    No consumer group (nothing is committed); it ends once no record came for ``idle``
    seconds (the embedded broker's end offsets cannot be trusted).
    """
    where = f"Kafka topic {topic!r}"
    return parse_records(asyncio.run(_fetch(topic, config, idle)), where)


async def _fetch(topic: str, config: KafkaConfig, idle: float) -> list[Record]:
    aiokafka = require_aiokafka()
    structs = require_aiokafka("structs")
    consumer = aiokafka.AIOKafkaConsumer(
        **config.consumer_options(), group_id=None, auto_offset_reset="earliest"
    )
    await config.start_client(consumer.start, consumer.stop, f"dlq list {topic}")
    records: list[Record] = []
    try:
        if topic not in await consumer.topics():  # a call to the cluster: fresh metadata
            raise CliError(f"Kafka topic {topic!r} does not exist at {config.bootstrap_servers}")
        partitions = consumer.partitions_for_topic(topic) or {0}
        consumer.assign([structs.TopicPartition(topic, p) for p in sorted(partitions)])
        await consumer.seek_to_beginning()
        last = time.monotonic()
        while time.monotonic() - last < idle:
            batches = await consumer.getmany(timeout_ms=int(min(idle, 0.5) * 1000))
            for part, batch in batches.items():
                for record in batch:
                    label = f"{topic}[{part.partition}]@{record.offset}"
                    records.append((label, record.value or b""))
                last = time.monotonic()
    finally:
        await consumer.stop()
    return records


def resolved_path(log: Path) -> Path:
    """The sidecar file listing the resolved dead-letter ids of ``log``."""
    return log.with_name(log.name + ".resolved")


def resolved_ids(log: Path) -> set[str]:
    """The ids marked resolved for ``log`` (none when the sidecar does not exist)."""
    try:
        text = resolved_path(log).read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    return {line.strip() for line in text.splitlines() if line.strip()}


def mark_resolved(log: Path, ids: Iterable[str]) -> int:
    """Append ``ids`` (the new ones) to the sidecar of ``log``, synced; return how many.

    Call it only after the letters were replayed: a crash before it leaves them
    unresolved (replayed again next time), never resolved without a replay.
    """
    done = resolved_ids(log)
    new = [i for i in dict.fromkeys(ids) if i not in done]
    if new:
        path = resolved_path(log)
        torn = path.is_file() and not path.read_bytes().endswith(b"\n") and path.stat().st_size
        with open(path, "a", encoding="utf-8") as file:  # a torn last line stays apart
            file.write(("\n" if torn else "") + "".join(f"{i}\n" for i in new))
            file.flush()
            os.fsync(file.fileno())
    return len(new)


def _is_event(raw: bytes) -> bool:
    try:
        decode_event(raw)
    except Exception:  # any decode failure: not an event
        return False
    return True


def _short(text: str, limit: int = 160) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
