"""`batch`: lists by count or time; a batch holds its members' acks until handled."""

from __future__ import annotations

import pytest
from reactivex.testing import TestScheduler

from reagents.errors import ConfigurationError
from reagents.operators import batch
from reagents.testing import Ledger, held_marbles, run_flow

VALUES = {c: c for c in "abcdefg"}


def test_a_batch_is_sent_when_full() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b-c-d|", VALUES, ledger)
    run = run_flow(scheduler, source, batch(2))
    assert run.values == [(203.0, ["a", "b"]), (207.0, ["c", "d"])]
    assert ledger.released == {"a": [203.0], "b": [203.0], "c": [207.0], "d": [207.0]}
    assert run.completed == 208.0
    assert ledger.outstanding() == []


def test_a_batch_is_sent_within_seconds_of_its_first_member() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b--c-d-------e----|", VALUES, ledger)
    run = run_flow(scheduler, source, batch(3, within=3.0))
    assert run.values == [(204.0, ["a", "b"]), (209.0, ["c", "d"]), (219.0, ["e"])]
    assert ledger.released == {
        "a": [204.0],
        "b": [204.0],
        "c": [209.0],
        "d": [209.0],
        "e": [219.0],
    }
    assert run.completed == 221.0


def test_completion_sends_what_is_left_and_nothing_is_released_early() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b------|", VALUES, ledger)
    run = run_flow(scheduler, source, batch(5))
    assert run.values == [(210.0, ["a", "b"])]
    assert ledger.released == {"a": [210.0], "b": [210.0]}


def test_a_disposed_batch_releases_nothing_so_its_inputs_are_delivered_again() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b------|", VALUES, ledger)
    run = run_flow(scheduler, source, batch(5), disposed=205.0)
    assert run.values == []
    assert ledger.released == {}
    assert ledger.outstanding() == ["a", "b"]


def test_a_count_only_batch_declares_what_it_may_hold() -> None:
    scheduler = TestScheduler()
    source = held_marbles(scheduler, "-a|", VALUES, Ledger(scheduler))
    assert source.pipe(batch(100)).hold == 99  # type: ignore[attr-defined]
    assert source.pipe(batch(100, within=1.0)).hold == 0  # type: ignore[attr-defined]


def test_bad_settings_fail_at_declaration() -> None:
    with pytest.raises(ConfigurationError, match="count"):
        batch(0)
    with pytest.raises(ConfigurationError, match="within"):
        batch(2, within=0)


def test_a_plain_observable_is_refused_with_what_to_do() -> None:
    from reactivex import operators as ops

    scheduler = TestScheduler()
    source = held_marbles(scheduler, "-a|", VALUES, Ledger(scheduler))
    with pytest.raises(ConfigurationError, match=r"each\(\.\.\.\)"):
        source.pipe(ops.delay(1.0), batch(2))


def test_a_letter_repeated_in_a_diagram_is_a_value_with_a_receipt_of_its_own() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-a-b|", VALUES, ledger)
    run = run_flow(scheduler, source, batch(2))
    assert run.values == [(203.0, ["a", "a"]), (206.0, ["b"])]
    assert ledger.released == {"a": [203.0, 203.0], "b": [206.0]}
    assert ledger.outstanding() == []
