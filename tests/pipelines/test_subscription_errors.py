"""A subscription filter that raises on some event never ends a run.

The event does not match that subscription; every other subscriber still gets it,
the agent's stats count it (``filter_errors``) and one WARNING names the filter.
Before, the error escaped the router: `SourceFailedError` for a source's event.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence

import pytest

from reagents.delivery import Incoming
from reagents.errors import FilterEvaluationError
from reagents.events import AgentEvent
from reagents.operators.filters import Filter, where_jsonpath, where_type
from reagents.pipelines.pipeline import Pipeline
from reagents.pipelines.router import Router
from reagents.sinks.memory import MemoryDeadLetters, MemorySink
from reagents.sources.base import Source

# jsonpath-ng's `sorted` compares the list's items: str < int raises TypeError
SORTED_ITEMS = "$.payload.items.`sorted`[?(@ > 1)]"


def quote(*items: object) -> AgentEvent:
    return AgentEvent(event_type="quote", payload={"items": list(items)})


class Finite(Source):
    """A source of a few events; records what it acknowledged."""

    def __init__(self, events: Sequence[AgentEvent]) -> None:
        self.name = "finite"
        self.events = list(events)
        self.acked: list[str] = []

    async def batches(self) -> AsyncIterator[Sequence[Incoming]]:
        yield [Incoming(e, ack=self._acker(e.event_id), origin="finite") for e in self.events]

    def _acker(self, event_id: str):  # type: ignore[no-untyped-def]
        return lambda: self.acked.append(event_id)


def test_a_jsonpath_failing_on_some_data_raises_a_typed_error() -> None:
    rule = where_jsonpath(SORTED_ITEMS)
    assert rule.matches(quote(1, 2, 3))
    with pytest.raises(FilterEvaluationError, match=r"jsonpath .*sorted.* TypeError") as caught:
        rule.matches(quote(1, "a"))
    assert isinstance(caught.value.__cause__, TypeError)


def test_the_router_counts_a_raising_filter_as_no_match_and_says_which() -> None:
    told: list[tuple[str, Filter, str]] = []
    router: Router[str] = Router(
        lambda sub, f, e, error: told.append((sub, f, type(error).__name__))
    )
    failing = where_jsonpath(SORTED_ITEMS)
    router.add("fragile", failing, rank=1)
    router.add("steady", where_type("quote"))
    assert router.match(quote(1, "a")) == ["steady"]
    assert told == [("fragile", failing, "FilterEvaluationError")]
    assert router.match(quote(1, 5)) == ["fragile", "steady"]


def test_the_default_handler_logs_a_warning_naming_the_filter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    router: Router[str] = Router()
    router.add("picky", Filter(lambda e: e.payload["missing"] == 1))
    with caplog.at_level(logging.WARNING):
        assert router.match(quote()) == []
    assert "subscriber picky: filter Filter raised" in caplog.text
    assert "KeyError" in caplog.text


async def test_a_pipeline_runs_on_when_a_subscription_raises(
    caplog: pytest.LogCaptureFixture,
) -> None:
    letters = MemoryDeadLetters()
    pipeline = Pipeline("fragile-filters", dead_letters=letters)
    seen = MemorySink(name="all")
    pipeline.add_sink(seen)
    got: dict[str, list[str]] = {"fragile": [], "picky": [], "steady": []}

    @pipeline.agent(subscription=where_type("quote") & where_jsonpath(SORTED_ITEMS))
    def fragile(e: AgentEvent) -> None:
        got["fragile"].append(e.event_id)

    @pipeline.agent(subscription=where_type("quote") & Filter(lambda e: e.payload["items"][3] == 0))
    def picky(e: AgentEvent) -> None:
        got["picky"].append(e.event_id)

    @pipeline.agent(subscription="type = quote")
    def steady(e: AgentEvent) -> AgentEvent:
        got["steady"].append(e.event_id)
        return e.derive("priced", {"items": [len(e.payload["items"])]})

    events = [quote(1, "a"), quote(3, 2, 1, 0), quote("b", 2), quote(5)]
    source = Finite(events)
    pipeline.add_source(source)
    with caplog.at_level(logging.WARNING):
        await pipeline.run()  # before: SourceFailedError (TypeError in the router)

    ids = [e.event_id for e in events]
    assert got["steady"] == ids
    assert got["fragile"] == [ids[1], ids[3]]  # sorted works on numbers only
    assert got["picky"] == [ids[1]]  # the other events have no fourth item
    assert sorted(source.acked) == sorted(ids)
    assert [e.event_type for e in seen.events].count("priced") == 4
    assert not letters.letters
    stats = pipeline.stats()
    assert (stats["fragile"].filter_errors, stats["picky"].filter_errors) == (2, 3)
    assert stats["steady"].filter_errors == 0
    warnings = [r for r in caplog.records if "counts as no match" in r.getMessage()]
    assert len(warnings) == 2  # once per agent, not once per event
    assert "agent fragile: its subscription type = quote AND jsonpath" in warnings[0].getMessage()
