"""The top-level pipeline commands: ``reagents run``, ``replay``, ``graph`` and ``asyncapi``."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from reagents.ai.agent import LLMAgent
from reagents.ai.cassette import Cassette
from reagents.cli.console import CliError, friendly
from reagents.cli.kafka import FROM_TIME_HELP, BootstrapOpt, replay_from_kafka, start_position
from reagents.cli.loading import PIPELINE_HELP, PipelineArg, load_pipeline
from reagents.cli.running import FailOnDeadLettersOpt, ProgressOpt, replay_log, run_and_report
from reagents.pipelines.pipeline import Pipeline
from reagents.views.asyncapi import asyncapi_document
from reagents.views.graph import pipeline_graph

__all__ = ["GraphFormat", "SpecFormat", "asyncapi", "graph", "replay", "run"]


@friendly
def run(
    pipeline: PipelineArg,
    forever: Annotated[
        bool,
        typer.Option(
            "--forever", help="Keep running after the sources end (for published events)."
        ),
    ] = False,
    progress: ProgressOpt = None,
    fail_on_dead_letters: FailOnDeadLettersOpt = True,
) -> None:
    """Run a pipeline declared in a Python file, then print a summary.

    The pipeline runs until its sources are exhausted and all work has drained (or,
    with `--forever`, until Ctrl-C). Ctrl-C stops reading and drains in-flight work;
    a second Ctrl-C aborts at once (unfinished records stay unacknowledged).

    It says at start where dead letters go: the pipeline's `dead_letters` (a JSONL
    path, a Kafka topic), or, if it declares none, memory only (not saved). Exit
    codes: 0 done, 1 the run failed, 2 bad input, 3 done but dead letters were
    written (`--no-fail-on-dead-letters`: 0), 130 aborted by a second Ctrl-C.

    Examples:

    * `reagents run examples/trading.py`
    * `reagents run app.py:build_pipeline --forever --no-fail-on-dead-letters`
    """
    run_and_report(
        load_pipeline(pipeline),
        forever=forever,
        progress=progress,
        fail_on_dead_letters=fail_on_dead_letters,
    )


@friendly
def replay(
    log: Annotated[
        Path | None, typer.Argument(metavar="[LOG.jsonl]", help="Event or dead-letter log.")
    ] = None,
    pipeline: Annotated[
        str | None, typer.Option("--pipeline", "-p", metavar="FILE.py[:NAME]", help=PIPELINE_HELP)
    ] = None,
    speed: Annotated[
        float | None,
        typer.Option(help="Replay at the recorded pace times SPEED (default: at full speed)."),
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(metavar="ISO-TIME", help="Skip events older than this (no offset = UTC)."),
    ] = None,
    kafka: Annotated[
        str | None, typer.Option(metavar="TOPIC", help="Replay this Kafka topic instead of a log.")
    ] = None,
    from_offset: Annotated[int | None, typer.Option(help="With --kafka: start offset.")] = None,
    from_time: Annotated[
        str | None, typer.Option(metavar="ISO-TIME", help=f"With --kafka. {FROM_TIME_HELP}")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="With --kafka: write the events to this JSONL file.")
    ] = None,
    bootstrap: BootstrapOpt = None,
    cassette: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE.jsonl",
            help="LLM agents answer from this recorded cassette, never calling their model.",
        ),
    ] = None,
    progress: ProgressOpt = None,
    fail_on_dead_letters: FailOnDeadLettersOpt = True,
) -> None:
    """Replay a JSONL log (or, with --kafka, a topic) through a pipeline.

    A log is added to the pipeline as source `replay` instead of the pipeline's own
    sources; its checkpoint file is neither read nor written. A dead-letter log replays
    too: its events (or raw bytes, decoded again) go through the pipeline. A topic is
    read from every partition without a consumer group, into the pipeline or a file.
    Like `run`, it exits with code 3 if the replay wrote dead letters. With
    `--cassette`, every LLM agent of the pipeline answers from the recorded cassette
    (a request it lacks is dead-lettered, naming the request's fingerprint).

    Examples:

    * `reagents replay events.jsonl --pipeline examples/trading.py`
    * `reagents replay events.jsonl -p app.py:pipeline --speed 10 --since 2024-05-01T12:00Z`
    * `reagents replay --kafka market --from-offset 0 --out market.jsonl`
    * `reagents replay events.jsonl -p app.py --cassette llm.jsonl`
    """
    if kafka is not None:
        if log is not None:
            raise CliError("give a LOG.jsonl or --kafka TOPIC, not both")
        if cassette is not None:
            raise CliError("--cassette replays a LOG.jsonl, not --kafka")
        replay_from_kafka(
            kafka,
            pipeline_ref=pipeline,
            out=out,
            bootstrap=bootstrap,
            start=start_position(from_offset, from_time),
            progress=progress,
            fail_on_dead_letters=fail_on_dead_letters,
        )
        return
    if log is None:
        raise CliError("give a LOG.jsonl to replay (or --kafka TOPIC)")
    if out is not None:
        raise CliError("--out writes a --kafka topic to a file; a LOG.jsonl is one already")
    if pipeline is None:
        raise CliError("replaying a log needs --pipeline FILE.py[:NAME]")
    when = _parse_since(since)
    if not log.is_file():
        raise CliError(f"log {str(log)!r} does not exist")
    loaded = load_pipeline(pipeline)
    if cassette is not None:
        _replay_cassette(loaded, cassette)
    with tempfile.TemporaryDirectory(prefix="reagents-replay-") as scratch:
        replay_log(
            log,
            loaded,
            Path(scratch),
            since=when,
            speed=speed,
            progress=progress,
            fail_on_dead_letters=fail_on_dead_letters,
        )


def _replay_cassette(pipeline: Pipeline, path: Path) -> None:
    """Every LLM agent of ``pipeline`` answers from the cassette at ``path``."""
    if not path.is_file():
        raise CliError(f"cassette {str(path)!r} does not exist")
    agents = [agent for agent in pipeline.agents if isinstance(agent, LLMAgent)]
    if not agents:
        raise CliError(f"--cassette: pipeline {pipeline.name!r} has no LLM agents")
    recorded = Cassette(path, "replay")
    for agent in agents:
        agent.use_cassette(recorded)


def _parse_since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"--since: {text!r} is not an ISO-8601 time (e.g. 2024-05-01T12:00:00Z or "
            "2024-05-01; a time without offset is UTC)"
        ) from None


class GraphFormat(StrEnum):
    """Output formats of ``reagents graph``."""

    TEXT = "text"
    MERMAID = "mermaid"
    JSON = "json"


@friendly
def graph(
    pipeline: PipelineArg,
    format: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="text, mermaid or json.")
    ] = GraphFormat.TEXT,
) -> None:
    """Show a pipeline's graph: sources, bus, subscriptions, agents, sinks, dead letters.

    Examples:

    * `reagents graph examples/trading.py`
    * `reagents graph examples/trading.py --format mermaid > trading.mmd`
    """
    drawn = pipeline_graph(load_pipeline(pipeline))
    if format is GraphFormat.MERMAID:
        typer.echo(drawn.to_mermaid())
    elif format is GraphFormat.JSON:
        typer.echo(json.dumps(drawn.to_dict(), indent=2))
    else:
        typer.echo(drawn.to_text())


class SpecFormat(StrEnum):
    """Output formats of ``reagents asyncapi``."""

    JSON = "json"
    YAML = "yaml"


@friendly
def asyncapi(
    pipeline: PipelineArg,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", metavar="FILE", help="Write it here, not stdout.")
    ] = None,
    format: Annotated[
        SpecFormat, typer.Option("--format", "-f", help="json, or yaml (needs PyYAML).")
    ] = SpecFormat.JSON,
) -> None:
    """Write an AsyncAPI 3.0.0 document of a pipeline: channels, messages, operations.

    Channels are the event types the pipeline knows on its in-process bus (from
    subscriptions, payload schemas and LLM agents' outputs) and its Kafka topics;
    messages are AgentEvents with their payload schemas; operations say which
    source, agent or sink sends or receives what.

    Examples:

    * `reagents asyncapi examples/trading.py:build_pipeline`
    * `reagents asyncapi app.py --out asyncapi.json`
    * `reagents asyncapi app.py --format yaml > asyncapi.yaml`
    """
    dump = _yaml_dump() if format is SpecFormat.YAML else _json_dump
    text = dump(asyncapi_document(load_pipeline(pipeline)))
    if out is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    _write_whole(out, text if text.endswith("\n") else text + "\n")


def _write_whole(out: Path, text: str) -> None:
    """Write ``text`` to ``out`` whole or not at all: into a file beside it, then renamed,
    so a failed write leaves neither an empty nor a half file (nor spoils an old one)."""
    partial = out.with_name(f".{out.name}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, out)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise CliError(f"--out: cannot write {str(out)!r} ({error.strerror})") from None


def _json_dump(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False)


def _yaml_dump() -> Callable[[dict[str, Any]], str]:
    try:
        import yaml  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise CliError(
            "--format yaml needs PyYAML: pip install pyyaml (or use --format json)"
        ) from None

    def dump(document: dict[str, Any]) -> str:
        return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100))

    return dump
