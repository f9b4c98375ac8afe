"""Credit bookkeeping shared by the buffering operators (``priority_buffer``, ``bounded_buffer``).

The consumer grants credits the way a Reactive Streams subscriber calls ``request(n)``:
every integer on the ``request`` observable allows ``n`` more items to be released. A
:class:`CreditGate` releases one buffered item per credit, completes once the source has
completed *and* the buffer is empty, and fails at once on any error. Releases are
serialised and re-entrant safe: a consumer may grant credits from inside ``on_next``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sized
from typing import Generic, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable

_T = TypeVar("_T")


def check_initial(initial: int) -> None:
    """Reject a negative initial credit count when the operator is built."""
    if initial < 0:
        raise ValueError(f"initial credits must be >= 0, got {initial}")


class CreditGate(Generic[_T]):
    """Release items from ``queue`` (via ``pop``) to ``observer``, one per granted credit.

    The owning operator mutates its queue under :attr:`lock` and then calls :meth:`drain`.
    ``on_terminate`` runs once, outside the lock, if the gate stops for any reason other
    than a normal completion (an error or disposal), so the operator can report what it
    still holds instead of losing it silently.
    """

    def __init__(
        self,
        observer: abc.ObserverBase[_T],
        queue: Sized,
        pop: Callable[[], _T],
        initial: int,
        on_released: Callable[[], None] | None = None,
        on_terminate: Callable[[], None] | None = None,
    ) -> None:
        self.lock = threading.Lock()
        self._observer = observer
        self._queue = queue
        self._pop = pop
        self._credits = initial
        self._on_released = on_released
        self._on_terminate = on_terminate
        self._source_done = False
        self._stopped = False
        self._draining = False

    @property
    def stopped(self) -> bool:
        """True once the gate has completed, failed or been disposed (read under lock)."""
        return self._stopped

    def connect(
        self,
        source: Observable[_T],
        request: Observable[int],
        on_item: Callable[[_T], None],
        scheduler: abc.SchedulerBase | None,
    ) -> abc.DisposableBase:
        """Subscribe to ``request`` (first, so early credits are in place) and ``source``."""
        credits = request.subscribe(self.grant, self.fail, scheduler=scheduler)
        items = source.subscribe(on_item, self.fail, self.source_completed, scheduler=scheduler)
        return CompositeDisposable(credits, items, Disposable(self._dispose))

    def grant(self, n: int) -> None:
        """Add ``n`` credits (``n >= 1``, as in Reactive Streams) and release what they allow."""
        if n < 1:
            self.fail(ValueError(f"request(n) needs n >= 1, got {n}"))
            return
        with self.lock:
            self._credits += n
        self.drain()

    def source_completed(self) -> None:
        """Remember that the source is done; complete as soon as the queue is empty."""
        with self.lock:
            self._source_done = True
        self.drain()

    def fail(self, error: Exception) -> None:
        """Stop at once and send ``error`` downstream; queued items are not released."""
        if self._stop():
            self._observer.on_error(error)

    def drain(self) -> None:
        """Release as many items as credits allow; a nested call is absorbed by the outer one."""
        with self.lock:
            if self._draining:
                return
            self._draining = True
        try:
            while self._release_one():
                pass
        except BaseException:
            with self.lock:
                self._draining = False
            raise

    def _release_one(self) -> bool:
        # Checking for work and clearing ``_draining`` happen in one critical section, so
        # an item queued by another thread is either seen here or drained by its producer.
        with self.lock:
            if not self._stopped and self._credits > 0 and len(self._queue) > 0:
                self._credits -= 1
                item = self._pop()
                complete = False
            else:
                complete = not self._stopped and self._source_done and len(self._queue) == 0
                self._stopped = self._stopped or complete
                self._draining = False
                if not complete:
                    return False
        if complete:
            self._observer.on_completed()
            return False
        self._observer.on_next(item)
        if self._on_released is not None:
            self._on_released()
        return True

    def _stop(self) -> bool:
        with self.lock:
            if self._stopped:
                return False
            self._stopped = True
        if self._on_terminate is not None:
            self._on_terminate()
        return True

    def _dispose(self) -> None:
        self._stop()


__all__ = ["CreditGate", "check_initial"]
