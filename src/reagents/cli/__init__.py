"""The ``reagents`` command line: run, replay and inspect pipelines declared in Python.

This package is the presentation layer: it loads a pipeline file (`loading`), runs the
pipeline on asyncio (`running`) and reports with rich (`reporting`). Errors a user can
cause end in one red line and exit code 2 (bad input) or 1 (failure while running),
never a traceback (`console`); a run that wrote dead letters exits with 3 (unless
``--no-fail-on-dead-letters``), one aborted by a second Ctrl-C with 130. The commands
live in `commands`, `dlq`, `kafka` and `serve`; this module assembles them into `app`, the
``reagents`` console script.
"""

from __future__ import annotations

import logging
from typing import Annotated

from reagents.extras import CLI_HINT, CLI_MODULES, MissingExtraError, has_module

if not all(has_module(name) for name in CLI_MODULES):
    raise MissingExtraError(CLI_HINT)

import typer

from reagents.cli.commands import GraphFormat as GraphFormat
from reagents.cli.commands import SpecFormat as SpecFormat
from reagents.cli.commands import asyncapi as asyncapi
from reagents.cli.commands import graph as graph
from reagents.cli.commands import replay as replay
from reagents.cli.commands import run as run
from reagents.cli.console import ABORTED as ABORTED
from reagents.cli.console import DEAD_LETTERS as DEAD_LETTERS
from reagents.cli.console import RUNTIME as RUNTIME
from reagents.cli.console import USAGE as USAGE
from reagents.cli.console import CliError, OneLineErrors
from reagents.cli.dlq import dlq_app as dlq_app
from reagents.cli.dlq import dlq_list as dlq_list
from reagents.cli.dlq import dlq_replay as dlq_replay
from reagents.cli.dlq import dlq_show as dlq_show
from reagents.cli.kafka import broker as broker
from reagents.cli.kafka import kafka_app as kafka_app
from reagents.cli.loading import FACTORY_NAMES as FACTORY_NAMES
from reagents.cli.loading import PIPELINE_HELP as PIPELINE_HELP
from reagents.cli.loading import PipelineRef as PipelineRef
from reagents.cli.loading import load_pipeline
from reagents.cli.reporting import Outcome as Outcome
from reagents.cli.serve import serve as serve
from reagents.version import __version__

__all__ = ["CliError", "app", "load_pipeline"]

app = typer.Typer(
    cls=OneLineErrors,
    name="reagents",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_show_locals=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"reagents {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log INFO messages of the library.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Run, replay and inspect **reagents** pipelines.

    Examples:

    * `reagents run examples/trading.py`
    * `reagents replay events.jsonl --pipeline examples/trading.py --speed 10`
    * `reagents dlq list dead_letters.jsonl`
    * `reagents graph examples/trading.py --format mermaid`
    * `reagents asyncapi examples/trading.py:build_pipeline --out asyncapi.json`
    * `reagents serve examples/trading.py:build_pipeline` (HTTP API)
    * `reagents broker` (an embedded Kafka-protocol broker for experiments)
    * `reagents replay --kafka trading_signals --from-offset 0 --out signals.jsonl`
    """
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


app.add_typer(dlq_app, name="dlq")
app.add_typer(kafka_app, name="kafka")
app.command()(run)
app.command()(replay)
app.command()(graph)
app.command()(asyncapi)
app.command("broker")(broker)
app.command()(serve)
