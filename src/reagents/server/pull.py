"""`PullAgent`: an agent whose events wait in the server until a remote client fetches them.

Its handler does not handle: it offers the event and waits. A client fetches offers
(``GET /agents/{id}/events``, long poll), each under a lease with a delivery id, and
acknowledges each one (``POST /agents/{id}/acks``), with the reactions to emit, or
reports a failure with a reason. An ack completes the handler call (the event is
handled, its record may be acknowledged); a failure, or a lease that expires
unacknowledged, raises, so the pipeline retries the event with the agent's backoff
(a fresh delivery id) and dead-letters it in the end, as for any agent. So does an
offer nobody fetches within ``fetch_seconds``: a client that went away must not hold
its events, and the pipeline's capacity, for ever.

Each of the agent's ``max_concurrent`` workers holds one offer at a time, so at most
``max_concurrent`` events are offered or leased; the rest wait in its priority queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Unpack

from reagents.errors import ReagentsError
from reagents.events import AgentEvent, utc_now
from reagents.server.reactions import Reaction
from reagents.sinks.agent import Agent, AgentOptions
from reagents.sinks.outputs import HandlerOutputs

__all__ = ["LeaseExpiredError", "Offer", "PullAgent", "RemoteFailureError"]


class LeaseExpiredError(ReagentsError, TimeoutError):
    """A fetched event was not acknowledged within its lease; retried, then dead-lettered."""


class RemoteFailureError(ReagentsError, RuntimeError):
    """The pull client reported that it could not handle an event (its reason follows)."""


@dataclass(slots=True, eq=False)
class Offer:
    """One event offered to the remote client; leased once fetched."""

    event: AgentEvent
    outcome: asyncio.Future[list[Reaction]]
    delivery_id: str = ""
    expires_at: datetime | None = None
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)


class PullAgent(Agent):
    """An agent handled by a remote client that fetches its events and acknowledges them."""

    def __init__(
        self,
        *,
        id: str,
        lease_seconds: float = 30.0,
        fetch_seconds: float = 60.0,
        **options: Unpack[AgentOptions],
    ) -> None:
        super().__init__(id=id, **options)
        if lease_seconds <= 0:
            raise ValueError(f"pull agent {id!r}: lease_seconds must be positive")
        self.lease_seconds = lease_seconds
        if fetch_seconds <= 0:
            raise ValueError(f"pull agent {id!r}: fetch_seconds must be positive")
        self.fetch_seconds = fetch_seconds
        self._ready: deque[Offer] = deque()
        self._leases: dict[str, Offer] = {}
        self._arrived = asyncio.Event()
        self._closed = False

    @property
    def waiting(self) -> int:
        """Events offered and not fetched yet."""
        return len(self._ready)

    @property
    def leased(self) -> int:
        """Events fetched and not acknowledged yet."""
        return len(self._leases)

    async def handle(self, event: AgentEvent) -> HandlerOutputs:
        """Offer ``event``; return the reactions it is acknowledged with (or raise)."""
        loop = asyncio.get_running_loop()
        offer = Offer(event, loop.create_future())
        offer.timer = loop.call_later(self.fetch_seconds, self._unfetched, offer)
        self._ready.append(offer)
        self._arrived.set()
        try:
            return await offer.outcome
        finally:
            self._withdraw(offer)

    async def fetch(self, limit: int, wait: float) -> list[Offer]:
        """Lease up to ``limit`` offered events, waiting up to ``wait`` s for the first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        while True:
            taken = self._take(limit, loop)
            if taken or self._closed or loop.time() >= deadline:
                return taken
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout_at(deadline):
                    await self._arrived.wait()

    def _take(self, limit: int, loop: asyncio.AbstractEventLoop) -> list[Offer]:
        taken: list[Offer] = []
        while self._ready and len(taken) < limit:
            offer = self._ready.popleft()
            if offer.outcome.done():
                continue
            if offer.timer is not None:
                offer.timer.cancel()  # the fetch deadline; the lease's own starts now
            offer.delivery_id = uuid.uuid4().hex
            offer.expires_at = utc_now() + timedelta(seconds=self.lease_seconds)
            offer.timer = loop.call_later(self.lease_seconds, self._expire, offer)
            self._leases[offer.delivery_id] = offer
            taken.append(offer)
        return taken

    def ack(self, delivery_id: str, reactions: list[Reaction]) -> bool:
        """The client handled ``delivery_id``; False if no such lease is open (expired?)."""
        offer = self._leases.pop(delivery_id, None)
        if offer is None or offer.outcome.done():
            return False
        offer.outcome.set_result(reactions)
        return True

    def fail(self, delivery_id: str, reason: str) -> bool:
        """The client could not handle ``delivery_id``; False if no such lease is open."""
        offer = self._leases.pop(delivery_id, None)
        if offer is None or offer.outcome.done():
            return False
        offer.outcome.set_exception(
            RemoteFailureError(
                f"pull agent {self.id!r}: the client failed delivery {delivery_id}: {reason}"
            )
        )
        return True

    def _expire(self, offer: Offer) -> None:
        if self._leases.pop(offer.delivery_id, None) is None or offer.outcome.done():
            return
        offer.outcome.set_exception(
            LeaseExpiredError(
                f"pull agent {self.id!r}: delivery {offer.delivery_id} was not acknowledged "
                f"within its lease of {self.lease_seconds:g} s"
            )
        )

    def _unfetched(self, offer: Offer) -> None:
        if offer.outcome.done() or offer.delivery_id:
            return
        offer.outcome.set_exception(
            LeaseExpiredError(
                f"pull agent {self.id!r}: no client fetched the event within "
                f"{self.fetch_seconds:g} s"
            )
        )

    def _withdraw(self, offer: Offer) -> None:
        if offer.timer is not None:
            offer.timer.cancel()
        self._leases.pop(offer.delivery_id, None)
        with contextlib.suppress(ValueError):
            self._ready.remove(offer)

    def close(self) -> None:
        """Wake every waiting fetch (the agent was removed or the server stops)."""
        self._closed = True
        self._arrived.set()
