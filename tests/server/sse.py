"""Reading Server-Sent Events from an httpx streaming response, as the spec frames them."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = ["Message", "messages", "parse_block"]

_LINE_END = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Message:
    """One SSE message (``event`` defaults to ``message``), or a comment (``comment``)."""

    event: str
    data: str
    id: str | None = None
    comment: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


def parse_block(block: str) -> Message:
    """The message one blank-line-separated block of SSE lines frames."""
    event, data, ident, comment = "message", [], None, None
    for line in _LINE_END.split(block):
        if line.startswith(":"):
            comment = line[1:].strip()
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            event = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            ident = value
    return Message(event, "\n".join(data), ident, comment)


async def messages(response: httpx.Response) -> AsyncIterator[Message]:
    """The messages (and comments) of a streaming ``text/event-stream`` response."""
    buffer = ""
    async for text in response.aiter_text():
        buffer += text
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            yield parse_block(block)
