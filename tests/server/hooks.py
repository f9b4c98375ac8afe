"""A real webhook endpoint for tests: a tiny ASGI app on its own uvicorn, loopback, free port.

``answer`` decides each response from the request number and the posted body; every
request is recorded (its body decoded as JSON), so a test sees exactly what was sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.types import Receive, Scope, Send

__all__ = ["Answer", "Hook", "webhook_server"]

Answer = Callable[[int, dict[str, Any]], Awaitable[tuple[int, bytes, dict[str, str]]]]
"""(request number from 1, posted JSON) -> (status, body, extra headers)."""


@dataclass
class Hook:
    """A running webhook endpoint: where it listens and what it received."""

    url: str
    port: int
    received: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@asynccontextmanager
async def webhook_server(answer: Answer, path: str = "/hook") -> AsyncIterator[Hook]:
    """Serve ``answer`` on 127.0.0.1 for the block."""
    hook = Hook(url="", port=0)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        posted = json.loads(body) if body else {}
        hook.received.append(posted)
        hook.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        status, content, headers = await answer(len(hook.received), posted)
        raw = [(b"content-length", str(len(content)).encode())]
        raw += [(k.encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": content})

    config = uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("the webhook server ended before it started")
            await asyncio.sleep(0.01)
    hook.port = server.servers[0].sockets[0].getsockname()[1]
    hook.url = f"http://127.0.0.1:{hook.port}{path}"
    try:
        yield hook
    finally:
        server.should_exit = True
        await task
