"""`RequestLimits`: an ASGI middleware that answers 431/413 to oversized requests.

Headers over ``max_header_bytes`` (names and values together) get 431. For bodies it
checks ``Content-Length`` before the application sees the request and counts the bytes
of bodies sent without one (chunked), so no endpoint ever holds more than the limit in
memory: 413. (uvicorn bounds only headers that arrive in pieces; this bounds all.)
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["BodyTooLarge", "RequestLimits", "answer"]

_DISCARD_AT_MOST = 8 * 1024 * 1024


class BodyTooLarge(Exception):
    """A request body went past the limit while it was being read."""


class RequestLimits:
    """Reject headers over ``max_header_bytes`` (431) and bodies over ``limit`` bytes (413)."""

    def __init__(self, app: ASGIApp, limit: int, max_header_bytes: int) -> None:
        self.app = app
        self.limit = limit
        self.max_header_bytes = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if sum(len(n) + len(v) for n, v in scope["headers"]) > self.max_header_bytes:
            await answer(send, 431, f"request headers exceed {self.max_header_bytes:,} bytes")
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await answer(send, 413, self._too_large)
                return
        seen = 0
        started = False
        more = True

        async def counted() -> Message:
            nonlocal seen, more
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                more = bool(message.get("more_body", False))
                if seen > self.limit:
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                if more:
                    await _discard_rest(receive, max(self.limit, _DISCARD_AT_MOST))
                await answer(send, 413, self._too_large)

    @property
    def _too_large(self) -> str:
        return f"request body is larger than the limit of {self.limit:,} bytes"


async def _discard_rest(receive: Receive, at_most: int) -> None:
    """Read and drop the rest of a streamed body (up to ``at_most`` bytes), so a client
    still sending it reads the 413 instead of a reset connection."""
    dropped = 0
    while dropped <= at_most:
        message = await receive()
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


async def answer(send: Send, status: int, detail: str) -> None:
    """Send a whole JSON error answer ``{"detail": ...}`` and close the connection."""
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
