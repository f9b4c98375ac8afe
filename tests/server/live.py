"""A real uvicorn server on a free loopback port, in the test's event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import APIRouter

from reagents.pipelines.pipeline import Pipeline
from reagents.server.app import create_app
from reagents.server.handoff import Handoff
from reagents.server.running import uvicorn_server
from reagents.server.settings import ServerSettings

__all__ = ["LiveServer", "live_server"]


@dataclass
class LiveServer:
    """A running server: its base URL and a client for it."""

    url: str
    server: uvicorn.Server
    client: httpx.AsyncClient

    def authed(self, token: str) -> dict[str, str]:
        """The header that sends ``token``."""
        return {"Authorization": f"Bearer {token}"}


@asynccontextmanager
async def live_server(
    pipeline: Pipeline,
    settings: ServerSettings | None = None,
    *,
    routers: tuple[APIRouter, ...] = (),
    ingest: Handoff | None = None,
) -> AsyncIterator[LiveServer]:
    """Serve ``pipeline`` on 127.0.0.1 (a free port) for the block; stop and drain after.

    ``routers`` are added to the app (endpoints that exist only for a test); ``ingest``
    is where ``POST /events`` hands events (`create_app`'s).
    """
    settings = (settings or ServerSettings()).model_copy(update={"host": "127.0.0.1", "port": 0})
    app = create_app(pipeline, settings, ingest=ingest)
    for router in routers:
        app.include_router(router)
    server = uvicorn_server(app, settings)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("uvicorn ended before it started")
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield LiveServer(url, server, client)
    finally:
        server.should_exit = True
        await task
