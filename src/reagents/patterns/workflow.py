"""Workflows: a DAG of agent steps with fan-out, fan-in, timeouts and retries; resumable.

A `Workflow` is a set of `WorkflowStep` (agent, command, ``depends_on``, timeout,
retry policy). `WorkflowCoordinator` starts every step whose dependencies are done, so
independent steps run at once (fan-out) and a step with several dependencies waits
for all of them (fan-in)::

            ┌─> prices ──┐
    fetch ──┤            ├──> report
            └─> news ────┘

A step's command payload is the workflow's input data plus ``workflow_id``,
``step_id``, ``idempotency_key`` (``"<workflow_id>:<step_id>"``, the same for every
retry) and ``inputs``: the answers of the steps it depends on, by step id.

A step whose request errs (``agent_error``) or times out is retried after its
`Backoff` delay; a rejection (``status: failure`` in the answer) is final. When a step
fails for good no new step starts, the running ones finish, and the workflow ends
``failed`` with the reason; otherwise it ends ``completed`` and `SagaRecord.results`
holds every step's answer. There is no compensation: use a saga for that.

Durability and delivery are those of `reagents.patterns.saga` (same store, same log:
``sent`` written before each request, the outcome after it): after a crash `resume`
keeps every completed step's answer, sends an unanswered step again with the same
idempotency key (a fresh set of retries), and goes on through the graph. Status
events: ``workflow.started``, ``workflow.resumed``, ``workflow.step_completed``,
``workflow.completed``, ``workflow.failed``.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from reagents.errors import ConfigurationError
from reagents.patterns.coordinator import CoordinatorBase, RunState, StoreChoice, check_id
from reagents.patterns.idempotency import KEY_FIELD
from reagents.patterns.saga_store import Action, LogEntry, Phase, SagaRecord, SagaStatus
from reagents.pipelines.pipeline import Pipeline
from reagents.policies import Backoff

__all__ = ["Workflow", "WorkflowCoordinator", "WorkflowStep"]

_NO_RETRY = Backoff(max_retries=0)


@dataclass(frozen=True)
class WorkflowStep:
    """One node: ``command`` sent to ``agent`` once every step in ``depends_on`` is done."""

    id: str
    agent: str
    command: str
    depends_on: tuple[str, ...] = ()
    timeout: float = 30.0
    retry: Backoff = field(default=_NO_RETRY)

    def __post_init__(self) -> None:
        check_id("step", self.id)
        object.__setattr__(self, "depends_on", tuple(self.depends_on))
        if self.timeout <= 0:
            raise ConfigurationError(f"step {self.id!r}: timeout must be positive seconds")


@dataclass(frozen=True)
class Workflow:
    """A named DAG of steps; rejects unknown dependencies and cycles when declared."""

    name: str
    steps: tuple[WorkflowStep, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        if not self.steps:
            raise ConfigurationError(f"workflow {self.name!r} has no steps")
        ids = [step.id for step in self.steps]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ConfigurationError(f"workflow {self.name!r} repeats step ids {duplicates}")
        for step in self.steps:
            unknown = [d for d in step.depends_on if d not in ids]
            if unknown:
                raise ConfigurationError(
                    f"workflow {self.name!r}: step {step.id!r} depends on unknown {unknown}"
                )
        self.order()

    def order(self) -> list[str]:
        """Step ids in an order that respects every dependency (Kahn's algorithm)."""
        waiting = {step.id: set(step.depends_on) for step in self.steps}
        ordered: list[str] = []
        while waiting:
            ready = [step for step, deps in waiting.items() if not deps]
            if not ready:
                raise ConfigurationError(
                    f"workflow {self.name!r} has a dependency cycle among {sorted(waiting)}"
                )
            for step in ready:
                del waiting[step]
                ordered.append(step)
            for deps in waiting.values():
                deps.difference_update(ready)
        return ordered


class WorkflowCoordinator(CoordinatorBase):
    """Runs workflows over a running pipeline; `resume` continues unfinished ones.

    ``store`` is a `SagaStore` (left open: the caller closes it) or a SQLite file path
    (opened here and closed by `close`, or at the end of ``async with``).
    """

    kind = "workflow"

    def __init__(
        self,
        pipeline: Pipeline,
        store: StoreChoice,
        workflows: Iterable[Workflow],
        *,
        id: str = "workflow-coordinator",
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(pipeline, store, id, rng)
        self.workflows = {workflow.name: workflow for workflow in workflows}

    async def start(
        self,
        workflow: str | Workflow,
        data: dict[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
    ) -> str:
        """Record and start a workflow; its id (an existing id is resumed, never doubled)."""
        name = workflow if isinstance(workflow, str) else workflow.name
        return await self._begin(name, data or {}, workflow_id)

    async def run(
        self,
        workflow: str | Workflow,
        data: dict[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
    ) -> SagaRecord:
        """Start a workflow and wait for it to end; the final record."""
        return await self.wait(await self.start(workflow, data, workflow_id=workflow_id))

    def _check_known(self, name: str) -> None:
        if name not in self.workflows:
            known = ", ".join(self.workflows) or "none"
            raise ConfigurationError(f"unknown workflow {name!r} (this coordinator runs: {known})")

    async def _drive(self, run: RunState) -> SagaRecord:
        workflow = self.workflows[run.name]
        done = set(run.results())
        failures = [
            f"step {step.id!r} failed: {entry.detail.get('reason')}"
            for step in workflow.steps
            if (entry := run.last(step.id)) is not None
            and entry.action in (Action.FAILED, Action.REJECTED)
        ]
        running: dict[asyncio.Task[LogEntry], WorkflowStep] = {}
        try:
            while True:
                if not failures:
                    for step in workflow.steps:
                        started = step.id in done or step in running.values()
                        if not started and done.issuperset(step.depends_on):
                            running[asyncio.create_task(self._step(run, step))] = step
                if not running:
                    break
                finished, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in finished:
                    step, entry = running.pop(task), task.result()
                    if entry.action is Action.DONE:
                        done.add(step.id)
                        await self._emit(
                            "workflow.step_completed", run.id, run.name, step_id=step.id
                        )
                    else:
                        failures.append(f"step {step.id!r} failed: {entry.detail.get('reason')}")
        finally:
            for task in running:
                task.cancel()
        if failures:
            reason = "; ".join(failures)
            self._finish(run, SagaStatus.FAILED, reason)
            await self._emit("workflow.failed", run.id, run.name, reason=reason)
        else:
            self._finish(run, SagaStatus.COMPLETED, None)
            await self._emit("workflow.completed", run.id, run.name, status="completed")
        return self.status(run.id)

    async def _step(self, run: RunState, step: WorkflowStep) -> LogEntry:
        """Send the step's command until it is done, rejected, or out of retries."""
        attempts = step.retry.max_retries + 1
        for attempt in range(1, attempts + 1):
            inputs = {dep: run.results().get(dep) for dep in step.depends_on}
            payload = {
                **run.data,
                "workflow_id": run.id,
                "step_id": step.id,
                "inputs": inputs,
                KEY_FIELD: f"{run.id}:{step.id}",
            }
            entry = await self._send(
                run, step.id, step.agent, step.command, payload, step.timeout, Phase.COMMAND
            )
            if entry.action in (Action.DONE, Action.REJECTED):
                return entry
            if attempt < attempts:
                await asyncio.sleep(step.retry.delay(attempt, self._rng))
        reason = f"{attempts} attempt(s), last: {entry.detail.get('reason')}"
        failed = self.store.append(
            run.id, step.id, Phase.COMMAND, Action.FAILED, {"reason": reason}
        )
        run.note(failed)
        return failed
