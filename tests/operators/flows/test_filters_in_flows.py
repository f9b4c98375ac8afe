"""Filters, `deduplicate` and `throttle` in a flow: what they drop is released."""

from __future__ import annotations

from reactivex.testing import TestScheduler

from reagents.events import AgentEvent
from reagents.operators import deduplicate, throttle, where
from reagents.testing import Ledger, held_marbles, run_flow

BIG = AgentEvent(event_type="order", payload={"qty": 50})
SMALL = AgentEvent(event_type="order", payload={"qty": 1})


def test_a_where_filter_releases_what_it_rejects() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-|", {"a": BIG, "b": SMALL}, ledger)
    run = run_flow(scheduler, source, where("payload.qty > 10"))
    assert run.values == [(201.0, BIG)]
    assert ledger.released == {"a": [201.0], "b": [203.0]}


def test_deduplicate_releases_a_repeated_event() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-c-|", {"a": BIG, "b": SMALL, "c": BIG}, ledger)
    run = run_flow(scheduler, source, deduplicate())
    assert run.values == [(201.0, BIG), (203.0, SMALL)]
    assert ledger.released == {"a": [201.0], "b": [203.0], "c": [205.0]}


def test_throttle_paces_held_values_and_keeps_their_receipts() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-(a,b,c)-|", {"a": 1, "b": 2, "c": 3}, ledger)
    run = run_flow(scheduler, source, throttle(1, per=2.0))
    assert run.values == [(201.0, 1), (203.0, 2), (205.0, 3)]
    assert ledger.released == {"a": [201.0], "b": [203.0], "c": [205.0]}
