"""Event marbles: each character is one second, ``ab`` is two events, ``(ab)`` one instant.

Before, a run of names went to reactivex's parser as one value: ``-ab-`` emitted the
string ``'ab'``, silently. Malformed diagrams now fail where they are written.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reactivex.notification import OnError, OnNext
from reactivex.testing import ReactiveTest, TestScheduler

from reagents.events import AgentEvent
from reagents.testing import cold_events, hot_events, marbles_of
from tests.hostile import hostile

A = AgentEvent(event_type="a")
B = AgentEvent(event_type="b")
C = AgentEvent(event_type="c")
NAMES = {"a": A, "b": B, "c": C}

on_next, on_completed = ReactiveTest.on_next, ReactiveTest.on_completed


def test_adjacent_names_are_events_a_second_apart() -> None:
    scheduler = TestScheduler()
    source = cold_events(scheduler, "-ab-c|", NAMES)
    result = scheduler.start(lambda: source)
    assert result.messages == [
        on_next(201, A),
        on_next(202, B),
        on_next(204, C),
        on_completed(205),
    ]
    assert marbles_of(result.messages, NAMES) == "-ab-c|"


@pytest.mark.parametrize("group", ["(ab)", "(a,b)", "(a, b)"])
def test_a_group_is_one_instant_and_takes_its_length(group: str) -> None:
    scheduler = TestScheduler()
    source = hot_events(scheduler, f"-{group}c|", NAMES)
    result = scheduler.start(lambda: source)
    end = 201 + len(group.replace(" ", ""))
    assert result.messages == [
        on_next(201, A),
        on_next(201, B),
        on_next(end, C),
        on_completed(end + 1),
    ]


def test_an_error_and_padding_after_the_end() -> None:
    scheduler = TestScheduler()
    result = scheduler.start(lambda: cold_events(scheduler, "a-#--", NAMES))
    assert [m.time for m in result.messages] == [200, 202]
    failure = result.messages[1].value
    assert isinstance(failure, OnError)
    assert str(failure.exception) == "error"


@pytest.mark.parametrize(
    ("diagram", "problem", "position"),
    [
        ("a(b", "'(' never closed", 1),
        ("a)b", "')' closes no group", 1),
        ("a,b", "',' outside a group (write (a,b) for a and b at once)", 1),
        ("((a))", "groups do not nest", 1),
        ("-()", "an empty group", 1),
        ("(a-b)", "'-' inside a group", 2),
        ("a|b", "'b' after '|'", 2),
        ("a#|", "'|' after '#'", 2),
        ("(|a)", "'a' after '|'", 2),
    ],
)
def test_malformed_diagrams_say_what_and_where(diagram: str, problem: str, position: int) -> None:
    with pytest.raises(ValueError, match="marble diagram") as caught:
        cold_events(TestScheduler(), diagram, NAMES)
    assert f"{problem} at position {position}" in str(caught.value)


@pytest.mark.parametrize("names", [{"ab": A}, {"-": A}, {"": A}, {"a": A, "(": B}])
def test_event_names_are_single_characters_outside_the_syntax(names: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="single characters"):
        hot_events(TestScheduler(), "-a-|", names)


# -- hostile diagrams -------------------------------------------------------------------


@hostile(500)
@given(st.text(st.sampled_from("-|#(), abcx") | st.characters(), max_size=40))
def test_hostile_diagrams_make_events_or_say_why(diagram: str) -> None:
    try:
        messages = cold_events(TestScheduler(), diagram, NAMES).messages
    except KeyError as error:
        refusal = str(error)
    except ValueError as error:
        refusal = str(error)
    else:
        refusal = ""
    if refusal:
        assert "missing from `events`" in refusal or refusal.startswith("marble diagram")
        return
    notes = [m.value for m in messages]
    assert all(isinstance(n.value, AgentEvent) for n in notes if isinstance(n, OnNext))
    assert sum(not isinstance(n, OnNext) for n in notes) <= 1  # at most one | or #


instants = st.lists(st.sampled_from("abc"), min_size=1, max_size=3, unique=True)


@hostile(300)
@given(st.lists(st.tuples(st.integers(0, 3), instants), max_size=8), st.booleans())
def test_well_formed_diagrams_read_back_as_written(
    steps: list[tuple[int, list[str]]], complete: bool
) -> None:
    diagram, expected, tick = "", [], 0
    for gap, names in steps:
        drawn = names[0] if len(names) == 1 else "(" + ",".join(names) + ")"
        diagram += "-" * gap + drawn
        tick += gap
        expected += [on_next(200 + tick, NAMES[n]) for n in names]
        tick += len(drawn)
    if complete:
        diagram += "|"
        expected.append(on_completed(200 + tick))
    scheduler = TestScheduler()
    result = scheduler.start(lambda: cold_events(scheduler, diagram, NAMES))
    assert result.messages == expected
    assert marbles_of(result.messages, NAMES) == diagram
