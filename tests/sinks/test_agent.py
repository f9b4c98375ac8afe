"""`Agent` declarations: which errors are not worth retrying (``no_retry``)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from reagents import Agent, AgentEvent
from reagents.errors import ConfigurationError
from reagents.sinks.agent import NoRetry


def noop(event: AgentEvent) -> None:
    return None


def test_no_retry_names_the_listed_class_an_error_is_an_instance_of() -> None:
    agent = Agent(noop, no_retry=(LookupError, ValueError))
    assert agent.not_retried(KeyError("k")) == "not retried: no_retry lists LookupError"
    assert agent.not_retried(ConnectionError()) is None
    assert Agent(noop).not_retried(ValueError()) is None


def test_a_subclass_declares_no_retry_as_a_class_attribute() -> None:
    class Parser(Agent):
        no_retry: ClassVar[NoRetry | None] = ValueError

        def handle(self, event: AgentEvent) -> None:
            return None

    assert Parser().not_retried(ValueError("x")) == "not retried: no_retry lists ValueError"
    assert Parser(no_retry=KeyError).not_retried(ValueError("x")) is None


@pytest.mark.parametrize("value", [("ValueError",), (ValueError, int), 42])
def test_no_retry_refuses_what_is_neither_exception_classes_nor_a_predicate(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="no_retry takes exception classes"):
        Agent(noop, id="a", no_retry=value)
