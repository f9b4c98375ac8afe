"""Sagas: ordered steps, each undone by a compensation, recorded durably and resumable.

A `Saga` is a list of `SagaStep` (agent, command event type, compensation event type,
timeout). `SagaCoordinator` runs it over a pipeline, talking to agents only through
`Pipeline.request` and bus events, so it works unchanged when agents live in other
processes. Forward, steps run in order; when one is rejected, fails or times out, every
step that completed (and the one that timed out) is compensated in reverse order, each
compensation retried with `Backoff` delays. Status: ``running`` → ``completed``, or
``running`` → ``compensating`` → ``compensated``, or → ``failed`` when a compensation
still fails after its retries (then ``reason`` tells a human what is left to undo;
`SagaCoordinator.retry` tries the compensations again). Each change is emitted as an
event: ``saga.started``, ``saga.step_completed``, ``saga.compensating``,
``saga.step_compensated``, ``saga.completed``, ``saga.compensated``, ``saga.failed``.

Commands carry ``payload["idempotency_key"] = "<saga_id>:<step_id>"`` (compensations
``"<saga_id>:<step_id>:compensate"``); the payload is the saga's input data plus
``saga_id``, ``step_id``, ``results`` (answers of the completed steps) and, for a
compensation, ``result`` (the answer being undone). An answer is a rejection when it is
``agent_error`` or its payload says ``status: failure`` (see `reject`); a rejected step
counts as not applied and is not compensated, a timed-out one counts as maybe applied.

Guarantees (with `SqliteSagaStore`, ``synchronous=FULL``):

* Durability. The saga row is written before the first command; a log entry is
  committed *before* each command or compensation is sent and *after* each answer,
  before the coordinator acts on it. A killed process (SIGKILL, OOM) loses nothing
  committed; with ``synchronous=FULL`` neither does a power loss.
* Resumption. `SagaCoordinator.resume` continues every ``running`` or ``compensating``
  saga: completed steps are skipped (their recorded answers are reused), a message
  whose answer was not recorded is sent again with the SAME idempotency key, then the
  saga goes forward or keeps compensating from where the log says it was. Every saga
  therefore ends ``completed``, ``compensated`` or ``failed`` — never half done.
* Delivery. Commands and compensations are at-least-once: a crash between sending and
  recording the answer re-sends. Agents wrapped in `idempotent` (state and key
  committed in one transaction) apply each exactly once; agents that ignore the key
  may apply a re-sent command twice. Status events are emitted after the state they
  report is committed and are at-most-once: a crash between the two loses the event,
  never the state (query `SagaCoordinator.status`).
* Limits. A timed-out command is compensated; an agent that applies it later, after
  its compensation, would leave it applied — `idempotent` rejects a command whose
  compensation it already handled. Compensations must tolerate a command that was
  never applied. Two coordinators must not resume the same store at once.

Tested by ``tests/pipelines/test_saga.py`` (in-process paths) and
``tests/pipelines/test_saga_crash.py``: a 3-step saga that completes and one that
compensates, with the coordinator process SIGKILLed once at every step boundary
(after each log write and after each agent's commit) and restarted; each run ends
completed or fully compensated and the agents' SQLite ledgers show no step applied twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from reagents.errors import AgentRequestError, ConfigurationError, RequestTimeoutError
from reagents.events import AgentEvent, new_id
from reagents.operators.retry import Backoff
from reagents.pipelines.idempotency import KEY_FIELD, reject
from reagents.pipelines.pipeline import Pipeline
from reagents.pipelines.saga_store import Action, LogEntry, Phase, SagaRecord, SagaStatus, SagaStore
from reagents.sinks.agent import RESPONSE_TYPE

__all__ = [
    "CoordinatorBase",
    "Saga",
    "SagaCoordinator",
    "SagaStep",
    "is_rejection",
    "reject",
]

logger = logging.getLogger(__name__)


def check_id(kind: str, value: str) -> None:
    if not value or ":" in value or value.isspace():
        raise ConfigurationError(f"{kind} id {value!r} must be non-empty text without ':'")


@dataclass(frozen=True)
class SagaStep:
    """One step: ``command`` to ``agent``, undone by ``compensation`` (None: nothing to undo)."""

    id: str
    agent: str
    command: str
    compensation: str | None = None
    timeout: float = 30.0

    def __post_init__(self) -> None:
        check_id("step", self.id)
        if self.timeout <= 0:
            raise ConfigurationError(f"step {self.id!r}: timeout must be positive seconds")


@dataclass(frozen=True)
class Saga:
    """A named, ordered list of steps and how hard to try each compensation."""

    name: str
    steps: tuple[SagaStep, ...]
    compensation_retry: Backoff = field(
        default_factory=lambda: Backoff(max_retries=5, initial=0.2, max_delay=5.0)
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise ConfigurationError(f"saga {self.name!r} has no steps")
        ids = [step.id for step in self.steps]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ConfigurationError(f"saga {self.name!r} repeats step ids {duplicates}")


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


class CoordinatorBase:
    """What saga and workflow coordinators share: runs as tasks, the store, messages."""

    kind: ClassVar[str]

    def __init__(self, pipeline: Pipeline, store: SagaStore, id: str, rng: random.Random | None):
        self.pipeline = pipeline
        self.store = store
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
        """Stop driving runs; unfinished ones stay in the store for `resume`."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _check_known(self, name: str) -> None:
        raise NotImplementedError

    async def _drive(self, run: RunState) -> SagaRecord:
        raise NotImplementedError

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


