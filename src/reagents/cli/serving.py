"""Running a pipeline's HTTP app under uvicorn for ``reagents serve``: signals, failures.

uvicorn would print a traceback for an app that fails to start or stop and exit
quietly (code 0) when the pipeline failed while serving. Here the app's lifespan is
watched instead: the pipeline's own error ends the command in one line with an exit
code, and a pipeline that stops on its own (a source failed) stops the server too.
Ctrl-C and SIGTERM stop taking requests and drain; a second Ctrl-C aborts.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from typing import TYPE_CHECKING, Any

from reagents.cli.console import RUNTIME, USAGE, CliError
from reagents.errors import ConfigurationError
from reagents.pipelines.lifecycle import SourceFailedError
from reagents.pipelines.pipeline import Pipeline

if TYPE_CHECKING:
    import uvicorn
    from fastapi import FastAPI

__all__ = ["run_server"]

_UVICORN_LOG = "uvicorn.error"


async def run_server(
    app: FastAPI, web: uvicorn.Server, pipeline: Pipeline, announce: Callable[[int], None]
) -> bool:
    """Serve ``app`` on ``web`` until stopped; ``announce`` gets the port once it listens.

    Returns True when a second Ctrl-C aborted the drain.

    Raises:
        CliError: the server could not listen, or the pipeline failed (to start, while
            serving, or while draining), in one line.
    """
    watch = _Watch(web)
    app.router.lifespan_context = watch.lifespan(app.router.lifespan_context)
    _no_signal_capture(web)

    async def serve() -> None:
        # uvicorn ends by SystemExit when it cannot start, which would escape the event
        # loop from a Task: caught here; `watch` holds the reason
        with suppress(SystemExit):
            await web.serve()

    task = asyncio.create_task(serve(), name=f"reagents-serve:{pipeline.name}")
    aborted = False

    def stop() -> None:
        nonlocal aborted
        if web.should_exit:  # a second Ctrl-C: stop waiting for the drain
            aborted = True
            web.force_exit = True
            task.cancel()
        else:
            web.should_exit = True

    stopped_itself = False
    with _on_signals(stop), watch.quiet():
        while not task.done() and not web.started:
            await asyncio.wait({task}, timeout=0.01)
        if web.started:
            announce(web.servers[0].sockets[0].getsockname()[1])
        while not task.done():
            if not pipeline.running and not web.should_exit:
                stopped_itself = web.should_exit = True  # nothing left to serve
            await asyncio.wait({task}, timeout=0.1)
        try:
            await task
        except asyncio.CancelledError:
            if not aborted:
                raise
    if aborted:
        return True
    watch.raise_failure(pipeline, stopped_itself)
    return False


class _Watch:
    """The failure of the app's lifespan (the pipeline's), and uvicorn's own errors
    before it listens, held back from the log to be reported in one line."""

    def __init__(self, web: uvicorn.Server) -> None:
        self.web = web
        self.failure: BaseException | None = None
        self.held: list[str] = []

    def lifespan(self, inner: Any) -> Callable[[Any], Any]:
        @asynccontextmanager
        async def watched(app: Any) -> AsyncIterator[Any]:
            try:
                async with inner(app) as state:
                    yield state
            except Exception as error:
                self.failure = self.failure or error
                raise

        return watched

    @contextmanager
    def quiet(self) -> Iterator[None]:
        logger = logging.getLogger(_UVICORN_LOG)
        logger.addFilter(self._filter)
        try:
            yield
        finally:
            logger.removeFilter(self._filter)

    def _filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return True
        if self.failure is not None:
            return False  # its traceback: reported in one line instead
        if not self.web.started:
            self.held.append(record.getMessage().split("\n", 1)[0])
            return False
        return True

    def raise_failure(self, pipeline: Pipeline, stopped_itself: bool) -> None:
        error = self.failure
        if isinstance(error, SourceFailedError):
            raise CliError(str(error), RUNTIME)
        if error is not None:
            code = USAGE if isinstance(error, ConfigurationError) else RUNTIME
            raise CliError(
                f"pipeline {pipeline.name!r} failed: {type(error).__name__}: {error}", code
            )
        if self.held:
            raise CliError(f"cannot serve: {self.held[0]}", RUNTIME)
        if stopped_itself:
            raise CliError(f"pipeline {pipeline.name!r} stopped while serving", RUNTIME)


def _no_signal_capture(web: uvicorn.Server) -> None:
    """Keep uvicorn from taking the signals: after a graceful stop it raises Ctrl-C
    again (an exit by KeyboardInterrupt); `_on_signals` handles them instead."""

    @contextmanager
    def no_capture() -> Iterator[None]:
        yield

    web.capture_signals = no_capture  # type: ignore[method-assign]


@contextmanager
def _on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """Call ``stop`` on Ctrl-C and SIGTERM while serving (where the loop can)."""
    loop = asyncio.get_running_loop()
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with suppress(NotImplementedError, RuntimeError, ValueError):  # Windows, threads
            loop.add_signal_handler(sig, stop)
            installed.append(sig)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
