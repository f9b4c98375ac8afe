"""Users' regular expressions, run by RE2: time linear in the text, whatever the pattern.

Python's `re` backtracks: ``(a+)+$`` against 34 a's and a ``!`` runs for seconds,
and a subscription filter runs on every event. RE2 never backtracks, so the ``where``
language's ``MATCHES``, `where_regex` and JSONPath's ``=~`` all compile here.

RE2's syntax is Python's without what needs backtracking. A pattern RE2 cannot run is
rejected when the filter is built, with the reason (there is no fallback to `re`):

- no backreferences (``\\1``, ``(?P=name)``), lookaround (``(?=``, ``(?!``, ``(?<=``,
  ``(?<!``), atomic groups (``(?>``) or possessive quantifiers (``a*+``);
- ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII only: ``\\pL``/``\\pN`` are the Unicode
  letters/digits; Python's ``\\Z`` is written ``\\z``, and ``$`` matches only at the
  very end (Python's also matches before a final newline);
- a repetition count is at most 1000, and ``{,n}`` is written ``{0,n}`` (RE2 would read
  ``{,n}`` and larger counts as plain text, so both are refused rather than misread);
- a pattern is at most 10,000 characters long (so building the filter stays quick too).
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from typing import Final

import re2

from reagents.errors import FilterSyntaxError

__all__ = ["Search", "compile_search"]

Search = Callable[[str], bool]
"""Whether a pattern is found anywhere in a text (``re.search`` semantics)."""

_MAX_REPEAT: Final = 1000
_MAX_LENGTH: Final = 10_000  # RE2 compiles some long patterns in quadratic time
# Escapes, character classes and brace groups, in one left-to-right pass; possessive
# quantifiers, so a hostile pattern cannot make this scan backtrack either.
_PIECES = re.compile(r"\\.|\[\^?\]?(?:\\.|[^\]\\])*+\]?|\{(\d*+)(,?)(\d*+)\}", re.DOTALL)
_BACKTRACKING: Final = ("invalid perl operator", "invalid escape sequence", "bad repetition")
_WHY: Final = (
    " (patterns run on RE2, in linear time, which has no backreferences, lookaround, "
    "atomic groups or possessive quantifiers)"
)


def compile_search(
    pattern: str,
    *,
    case_sensitive: bool = True,
    expression: str | None = None,
    position: int | None = None,
) -> Search:
    """A test for ``pattern`` anywhere in a text; `FilterSyntaxError` if RE2 cannot run it.

    ``expression`` and ``position`` say where the pattern stands in a larger filter
    text (a ``where`` expression), for the error; by default errors point into
    ``pattern`` itself.
    """

    def fail(reason: str, offset: int | None) -> FilterSyntaxError:
        if expression is None:
            return FilterSyntaxError(reason, expression=pattern, position=offset)
        return FilterSyntaxError(reason, expression=expression, position=position)

    if len(pattern) > _MAX_LENGTH:
        raise fail(f"invalid regular expression: longer than {_MAX_LENGTH} characters", _MAX_LENGTH)
    try:
        encoded = pattern.encode()
    except UnicodeEncodeError as error:
        raise fail(
            f"invalid regular expression: lone surrogate {pattern[error.start]!r}", error.start
        ) from None
    _check_braces(pattern, fail)
    options = re2.Options()
    options.log_errors = False
    options.never_capture = True
    options.case_sensitive = case_sensitive
    try:
        regex = re2.compile(encoded, options)
    except re2.error as error:
        raise fail(*_reason(error, pattern)) from None
    search = regex.search

    def found(text: str) -> bool:
        return search(text.encode("utf-8", "surrogatepass")) is not None

    return found


def _check_braces(pattern: str, fail: Callable[[str, int | None], FilterSyntaxError]) -> None:
    for piece in _PIECES.finditer(pattern):
        low, comma, high = piece.groups()
        if low is None:  # an escape or a class
            continue
        if comma and not low:
            raise fail(
                f"invalid regular expression: write {{0,{high}}} for {piece.group()}",
                piece.start(),
            )
        if any(len(count) > 4 or int(count) > _MAX_REPEAT for count in (low, high) if count):
            raise fail(
                f"invalid regular expression: repetition {piece.group()} is over {_MAX_REPEAT}",
                piece.start(),
            )


def _reason(error: re2.error, pattern: str) -> tuple[str, int | None]:
    # Python's parser says where a malformed pattern goes wrong; when it accepts the
    # pattern, the pattern is fine but needs a feature RE2 leaves out on purpose.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(pattern)
    except re.error as python_error:
        return f"invalid regular expression: {python_error.msg}", python_error.pos
    except (RecursionError, OverflowError, ValueError, MemoryError, AssertionError):
        pass
    detail = error.args[0] if error.args else "rejected by RE2"
    text = detail.decode(errors="replace") if isinstance(detail, bytes) else str(detail)
    _, _, culprit = text.partition(": ")
    offset = pattern.find(culprit) if culprit else -1
    if culprit == "\\Z":
        why = " (RE2 writes Python's \\Z as \\z)"
    else:
        why = _WHY if text.startswith(_BACKTRACKING) else ""
    if len(text) > 80:
        text = text[:77] + "..."
    return f"invalid regular expression: {text}{why}", offset if offset >= 0 else None
