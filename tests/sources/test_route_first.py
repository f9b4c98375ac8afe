"""Sources read each record's route first and ack unread what nobody in the pipeline wants.

What is validated when: every record's JSON is parsed (`read_route`), so a record that is
not JSON, not an object or has no usable ``event_type`` is decoded in full and becomes a
decode dead letter, wanted or not. A record whose route no agent, sink, payload schema,
``Pipeline.events`` observer or awaited answer may want is acked without being built;
the rest of its envelope (priority, timestamp, unknown fields) is not checked. Every
record that reaches an agent or a sink is a fully validated `AgentEvent`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reactivex import operators as ops

from reagents.dead_letter import DeadLetter, FailureStage
from reagents.events import AgentEvent, encode_event
from reagents.pipelines.pipeline import Pipeline
from reagents.schemas import PayloadSchemas
from reagents.sinks.memory import MemoryDeadLetters, MemorySink
from reagents.sources import file as file_module
from reagents.sources._jsonl import Decoder, decode_line
from reagents.sources.file import FileSource

ORDER = AgentEvent(event_type="order", payload={"n": 1})
NEWS = AgentEvent(event_type="news", payload={"headline": "x"})
ADDRESSED_NEWS = AgentEvent(event_type="news", payload={}, target_agents=("orders",))
BAD_PRIORITY_NEWS = b'{"event_type": "news", "priority": 99}'
LINES = [
    encode_event(ORDER),
    encode_event(NEWS),
    b"not json {",
    BAD_PRIORITY_NEWS,
    encode_event(ADDRESSED_NEWS),
    b'{"event_type": "   "}',
    encode_event(NEWS),
    encode_event(ORDER),
]


class CountingDecoder:
    """`decode_line` counted, to see which lines were decoded in full."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.decoded: list[bytes] = []

        def counted(raw: bytes, origin: str, decode: Decoder) -> AgentEvent | DeadLetter:
            self.decoded.append(raw)
            return decode_line(raw, origin, decode)

        monkeypatch.setattr(file_module, "decode_line", counted)


def make_pipeline(
    path: Path, schemas: PayloadSchemas | None = None, validate_all: bool = False
) -> tuple[Pipeline, list[AgentEvent]]:
    path.write_bytes(b"".join(line + b"\n" for line in LINES))
    pipeline = Pipeline(
        "routes", dead_letters=MemoryDeadLetters(), schemas=schemas, validate_all=validate_all
    )
    pipeline.add_source(FileSource(path, checkpoint=False))
    seen: list[AgentEvent] = []

    @pipeline.agent("orders", subscription="type = order")
    def orders(event: AgentEvent) -> None:
        seen.append(event)

    return pipeline, seen


def event_type(event: AgentEvent) -> str:
    return event.event_type


def letters(pipeline: Pipeline) -> list[tuple[FailureStage, str]]:
    dead = pipeline.dead_letter_sink
    assert isinstance(dead, MemoryDeadLetters)
    return [(letter.stage, letter.origin or "") for letter in dead.letters]


async def test_unwanted_lines_are_acked_unread_and_malformed_ones_dead_lettered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoder = CountingDecoder(monkeypatch)
    path = tmp_path / "log.jsonl"
    pipeline, seen = make_pipeline(path)

    await pipeline.run()

    assert [e.event_type for e in seen] == ["order", "news", "order"]  # the news addressed
    assert seen[1].event_id == ADDRESSED_NEWS.event_id
    assert letters(pipeline) == [
        (FailureStage.DECODE, "log.jsonl:3"),
        (FailureStage.DECODE, "log.jsonl:6"),
    ]
    assert encode_event(NEWS) not in decoder.decoded  # acked unread
    assert BAD_PRIORITY_NEWS not in decoder.decoded  # its envelope is never checked
    assert len(decoder.decoded) == 5  # 2 orders, the addressed news, 2 malformed
    assert pipeline.counters.ingested == len(LINES)


async def test_every_line_is_read_in_full_while_someone_watches_every_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoder = CountingDecoder(monkeypatch)
    pipeline, _ = make_pipeline(tmp_path / "log.jsonl")
    watched: list[str] = []
    pipeline.events.pipe(ops.map(event_type)).subscribe(watched.append)

    await pipeline.run()

    assert len(decoder.decoded) == len(LINES)
    assert watched.count("news") == 3
    assert (FailureStage.DECODE, "log.jsonl:4") in letters(pipeline)  # priority 99


async def test_a_sink_or_a_schema_makes_a_type_wanted(tmp_path: Path) -> None:
    schemas = PayloadSchemas({"news": {"type": "object", "required": ["headline"]}})
    pipeline, _ = make_pipeline(tmp_path / "log.jsonl", schemas=schemas)
    news = pipeline.add_sink(MemorySink("type = news", name="news"))

    await pipeline.run()

    assert [e.event_id for e in news.events] == [NEWS.event_id, NEWS.event_id]
    stages = [stage for stage, _ in letters(pipeline)]
    assert stages.count(FailureStage.VALIDATION) == 1  # the addressed news has no headline
    assert stages.count(FailureStage.DECODE) == 3  # the bad priority is now read in full


async def test_the_checkpoint_covers_lines_acked_unread(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b"".join(encode_event(NEWS) + b"\n" for _ in range(500)))
    source = FileSource(path, checkpoint_path=tmp_path / "log.ckpt")
    pipeline = Pipeline("skip", sources=[source], dead_letters=MemoryDeadLetters())

    @pipeline.agent("orders", subscription="type = order")
    def orders(event: AgentEvent) -> None:
        raise AssertionError("no order in the log")

    await pipeline.run()

    assert source.checkpoint.line == 500
    assert source.checkpoint.offset == path.stat().st_size


async def test_validate_all_decodes_and_checks_every_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoder = CountingDecoder(monkeypatch)
    pipeline, seen = make_pipeline(tmp_path / "log.jsonl", validate_all=True)

    await pipeline.run()

    assert len(decoder.decoded) == len(LINES)
    assert [e.event_type for e in seen] == ["order", "news", "order"]
    assert letters(pipeline) == [
        (FailureStage.DECODE, "log.jsonl:3"),
        (FailureStage.DECODE, "log.jsonl:4"),  # priority 99: a dead letter here too
        (FailureStage.DECODE, "log.jsonl:6"),
    ]
