"""Shared settings of the property tests that feed each surface hostile input.

Each property names the only exceptions allowed to escape and bounds the time of one
example (``deadline``). Budgets are small enough for CI; ``REAGENTS_HOSTILE_SCALE=N``
multiplies every one, for a longer hunt, e.g.::

    REAGENTS_HOSTILE_SCALE=20 pytest -k hostile --hypothesis-show-statistics
"""

from __future__ import annotations

import os
from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from reagents.events import AgentEvent

__all__ = [
    "DEADLINE",
    "any_character",
    "backtracking_text",
    "hostile",
    "hostile_events",
    "hostile_regexes",
    "hostile_strings",
]

SCALE = max(1, int(os.environ.get("REAGENTS_HOSTILE_SCALE") or "1"))

DEADLINE = timedelta(seconds=1)
"""Far above what one example needs (microseconds to milliseconds), far below what
catastrophic backtracking or a hang takes; generous for a shared 2-core machine."""


def hostile(examples: int) -> settings:
    """Hypothesis settings: ``examples`` inputs (times the scale), the shared deadline."""
    return settings(
        max_examples=examples * SCALE,
        deadline=DEADLINE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
any_character = st.characters(codec=None, exclude_categories=()) | surrogates
"""Any code point, lone surrogates included (text no UTF-8 encoder accepts)."""

hostile_strings = st.one_of(
    st.text(max_size=30),
    st.text("aA!*?.()[]{}\\'\"", max_size=60),
    st.integers(0, 60).map(lambda n: "a" * n + "!"),
    st.sampled_from(["", " ", "\x00", "\u212a", "\u017f", "日本語", "ß", "\U0001f600"]),
)
"""Text that trips parsers and regexes: quotes, metacharacters, long runs, odd Unicode."""

_numbers = st.one_of(
    st.integers(),
    st.integers(-3, 3).map(lambda sign: sign * 10**4000 + sign),  # past int(str) limits
    st.floats(),  # inf and nan too
    st.sampled_from([0, -0.0, True, False, 2**63, -(2**63) - 1]),
)
_leaves = st.none() | _numbers | hostile_strings
_json = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_strings, inner, max_size=4),
    max_leaves=20,
)


def _deep(depth: int) -> object:
    value: object = "deep"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


hostile_payloads = st.one_of(
    st.dictionaries(
        hostile_strings | st.sampled_from(["s", "n", "l", "d", "0"]), _json, max_size=6
    ),
    st.integers(0, 150).map(lambda depth: {"d": _deep(depth)}),
)

hostile_events = st.builds(
    AgentEvent,
    event_type=hostile_strings.map(lambda t: t if t.strip() else f"x{t}"),
    source_agent=hostile_strings,
    target_agents=st.lists(hostile_strings, max_size=3).map(tuple),
    priority=st.integers(1, 10),
    payload=hostile_payloads,
    correlation_id=st.none() | hostile_strings,
)
"""Valid events with hostile content (payloads deep, huge, NaN; text that trips regexes)."""


_regex_pieces = st.sampled_from(
    ["a", "aa", ".", "\\w", "\\d", "[ab]", "[^a]", "(a|aa)", "(a+)", "(?:a*)", "(?i)", "^", "$",
     "\\b", "(a)\\1", "(?=a)", "(?<!a)", "(?>a)", "a{,3}", "a{2,1}", "a{99999999999}", "[", "(",
     ")", "*", "+", "?", "{", "}", "\\", "|", "\ud800", "\\Z", "\\pL", "[[:alpha:]]", "(?P<n>a)",
     "(?P=n)", "\\Q(\\E", "\x00", "!"]
)  # fmt: skip
_quantifiers = st.sampled_from(
    ["", "*", "+", "?", "{2}", "{1,5}", "*?", "++", "{0,1000}", "{1001}"]
)
_nested_quantifiers = st.builds(
    lambda body, inner, outer, tail: f"(({body}){inner}){outer}{tail}",
    st.sampled_from(["a", "a|aa", "a*", "\\w", "[ab]", ".", "a?a"]),
    st.sampled_from(["+", "*", "{1,}", "{1,30}"]),
    st.sampled_from(["+", "*", "{2,}", "{1,30}"]),
    st.sampled_from(["$", "b", "\\d", "!!", "", "\\b!"]),
)
hostile_regexes = _nested_quantifiers | st.recursive(
    st.builds(str.__add__, _regex_pieces, _quantifiers),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3).map("".join)
        | st.builds(lambda body, q: f"({body}){q}", inner, _quantifiers)
    ),
    max_leaves=8,
)
"""Patterns built to backtrack (``((a+)+)$``) or to trip a parser, valid or not."""

backtracking_text = st.builds(
    lambda n, tail: "a" * n + tail,
    st.integers(0, 24),  # enough to take seconds with a backtracking engine, not hours
    st.sampled_from(["!", "", "b", "a!", "\n"]),
)
"""Runs of ``a`` ending in something a backtracking pattern fails on."""
