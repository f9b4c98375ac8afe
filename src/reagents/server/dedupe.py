"""`IdempotencyWindow`: the event ids (and ``Idempotency-Key``s) ``POST /events`` remembers.

A key is remembered once its event was handed off, for the last ``size`` keys (least
recently seen forgotten first), so memory stays bounded. While an event is being handed
off (Kafka: until the broker acknowledged it), its key is *pending*: a concurrent repeat
waits for the outcome instead of publishing it a second time, and publishes it itself
if the first attempt failed.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

__all__ = ["Claim", "IdempotencyWindow"]


@dataclass(slots=True)
class Claim:
    """The outcome of `IdempotencyWindow.claim`: which items are new, which repeats.

    ``fresh`` are indices of items to publish; ``repeats`` maps the index of each
    duplicate to the event id it was first accepted under.
    """

    fresh: list[int]
    repeats: dict[int, str]
    keys: list[Hashable]
    done: asyncio.Future[None] | None = None


class IdempotencyWindow:
    """Remembers the last ``size`` accepted keys (0: remembers nothing, no deduplication)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._seen: OrderedDict[Hashable, str] = OrderedDict()
        self._pending: dict[Hashable, asyncio.Future[None]] = {}

    def __len__(self) -> int:
        return len(self._seen)

    async def claim(self, keys: Sequence[Hashable], ids: Sequence[str]) -> Claim:
        """Split items (``keys[i]`` standing for event ``ids[i]``) into new ones and repeats.

        Returns without awaiting once no key is pending, so a caller that publishes
        right after (no ``await`` in between) cannot race another request.
        """
        while self.size:
            waiting = {self._pending[k] for k in keys if k in self._pending}
            if not waiting:
                break
            await asyncio.wait(waiting)
        fresh: list[int] = []
        repeats: dict[int, str] = {}
        first: dict[Hashable, str] = {}
        for index, key in enumerate(keys):
            known = self._seen.get(key) if self.size else None
            if known is None:
                known = first.get(key)
            if known is not None:
                repeats[index] = known
                if key in self._seen:
                    self._seen.move_to_end(key)
                continue
            first[key] = ids[index]
            fresh.append(index)
        return Claim(fresh, repeats, [keys[i] for i in fresh])

    def hold(self, claim: Claim) -> None:
        """Mark ``claim``'s new keys pending while their events are handed off."""
        if not self.size:
            return
        claim.done = asyncio.get_running_loop().create_future()
        for key in claim.keys:
            self._pending[key] = claim.done

    def settle(self, claim: Claim, ids: Sequence[str], accepted: bool) -> None:
        """The hand-off of ``claim`` ended: remember its keys if ``accepted``."""
        if not self.size:
            return
        for key, index in zip(claim.keys, claim.fresh, strict=True):
            self._pending.pop(key, None)
            if accepted:
                self._seen[key] = ids[index]
                self._seen.move_to_end(key)
        while len(self._seen) > self.size:
            self._seen.popitem(last=False)
        if claim.done is not None and not claim.done.done():
            claim.done.set_result(None)
