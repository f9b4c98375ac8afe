"""`Agent`: the reacting sink — a handler, the events it subscribes to, and its limits.

An agent may declare a flow (an Rx operator chain after its subscription): its
handler then receives what the flow emits — an event, or a list of events from a
batch or window — so `Agent` is generic in that input (``Agent[list[AgentEvent]]``).
What a handler may return, and how that becomes events: `reagents.sinks.outputs`.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypedDict

import reactivex
from reactivex import Observable
from typing_extensions import TypeVar

from reagents.delivery import Held
from reagents.errors import ConfigurationError
from reagents.events import AgentEvent
from reagents.operators._flow import FlowContext, FlowSpec, as_flow, build_flow
from reagents.operators.expression import where
from reagents.operators.filters import Filter, any_event
from reagents.policies import Backoff, FlowTime, ProcessingTime, RateLimit
from reagents.schemas import PayloadSchema, PayloadValidator, compile_schema
from reagents.sinks.outputs import HandlerResult

__all__ = ["Agent", "AgentOptions", "InT", "NoRetry"]

InT = TypeVar("InT", default=AgentEvent)
"""What the handler receives: an event, or what the agent's flow emits (a list...)."""

NoRetry = type[Exception] | tuple[type[Exception], ...] | Callable[[Exception], bool]
"""Errors not worth retrying: exception classes, or a predicate on the error."""

_AGENT_ID = re.compile(r"^[A-Za-z0-9_.:\-]+$")
_log = logging.getLogger(__name__)


def _subscription(value: Filter | str | None, agent_id: str) -> Filter:
    if value is None:
        return any_event()
    if isinstance(value, Filter):
        return value
    if isinstance(value, str):
        return where(value)
    raise ConfigurationError(
        f"agent {agent_id!r}: subscription must be a Filter or a where(...) expression "
        f"string, not {type(value).__name__}"
    )


class AgentOptions(TypedDict, total=False):
    """The settings of an `Agent` besides its handler and id (see `Agent`)."""

    subscription: Filter | str | None
    max_concurrent: int | None
    priority: int | None
    retry: Backoff | None
    no_retry: NoRetry | None
    rate: RateLimit | None
    timeout: float | None
    input_schema: PayloadSchema | None
    output_schema: PayloadSchema | None
    capability: str | None
    flow: FlowSpec | None
    flow_time: FlowTime | None