class SagaCoordinator(CoordinatorBase):
    """Runs sagas over a running pipeline and resumes the unfinished ones after a restart.

    Call `resume` once the pipeline runs (after a restart), `start` or `run` for new
    sagas, and `close` before stopping the pipeline.
    """

    kind = "saga"

    def __init__(
        self,
        pipeline: Pipeline,
        store: SagaStore,
        sagas: Iterable[Saga],
        *,
        id: str = "saga-coordinator",
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(pipeline, store, id, rng)
        self.sagas = {saga.name: saga for saga in sagas}

    async def start(
        self, saga: str | Saga, data: dict[str, Any] | None = None, *, saga_id: str | None = None
    ) -> str:
        """Record and start a saga; its id. Starting an existing id resumes it, never twice."""
        name = saga if isinstance(saga, str) else saga.name
        return await self._begin(name, data or {}, saga_id)

    async def run(
        self, saga: str | Saga, data: dict[str, Any] | None = None, *, saga_id: str | None = None
    ) -> SagaRecord:
        """Start a saga and wait for it to end; the final record."""
        return await self.wait(await self.start(saga, data, saga_id=saga_id))

    async def retry(self, saga_id: str) -> SagaRecord:
        """Try the compensations of a ``failed`` saga again (after a human fixed the cause)."""
        record = self.status(saga_id)
        if record.status is not SagaStatus.FAILED:
            raise ConfigurationError(f"saga {saga_id!r} is {record.status}, not failed")
        self.store.set_status(saga_id, SagaStatus.COMPENSATING, record.reason)
        self._launch(self.status(saga_id))
        return await self.wait(saga_id)

    def _check_known(self, name: str) -> None:
        if name not in self.sagas:
            known = ", ".join(self.sagas) or "none"
            raise ConfigurationError(f"unknown saga {name!r} (this coordinator runs: {known})")

    async def _drive(self, run: RunState) -> SagaRecord:
        saga = self.sagas[run.name]
        if run.status is SagaStatus.RUNNING:
            failure = await self._forward(saga, run)
            if failure is None:
                self._finish(run, SagaStatus.COMPLETED, None)
                await self._emit("saga.completed", run.id, run.name, status="completed")
                return self.status(run.id)
            self._finish(run, SagaStatus.COMPENSATING, failure)
            await self._emit("saga.compensating", run.id, run.name, reason=failure)
        await self._compensate(saga, run)
        return self.status(run.id)

    async def _forward(self, saga: Saga, run: RunState) -> str | None:
        """Run the steps not done yet; the reason of the first failure, or None."""
        for step in saga.steps:
            entry = run.last(step.id)
            if entry is None or entry.action is Action.SENT:
                payload = self._payload(run, step, compensation=False)
                entry = await self._send(
                    run, step.id, step.agent, step.command, payload, step.timeout, Phase.COMMAND
                )
                if entry.action is Action.DONE:
                    await self._emit("saga.step_completed", run.id, run.name, step_id=step.id)
            if entry.action is not Action.DONE:
                return f"step {step.id!r} {entry.action.value}: {entry.detail.get('reason')}"
        return None

    async def _compensate(self, saga: Saga, run: RunState) -> None:
        """Compensate, last first, every step that was (or may have been) applied."""
        failures = []
        for step in reversed(saga.steps):
            entry = run.last(step.id)
            if step.compensation is None or entry is None:
                continue
            if entry.action not in (Action.DONE, Action.TIMED_OUT, Action.SENT):
                continue
            undone = run.last(step.id, Phase.COMPENSATION)
            if undone is not None and undone.action is Action.DONE:
                continue
            failure = await self._compensate_step(saga, run, step)
            if failure is not None:
                failures.append(failure)
        if failures:
            reason = f"{'; '.join(failures)} (saga was compensating because {run.reason})"
            self._finish(run, SagaStatus.FAILED, reason)
            await self._emit("saga.failed", run.id, run.name, reason=reason)
        else:
            self._finish(run, SagaStatus.COMPENSATED, run.reason)
            await self._emit("saga.compensated", run.id, run.name, reason=run.reason)

    async def _compensate_step(self, saga: Saga, run: RunState, step: SagaStep) -> str | None:
        assert step.compensation is not None
        backoff = saga.compensation_retry
        attempts = backoff.max_retries + 1
        for attempt in range(1, attempts + 1):
            payload = self._payload(run, step, compensation=True)
            entry = await self._send(
                run, step.id, step.agent, step.compensation, payload, step.timeout,
                Phase.COMPENSATION,
            )  # fmt: skip
            if entry.action is Action.DONE:
                await self._emit("saga.step_compensated", run.id, run.name, step_id=step.id)
                return None
            if attempt < attempts:
                await asyncio.sleep(backoff.delay(attempt, self._rng))
        reason = (
            f"compensation of step {step.id!r} failed after {attempts} attempt(s): "
            f"{entry.detail.get('reason')}"
        )
        run.note(
            self.store.append(
                run.id, step.id, Phase.COMPENSATION, Action.FAILED, {"reason": reason}
            )
        )
        return reason

    def _payload(self, run: RunState, step: SagaStep, *, compensation: bool) -> dict[str, Any]:
        key = f"{run.id}:{step.id}"
        payload = {
            **run.data,
            "saga_id": run.id,
            "step_id": step.id,
            "results": run.results(),
            KEY_FIELD: f"{key}:compensate" if compensation else key,
        }
        if compensation:
            payload["result"] = run.results().get(step.id)
        return payload
