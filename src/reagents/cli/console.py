"""Consoles, exit codes and one-line errors shared by the ``reagents`` commands."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NoReturn, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from reagents.errors import ReagentsError
from reagents.extras import MissingExtraError
from reagents.pipelines.lifecycle import SourceFailedError

__all__ = [
    "ABORTED",
    "DEAD_LETTERS",
    "RUNTIME",
    "USAGE",
    "CliError",
    "OneLineErrors",
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


# click's base error (typer vendors click in new versions and imports it in old ones)
_CLICK_ERROR: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
)


class OneLineErrors(TyperGroup):
    """The ``reagents`` command group: a usage error of any command (an unknown option,
    a bad value, a missing argument) is one red line and exit code 2, like every other
    bad input, instead of click's usage box."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        """Parse the top-level options (their errors in one line)."""
        with _one_line():
            return super().make_context(*args, **kwargs)

    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        """Run the subcommand (the errors of its options in one line)."""
        with _one_line():
            return super().invoke(*args, **kwargs)


@contextmanager
def _one_line() -> Iterator[None]:
    try:
        yield
    except _CLICK_ERROR as error:
        if type(error).__name__ == "NoArgsIsHelpError":  # shows the help: leave it alone
            raise
        ctx = getattr(error, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        fail(f"{getattr(error, 'format_message', error.__str__)()}{hint}", USAGE)


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
            # an unreachable server (KafkaUnavailableError) is a failure, not bad input
            code = RUNTIME if isinstance(error, ConnectionError) else USAGE
            fail(f"{type(error).__name__}: {error}", code)

    return wrapper


def fail(message: str, code: int) -> NoReturn:
    """Print ``message`` in red on stderr (its first line as ``error: ...``) and exit."""
    first, _, rest = message.partition("\n")
    console = rich_console(stderr=True)
    console.print(Text(f"error: {first}", style="bold red"))
    if rest:
        console.print(Text(rest), highlight=False)
    raise typer.Exit(code)