class Agent(Generic[InT]):
    """An event handler with a subscription and limits; subclass it for stateful agents.

    Either pass ``handler`` or override `handle`. ``input_schema`` / ``output_schema``
    (pydantic models or JSON Schema) declare the agent's capability: an input that does
    not fit is dead-lettered without calling the handler; an output that does not fit
    fails the step like an exception would. A failure is retried as ``retry`` (a
    `Backoff`) says, unless ``no_retry`` declares it not worth retrying (exception
    classes such as ``(ValueError, KeyError)``, or a predicate on the error): then it is
    dead-lettered at once, its reason saying so. Class attributes (``subscription``,
    ``max_concurrent``, ...) act as defaults for subclasses, so a stateful agent can be
    declared in one place::

        class Trader(Agent):
            subscription = "type = market_data AND payload.volume > 0"
            max_concurrent = 4

            async def handle(self, event):
                ...
    """

    subscription: ClassVar[Filter | str | None] = None
    max_concurrent: ClassVar[int] = 1
    priority: ClassVar[int] = 5
    retry: ClassVar[Backoff | None] = None
    no_retry: ClassVar[NoRetry | None] = None
    rate: ClassVar[RateLimit | None] = None
    timeout: ClassVar[float | None] = None
    input_schema: ClassVar[PayloadSchema | None] = None
    output_schema: ClassVar[PayloadSchema | None] = None
    capability: ClassVar[str | None] = None
    flow: FlowSpec | None = None
    flow_time: FlowTime = ProcessingTime()

    def __init__(
        self,
        handler: Callable[[InT], HandlerResult] | None = None,
        *,
        id: str | None = None,
        subscription: Filter | str | None = None,
        max_concurrent: int | None = None,
        priority: int | None = None,
        retry: Backoff | None = None,
        no_retry: NoRetry | None = None,
        rate: RateLimit | None = None,
        timeout: float | None = None,
        input_schema: PayloadSchema | None = None,
        output_schema: PayloadSchema | None = None,
        capability: str | None = None,
        flow: FlowSpec | None = None,
        flow_time: FlowTime | None = None,
    ) -> None:
        agent_id = id or getattr(handler, "__name__", None) or _snake(type(self).__name__)
        if not _AGENT_ID.match(agent_id):
            raise ConfigurationError(
                f"agent id {agent_id!r} may only contain letters, digits and _ . : -"
            )
        if handler is None and type(self).handle is Agent.handle:
            raise ConfigurationError(
                f"agent {agent_id!r} has no handler: pass handler=... or override handle()"
            )
        self.id = agent_id
        self._handler = handler
        cls = type(self)
        chosen = subscription if subscription is not None else cls.subscription
        self.filter: Filter = _subscription(chosen, agent_id)
        self.concurrency = max_concurrent if max_concurrent is not None else cls.max_concurrent
        self.rank = priority if priority is not None else cls.priority
        self.backoff = retry or cls.retry or Backoff()
        chosen_no_retry = no_retry if no_retry is not None else cls.no_retry
        self._not_retried = _not_retried(chosen_no_retry, agent_id)
        self.rate_limit = rate or cls.rate
        self.handler_timeout = timeout if timeout is not None else cls.timeout
        self.capability_type = capability or cls.capability
        self.input_validator = _validator(input_schema or cls.input_schema, agent_id, "input")
        self.output_validator = _validator(output_schema or cls.output_schema, agent_id, "output")
        self.flow = flow if flow is not None else cls.flow
        self.flow_time = flow_time or cls.flow_time
        self.flow_steps: tuple[str, ...] = ()
        if self.flow is not None:  # refuse what cannot keep acks now, not at run time
            probe = as_flow(reactivex.never(), context=_Probe())
            self.flow_steps = build_flow(self.flow, probe, agent_id).steps
        self._check_limits()

    def _check_limits(self) -> None:
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ConfigurationError(
                f"agent {self.id!r}: max_concurrent must be a positive integer, "
                f"got {self.concurrency!r}"
            )
        if not 1 <= self.rank <= 10:
            raise ConfigurationError(
                f"agent {self.id!r}: priority must be between 1 (first) and 10, got {self.rank}"
            )
        if self.handler_timeout is not None and self.handler_timeout <= 0:
            raise ConfigurationError(
                f"agent {self.id!r}: timeout must be positive seconds, got {self.handler_timeout}"
            )

    def not_retried(self, error: Exception) -> str | None:
        """Why ``error`` is not worth retrying (``no_retry`` matches it), or ``None``."""
        return None if self._not_retried is None else self._not_retried(error)

    def handle(self, event: InT) -> HandlerResult:
        """React to one event (or flow output); the default calls the given handler."""
        assert self._handler is not None
        return self._handler(event)

    @property
    def description(self) -> str | None:
        """What the agent does, for a model offered it as a tool: its capability,
        else its handler's (or subclass's) docstring; ``None`` when none says."""
        if self.capability_type:
            return self.capability_type
        documented = self._handler if self._handler is not None else type(self)
        if documented is Agent:
            return None
        return inspect.getdoc(documented)

    def describe(self) -> str:
        """A short label for graphs and logs."""
        return f"{self.id} [{self.filter.describe()}]"

    def __repr__(self) -> str:
        return f"<Agent {self.id} subscription={self.filter.describe()!r}>"


class _Probe(FlowContext):
    """Side inputs at declaration: an empty stream (the pipeline wires the real one)."""

    def side_input(self, subscription: object, name: str) -> Observable[Held[Any]]:
        return as_flow(reactivex.never(), context=self)


def _not_retried(value: NoRetry | None, agent_id: str) -> Callable[[Exception], str | None] | None:
    """``no_retry`` as a function that says why an error is not retried (or ``None``)."""
    if value is None:
        return None
    if isinstance(value, (type, tuple)):
        classes = value if isinstance(value, tuple) else (value,)
        for kind in classes:
            if not (isinstance(kind, type) and issubclass(kind, Exception)):
                raise ConfigurationError(
                    f"agent {agent_id!r}: no_retry takes exception classes or a predicate, "
                    f"not {kind!r}"
                )

        def listed(error: Exception) -> str | None:
            match = next((kind for kind in classes if isinstance(error, kind)), None)
            return None if match is None else f"not retried: no_retry lists {match.__name__}"

        return listed
    if not callable(value):
        raise ConfigurationError(
            f"agent {agent_id!r}: no_retry takes exception classes or a predicate, "
            f"not {type(value).__name__}"
        )
    predicate = value

    def judged(error: Exception) -> str | None:
        try:
            permanent = predicate(error)
        except Exception:  # a broken predicate must not lose the event: retry as usual
            _log.exception("agent %s: its no_retry predicate raised", agent_id)
            return None
        return "not retried: the no_retry predicate is true for it" if permanent else None

    return judged


def _validator(schema: PayloadSchema | None, agent_id: str, side: str) -> PayloadValidator | None:
    return None if schema is None else compile_schema(schema, f"{agent_id} {side}")


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
