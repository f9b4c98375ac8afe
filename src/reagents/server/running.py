"""`serve`: run a pipeline's HTTP app on uvicorn until stopped (``reagents serve``)."""

from __future__ import annotations

import asyncio

import uvicorn
from starlette.types import ASGIApp

from reagents.pipelines.pipeline import Pipeline
from reagents.server.app import create_app
from reagents.server.settings import ServerSettings

__all__ = ["serve", "uvicorn_server"]


def uvicorn_server(app: ASGIApp, settings: ServerSettings) -> uvicorn.Server:
    """A uvicorn server for ``app`` on ``settings.host:port`` (checked first)."""
    settings.check_bind()
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        h11_max_incomplete_event_size=settings.max_header_bytes,
        lifespan="on",
        server_header=False,
        timeout_graceful_shutdown=10,  # then end open event streams (they never end)
    )
    return uvicorn.Server(config)


async def serve(pipeline: Pipeline, settings: ServerSettings | None = None) -> None:
    """Serve ``pipeline`` over HTTP until Ctrl-C / SIGTERM; the pipeline drains on the way out.

    A pipeline that stops on its own (a source failed) stops the server too, and its
    error is raised here rather than only logged by uvicorn.
    """
    settings = settings or ServerSettings()
    app = create_app(pipeline, settings)
    web = uvicorn_server(app, settings)
    task = asyncio.create_task(web.serve(), name=f"reagents-serve:{pipeline.name}")
    try:
        while not task.done():
            if web.started and not pipeline.running:
                web.should_exit = True  # nothing left to serve
            await asyncio.wait({task}, timeout=0.1)
    finally:
        if not task.done():  # cancelled: stop uvicorn too
            web.should_exit = True
            await asyncio.shield(task)
    await task
    if (failure := app.state.reagents.failure) is not None:
        raise failure
