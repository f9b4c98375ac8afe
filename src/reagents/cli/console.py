"""Consoles, exit codes and one-line errors shared by the ``reagents`` commands."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from reagents.errors import ReagentsError
from reagents.extras import MissingExtraError
from reagents.pipelines.lifecycle import SourceFailedError

__all__ = [
    "ABORTED",
    "DEAD_LETTERS",
    "RUNTIME",
    "USAGE",
    "CliError",
    "fail",
    "friendly",
    "rich_console",
]

USAGE = 2
"""Bad input: a missing file, a bad option, a pipeline that cannot be configured."""
RUNTIME = 1
"""The run failed (a source failed, the pipeline file raised)."""
DEAD_LETTERS = 3
"""The run ended, but wrote dead letters (unless ``--no-fail-on-dead-letters``)."""
ABORTED = 130
"""A second Ctrl-C aborted the run."""

P = ParamSpec("P")
R = TypeVar("R")


class CliError(Exception):
    """A problem to report in one line; ``code`` is the process exit code."""

    def __init__(self, message: str, code: int = USAGE) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def rich_console(stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that does not wrap tables when piped."""
    console = Console(stderr=stderr, soft_wrap=True)
    if not console.is_terminal:
        console.width = max(console.width, 160)  # a pipe or a file: don't wrap tables
    return console


def friendly(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can cause into one red line and an exit code."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except CliError as error:
            fail(error.message, error.code)
        except SourceFailedError as error:
            fail(str(error), RUNTIME)
        except MissingExtraError as error:  # its message is the pip line
            fail(str(error), USAGE)
        except ReagentsError as error:  # ConfigurationError, FilterSyntaxError, ...
            fail(f"{type(error).__name__}: {error}", USAGE)

    return wrapper


def fail(message: str, code: int) -> NoReturn:
    """Print ``message`` in red on stderr (its first line as ``error: ...``) and exit."""
    first, _, rest = message.partition("\n")
    console = rich_console(stderr=True)
    console.print(Text(f"error: {first}", style="bold red"))
    if rest:
        console.print(Text(rest), highlight=False)
    raise typer.Exit(code)
