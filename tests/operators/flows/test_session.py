"""`session`: values less than ``gap`` apart form one window."""

from __future__ import annotations

from reactivex.testing import TestScheduler

from reagents.operators import session
from reagents.testing import Ledger, held_marbles, run_flow

VALUES = {c: c for c in "abcdefg"}


def test_a_session_closes_gap_seconds_after_its_last_value() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b----c-d-e-----|", VALUES, ledger)
    run = run_flow(scheduler, source, session(3.0))
    assert run.values == [(206.0, ["a", "b"]), (215.0, ["c", "d", "e"])]
    assert ledger.released == {
        "a": [206.0],
        "b": [206.0],
        "c": [215.0],
        "d": [215.0],
        "e": [215.0],
    }
    assert run.completed == 218.0


def test_completion_sends_the_open_session() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b|", VALUES, ledger)
    run = run_flow(scheduler, source, session(5.0))
    assert run.values == [(204.0, ["a", "b"])]
    assert ledger.outstanding() == []
