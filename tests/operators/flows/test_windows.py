"""`tumbling` and `hopping` windows: lists per window, acks held until handled."""

from __future__ import annotations

import pytest
from reactivex.testing import TestScheduler

from reagents.errors import ConfigurationError
from reagents.operators import hopping, tumbling
from reagents.testing import Ledger, held_marbles, run_flow

VALUES = {c: c for c in "abcdefg"}


def test_tumbling_windows_are_sent_when_they_end() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b--c--d---|", VALUES, ledger)
    run = run_flow(scheduler, source, tumbling(3.0))
    # windows are aligned to the clock: [201, 204), [204, 207), [207, 210)
    assert run.values == [(204.0, ["a", "b"]), (207.0, ["c"]), (210.0, ["d"])]
    assert ledger.released == {"a": [204.0], "b": [204.0], "c": [207.0], "d": [210.0]}
    assert run.completed == 213.0
    assert ledger.outstanding() == []


def test_completion_flushes_the_open_window() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b|", VALUES, ledger)
    run = run_flow(scheduler, source, tumbling(10.0))
    assert run.values == [(204.0, ["a", "b"])]
    assert ledger.released == {"a": [204.0], "b": [204.0]}


def test_a_value_in_two_hopping_windows_is_released_once_per_window() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b--c------|", VALUES, ledger)
    run = run_flow(scheduler, source, hopping(4.0, every=2.0))
    assert run.values == [
        (202.0, ["a"]),  # window [198, 202)
        (204.0, ["a", "b"]),  # [200, 204)
        (206.0, ["b"]),  # [202, 206)
        (208.0, ["c"]),  # [204, 208)
        (210.0, ["c"]),  # [206, 210)
    ]
    assert ledger.released == {
        "a": [202.0, 204.0],
        "b": [204.0, 206.0],
        "c": [208.0, 210.0],
    }
    assert ledger.outstanding() == []


def test_a_disposed_window_releases_nothing() -> None:
    scheduler = TestScheduler()
    ledger = Ledger(scheduler)
    source = held_marbles(scheduler, "-a-b------|", VALUES, ledger)
    run = run_flow(scheduler, source, tumbling(10.0), disposed=205.0)
    assert run.values == []
    assert ledger.outstanding() == ["a", "b"]


def test_window_settings_are_checked_at_declaration() -> None:
    with pytest.raises(ConfigurationError, match="size"):
        tumbling(0)
    with pytest.raises(ConfigurationError, match="gaps"):
        hopping(2.0, every=5.0)
