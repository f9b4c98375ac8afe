"""What saga and workflow coordinators share: runs as tasks over a durable store.

A coordinator drives each run (a saga or a workflow) in its own task, records every
message before it is sent and every answer before it is acted on (`SagaStore`), and
talks to agents only through `Pipeline.request`, so agents may live in other processes.

The store is given as a `SagaStore`, which stays the caller's to close, or as a path,
from which the coordinator opens a `SqliteSagaStore` of its own and closes it in
`CoordinatorBase.close`. A coordinator is also an async context manager (leaving the
block calls `close`)::

    async with SagaCoordinator(pipeline, "sagas.db", [saga]) as coordinator:
        await coordinator.resume()
"""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from reagents.errors import ConfigurationError
from reagents.events import AgentEvent, new_id
from reagents.patterns.saga_store import (
    Action,
    LogEntry,
    Phase,
    SagaRecord,
    SagaStatus,
    SagaStore,
    SqliteSagaStore,
)
from reagents.pipelines.pipeline import Pipeline
from reagents.pipelines.requests import AgentRequestError, RequestTimeoutError
from reagents.sinks.outputs import RESPONSE_TYPE

__all__ = ["CoordinatorBase", "RunState", "StoreChoice", "check_id", "is_rejection"]

StoreChoice = SagaStore | str | Path
"""A store (the caller closes it) or a SQLite file path (the coordinator closes it)."""

logger = logging.getLogger(__name__)


def check_id(kind: str, value: str) -> None:
    if not value or ":" in value or value.isspace():
        raise ConfigurationError(f"{kind} id {value!r} must be non-empty text without ':'")


def is_rejection(answer: AgentEvent) -> bool:
    """True when an agent's answer refuses the command (``status: failure`` in its payload)."""
    return answer.payload.get("status") == "failure"


def _result(answer: AgentEvent) -> Any:
    if answer.event_type == RESPONSE_TYPE:
        return answer.payload.get("result")
    return answer.payload


class RunState:
    """A run's recorded state, kept in step with the store as the coordinator writes."""

    def __init__(self, record: SagaRecord) -> None:
        self.id = record.run_id
        self.name = record.name
        self.data = record.data
        self.status = record.status
        self.reason = record.reason
        self.entries: dict[tuple[str, Phase], LogEntry] = {}
        for entry in record.log:
            self.note(entry)

    def note(self, entry: LogEntry) -> None:
        self.entries[(entry.step_id, entry.phase)] = entry

    def last(self, step_id: str, phase: Phase = Phase.COMMAND) -> LogEntry | None:
        return self.entries.get((step_id, phase))

    def results(self) -> dict[str, Any]:
        return {
            step: entry.detail.get("result")
            for (step, phase), entry in self.entries.items()
            if phase is Phase.COMMAND and entry.action is Action.DONE
        }


class CoordinatorBase(ABC):
    """What saga and workflow coordinators share: runs as tasks, the store, messages."""

    kind: ClassVar[str]

    def __init__(self, pipeline: Pipeline, store: StoreChoice, id: str, rng: random.Random | None):
        self.pipeline = pipeline
        self.owns_store = not isinstance(store, SagaStore)  # opened here: closed by close()
        self.store = store if isinstance(store, SagaStore) else SqliteSagaStore(store)
        self.id = id
        self._rng = rng or random.Random()
        self._tasks: dict[str, asyncio.Task[SagaRecord]] = {}

    def status(self, run_id: str) -> SagaRecord:
        """The run as stored now (status, reason, step log); KeyError if unknown."""
        record = self.store.get(run_id)
        if record is None or record.kind != self.kind:
            raise KeyError(f"no {self.kind} {run_id!r}")
        return record

    async def wait(self, run_id: str) -> SagaRecord:
        """Wait for the run to end here (or return it as stored if it is not running here)."""
        task = self._tasks.get(run_id)
        if task is not None:
            return await asyncio.shield(task)
        return self.status(run_id)

    async def resume(self) -> list[str]:
        """Continue every unfinished run in the store (after a restart); their ids."""
        resumed = []
        for record in self.store.unfinished(self.kind):
            if record.run_id not in self._tasks:
                self._check_known(record.name)
                await self._emit(f"{self.kind}.resumed", record.run_id, record.name)
                self._launch(record)
                resumed.append(record.run_id)
        return resumed

    async def close(self) -> None:
        """Stop driving runs (unfinished ones stay in the store for `resume`) and close
        the store if this coordinator opened it; a store passed in is left open.

        Closing twice is harmless.
        """
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.owns_store:
            self.store.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    def _check_known(self, name: str) -> None:
        """Raise `ConfigurationError` unless ``name`` is a definition this coordinator runs."""

    @abstractmethod
    async def _drive(self, run: RunState) -> SagaRecord:
        """Carry ``run`` on from its recorded state to a final status."""

    async def _begin(self, name: str, data: dict[str, Any], run_id: str | None) -> str:
        self._check_known(name)
        run_id = run_id or new_id()
        check_id(self.kind, run_id)
        if self.store.create(run_id, self.kind, name, data):
            await self._emit(f"{self.kind}.started", run_id, name)
        record = self.status(run_id)
        if record.name != name:
            raise ConfigurationError(f"{self.kind} {run_id!r} exists and runs {record.name!r}")
        if not record.status.finished and run_id not in self._tasks:
            self._launch(record)
        return run_id

    def _launch(self, record: SagaRecord) -> None:
        task = asyncio.create_task(self._drive(RunState(record)), name=f"reagents:{record.run_id}")
        self._tasks[record.run_id] = task
        task.add_done_callback(lambda t: self._ended(record.run_id, t))

    def _ended(self, run_id: str, task: asyncio.Task[SagaRecord]) -> None:
        if self._tasks.get(run_id) is task:
            del self._tasks[run_id]
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s %s stopped: %r", self.kind, run_id, task.exception())

    def _finish(self, run: RunState, status: SagaStatus, reason: str | None) -> None:
        self.store.set_status(run.id, status, reason)
        run.status, run.reason = status, reason

    async def _emit(self, event_type: str, run_id: str, name: str, **payload: Any) -> None:
        body = {f"{self.kind}_id": run_id, self.kind: name, **payload}
        event = AgentEvent(
            event_type=event_type, source_agent=self.id, payload=body, correlation_id=run_id
        )
        await self.pipeline.publish_async(event)

    async def _send(
        self,
        run: RunState,
        step_id: str,
        agent: str,
        event_type: str,
        payload: dict[str, Any],
        timeout: float,
        phase: Phase,
    ) -> LogEntry:
        """Log ``sent``, request, log the outcome (done / rejected / error / timed out)."""
        detail: dict[str, Any]
        run.note(self.store.append(run.id, step_id, phase, Action.SENT))
        try:
            answer = await self.pipeline.request(
                agent, payload, event_type=event_type, timeout=timeout, correlation_id=run.id
            )
        except RequestTimeoutError as error:
            action, detail = Action.TIMED_OUT, {"reason": str(error)}
        except AgentRequestError as error:
            action, detail = Action.ERROR, {"reason": str(error)}
        else:
            if is_rejection(answer):
                reason = answer.payload.get("reason") or answer.payload.get("result")
                action, detail = Action.REJECTED, {"reason": str(reason), "answer": answer.payload}
            else:
                action, detail = Action.DONE, {"result": _result(answer)}
        entry = self.store.append(run.id, step_id, phase, action, detail)
        run.note(entry)
        return entry
