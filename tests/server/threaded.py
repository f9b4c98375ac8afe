"""A live server in a thread of its own, for synchronous tests (hypothesis examples)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from reagents.pipelines.pipeline import Pipeline
from reagents.server.settings import ServerSettings
from tests.server.live import live_server

__all__ = ["threaded_server"]


@contextmanager
def threaded_server(pipeline: Pipeline, settings: ServerSettings | None = None) -> Iterator[str]:
    """Serve ``pipeline`` from another thread's event loop; yields its base URL."""
    ready = threading.Event()
    url: list[str] = []
    failure: list[BaseException] = []
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()

    async def main() -> None:
        async with live_server(pipeline, settings) as live:
            url.append(live.url)
            ready.set()
            await stop.wait()

    def run() -> None:
        try:
            loop.run_until_complete(main())
        except BaseException as error:
            failure.append(error)
        finally:
            ready.set()
            loop.close()

    thread = threading.Thread(target=run, name="live-server", daemon=True)
    thread.start()
    ready.wait(15)
    if failure or not url:
        raise RuntimeError(f"the server did not start: {failure}")
    try:
        yield url[0]
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(15)
        if failure:
            raise failure[0]
