"""Per-item error isolation: a failing item is reported, and the stream goes on.

In Rx an exception in ``map`` ends the whole stream. ``map_isolated(step, on_error)``
hands a failed item and its exception to ``on_error`` and continues with the next::

    source:  -a-b-c-|
    step:     A x C       (x: step(b) raised)
    result:  -A---C-|     (on_error(b, exc) called at b)

``map_isolated_async`` does the same for ``async`` steps, run by long-lived asyncio
worker tasks that pull from a queue (no Task or inner observable per item).
"""

from __future__ import annotations

import asyncio
import enum
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from reactivex import Observable, abc
from reactivex.disposable import CompositeDisposable, Disposable

_T = TypeVar("_T")
_U = TypeVar("_U")

OnItemError = Callable[[_T, Exception], object]
"""Receives the item whose step raised, and the exception."""


def map_isolated(
    step: Callable[[_T], _U], on_error: OnItemError[_T]
) -> Callable[[Observable[_T]], Observable[_U]]:
    """Map each item with ``step``; an item whose step raises goes to ``on_error``.

    Nothing is emitted for a failed item and the stream continues. Only ``Exception``
    is caught. An exception raised by ``on_error`` itself ends the stream with that
    error: the failure handler failing is not a per-item problem.
    """

    def _map_isolated(source: Observable[_T]) -> Observable[_U]:
        def subscribe(
            observer: abc.ObserverBase[_U],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            def on_next(item: _T) -> None:
                try:
                    result = step(item)
                except Exception as exc:
                    try:
                        on_error(item, exc)
                    except Exception as handler_error:
                        observer.on_error(handler_error)
                    return
                observer.on_next(result)

            return source.subscribe(
                on_next, observer.on_error, observer.on_completed, scheduler=scheduler_
            )

        return Observable(subscribe)

    return _map_isolated


class _End(enum.Enum):
    """Queue marker: one per worker, enqueued when the source terminates."""

    MARK = enum.auto()


class _AsyncWorkers(Generic[_T, _U]):
    """The asyncio side of one subscription: a queue and ``max_concurrent`` workers."""

    def __init__(
        self,
        step: Callable[[_T], Awaitable[_U]],
        on_error: OnItemError[_T],
        observer: abc.ObserverBase[_U],
        max_concurrent: int,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._step = step
        self._on_error = on_error
        self._observer = observer
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._queue: asyncio.Queue[_T | _End] = asyncio.Queue()
        self._upstream_error: Exception | None = None
        self._stopped = False
        self._live = max_concurrent
        self._tasks = [loop.create_task(self._work()) for _ in range(max_concurrent)]

    # Source side: may be called from any thread; hops onto the loop when needed.

    def on_next(self, item: _T) -> None:
        self._on_loop(self._enqueue, item)

    def on_error(self, error: Exception) -> None:
        self._on_loop(self._finish, error)

    def on_completed(self) -> None:
        self._on_loop(self._finish, None)

    def dispose(self) -> None:
        self._on_loop(self._cancel, None)

    def _on_loop(self, action: Callable[[Any], None], arg: Any) -> None:
        if threading.get_ident() == self._loop_thread:
            action(arg)
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(action, arg)

    def _enqueue(self, item: _T) -> None:
        if not self._stopped:
            self._queue.put_nowait(item)

    def _finish(self, error: Exception | None) -> None:
        self._upstream_error = error
        for _ in self._tasks:
            self._queue.put_nowait(_End.MARK)

    def _cancel(self, _: None = None) -> None:
        self._stopped = True
        current = asyncio.current_task(self._loop)
        for task in self._tasks:
            if task is not current:
                task.cancel()

    # Loop side.

    async def _work(self) -> None:
        try:
            while (item := await self._queue.get()) is not _End.MARK:
                try:
                    result = await self._step(item)
                except Exception as exc:
                    self._on_error(item, exc)
                    continue
                if not self._stopped:
                    self._observer.on_next(result)
        except Exception as error:  # from on_error or downstream: ends the stream
            self._terminate(error)
            return
        self._live -= 1
        if self._live == 0:
            self._terminate(self._upstream_error)

    def _terminate(self, error: Exception | None) -> None:
        if self._stopped:
            return
        self._cancel()
        if error is None:
            self._observer.on_completed()
        else:
            self._observer.on_error(error)


def map_isolated_async(
    step: Callable[[_T], Awaitable[_U]],
    on_error: OnItemError[_T],
    max_concurrent: int = 1,
) -> Callable[[Observable[_T]], Observable[_U]]:
    """Like :func:`map_isolated` for an ``async`` step, at most ``max_concurrent`` at once.

    Items are queued and awaited by ``max_concurrent`` long-lived worker tasks on the
    event loop running at subscribe time; results are emitted from the loop thread,
    in source order when ``max_concurrent == 1``. The source may emit from another
    thread. Completion, or the source's error, is emitted after every queued item has
    been processed. The queue is unbounded: put backpressure upstream. Disposing
    cancels the workers, including steps in flight.

    Raises:
        ValueError: if ``max_concurrent`` is less than 1.
        RuntimeError: at subscribe time, if no asyncio event loop is running.
    """
    if (
        isinstance(max_concurrent, bool)
        or not isinstance(max_concurrent, int)
        or max_concurrent < 1
    ):
        raise ValueError(f"max_concurrent must be an int >= 1, got {max_concurrent!r}")

    def _map_isolated_async(source: Observable[_T]) -> Observable[_U]:
        def subscribe(
            observer: abc.ObserverBase[_U],
            scheduler_: abc.SchedulerBase | None = None,
        ) -> abc.DisposableBase:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise RuntimeError(
                    "map_isolated_async must be subscribed from code running in an asyncio "
                    "event loop (e.g. inside an async function or Pipeline.run())"
                ) from None
            workers = _AsyncWorkers(step, on_error, observer, max_concurrent, loop)
            try:
                upstream = source.subscribe(
                    workers.on_next, workers.on_error, workers.on_completed, scheduler=scheduler_
                )
            except BaseException:
                workers.dispose()
                raise
            return CompositeDisposable(upstream, Disposable(workers.dispose))

        return Observable(subscribe)

    return _map_isolated_async


__all__ = ["OnItemError", "map_isolated", "map_isolated_async"]
