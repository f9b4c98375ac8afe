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
from typing import Any

from reagents.errors import ConfigurationError
from reagents.patterns.coordinator import (
    CoordinatorBase,
    RunState,
    StoreChoice,
    check_id,
    is_rejection,
)
from reagents.patterns.idempotency import KEY_FIELD, reject
from reagents.patterns.saga_store import Action, Phase, SagaRecord, SagaStatus
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Backoff

__all__ = [
    "Saga",
    "SagaCoordinator",
    "SagaStep",
    "is_rejection",
    "reject",
]

logger = logging.getLogger(__name__)


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


class SagaCoordinator(CoordinatorBase):
    """Runs sagas over a running pipeline and resumes the unfinished ones after a restart.

    Call `resume` once the pipeline runs (after a restart), `start` or `run` for new
    sagas, and `close` before stopping the pipeline (or use ``async with``). ``store``
    is a `SagaStore` (left open: the caller closes it) or a SQLite file path (opened
    here and closed by `close`).
    """

    kind = "saga"

    def __init__(
        self,
        pipeline: Pipeline,
        store: StoreChoice,
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
