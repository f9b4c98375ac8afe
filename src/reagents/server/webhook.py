"""`WebhookAgent`: an agent whose handler is an HTTP endpoint somewhere else.

Each event is POSTed (its JSON) to the agent's URL; the response body is its
reactions (`reagents.server.reactions`): 204 or an empty body for none. A non-2xx
answer, a timeout, a refused connection or an unreadable body raises `WebhookError`
naming the status and the URL, so the pipeline retries the event with the agent's
backoff and then dead-letters it, as for any agent; the event's record is
acknowledged only after that. The URL must pass the server's `HostAllowlist`, at
registration and before every request; redirects are not followed; response bodies
are read up to a limit. All webhook agents of a server share one `httpx.AsyncClient`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Unpack

import httpx

from reagents.errors import ReagentsError
from reagents.events import AgentEvent
from reagents.server.allowlist import HostAllowlist
from reagents.server.reactions import ReactionError, parse_reactions
from reagents.sinks.agent import Agent, AgentOptions
from reagents.sinks.outputs import HandlerOutputs

__all__ = ["WebhookAgent", "WebhookError", "webhook_client"]

_EXCERPT = 200


class WebhookError(ReagentsError, RuntimeError):
    """A webhook call failed (status, timeout, connection, body); retried, then dead-lettered."""


def webhook_client() -> httpx.AsyncClient:
    """The client webhook agents share: no redirects, no proxies from the environment."""
    return httpx.AsyncClient(
        follow_redirects=False,
        trust_env=False,
        headers={"user-agent": "reagents-webhook"},
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


class WebhookAgent(Agent):
    """POSTs each event to ``url`` and takes the response body as its reactions."""

    def __init__(
        self,
        url: str,
        *,
        id: str,
        client: httpx.AsyncClient,
        allowlist: HostAllowlist,
        request_timeout: float = 10.0,
        max_response_bytes: int = 1_048_576,
        **options: Unpack[AgentOptions],
    ) -> None:
        self.url = allowlist.check(url)  # UnsafeURLError: refused at registration
        super().__init__(id=id, **options)
        self.request_timeout = request_timeout
        self.max_response_bytes = max_response_bytes
        self._client = client
        self._allowlist = allowlist

    async def handle(self, event: AgentEvent) -> HandlerOutputs:
        """POST ``event``; its reactions, or `WebhookError` saying what went wrong."""
        url = self._allowlist.check(str(self.url))  # the list is the rule, every time
        where = f"webhook {url}"
        headers = {"content-type": "application/json"}
        if event.traceparent:  # the receiver's own HTTP tracing continues the trace
            headers["traceparent"] = event.traceparent
            if event.tracestate:
                headers["tracestate"] = event.tracestate
        try:
            # httpx's timeout bounds each read; this bounds the whole call (a trickle too)
            async with (
                asyncio.timeout(self.request_timeout),
                self._client.stream(
                    "POST",
                    url,
                    content=event.model_dump_json().encode(),
                    headers=headers,
                    timeout=self.request_timeout,
                ) as response,
            ):
                body = await self._read(response, where)
        except (httpx.TimeoutException, TimeoutError) as error:
            raise WebhookError(
                f"{where} timed out after {self.request_timeout:g} s ({type(error).__name__})"
            ) from error
        except httpx.HTTPError as error:
            raise WebhookError(f"{where} failed: {type(error).__name__}: {error}") from error
        status = response.status_code
        if not 200 <= status < 300:
            raise WebhookError(_refusal(where, response, body))
        if status == 204 or not body.strip():
            return None
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            raise WebhookError(
                f"{where} answered HTTP {status} with a body that is not JSON: {_excerpt(body)!r}"
            ) from None
        try:
            return parse_reactions(data, where)
        except ReactionError as error:
            raise WebhookError(str(error)) from None

    async def _read(self, response: httpx.Response, where: str) -> bytes:
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_response_bytes:
                raise WebhookError(
                    f"{where} answered more than {self.max_response_bytes:,} bytes (the limit)"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def describe(self) -> str:
        """A short label for graphs and logs."""
        return f"{self.id} [{self.filter.describe()}] -> {self.url}"


def _refusal(where: str, response: httpx.Response, body: bytes) -> str:
    status = response.status_code
    reason = f"{where} answered HTTP {status} {response.reason_phrase}".rstrip()
    if response.is_redirect:
        return f"{reason} (redirects are not followed; register the final URL)"
    return f"{reason}: {_excerpt(body)!r}" if body.strip() else reason


def _excerpt(body: bytes) -> str:
    text = body[:_EXCERPT].decode("utf-8", errors="replace")
    return text + "..." if len(body) > _EXCERPT else text
