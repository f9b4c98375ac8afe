"""`Closing`: the one shape of reagents' closable resources, as context managers.

Stores (sagas, idempotency keys, conversations) and dead-letter sinks hold files,
connections or buffers: each has ``close`` (a second call does nothing) and closes on
leaving a ``with`` block.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

__all__ = ["Closing"]


class Closing:
    """``with resource: ...`` closes it; subclasses override `close` when they hold
    something to release."""

    def close(self) -> None:
        """Release the resources (a second call does nothing)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
