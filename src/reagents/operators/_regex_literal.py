"""JSONPath regex literals: ``@ =~ /^AAPL|MSFT$/i`` as the reference article writes them.

jsonpath-ng only takes a quoted regex after ``=~`` (and its string lexer drops every
backslash: ``"\\d"`` reaches the regex as ``d``). `lift_regex_literals` finds each
``/pattern/flags`` that follows ``=~`` outside quotes, replaces it with a quoted
placeholder of the same length (so parse-error positions still point into the user's
text) and returns the patterns to put back after parsing. Inside a literal,
backslashes are kept as written and ``\\/`` is a slash; a ``/`` inside ``[...]`` does
not end it (as in JavaScript); an empty ``//`` is refused. Flags ``i`` (ignore case),
``m`` (``^``/``$`` at line breaks) and ``s`` (``.`` matches a newline) become RE2
inline flags.
"""

from __future__ import annotations

from typing import Final

from reagents.errors import FilterSyntaxError

__all__ = ["lift_regex_literals", "lifted_pattern"]

_FLAGS: Final = frozenset("ims")
_FIRST: Final = 0xF0000  # a placeholder is a private-use character (its index), then fill
_FILL: Final = "\x1f"


def lifted_pattern(value: object, patterns: list[str]) -> object:
    """The pattern a placeholder stands for; any other value as it is."""
    if not (isinstance(value, str) and value and patterns):
        return value
    index = ord(value[0]) - _FIRST
    if 0 <= index < len(patterns) and value[1:] == _FILL * (len(value) - 1):
        return patterns[index]
    return value


def lift_regex_literals(expression: str) -> tuple[str, list[str]]:
    """``expression`` with each ``=~ /regex/flags`` quoted, and the regexes in order."""
    out: list[str] = []
    patterns: list[str] = []
    i, n = 0, len(expression)
    while i < n:
        char = expression[i]
        if char in "'\"`":
            end = _closing_quote(expression, i)
            out.append(expression[i:end])
            i = end
            continue
        if expression.startswith("=~", i):
            j = i + 2
            while j < n and expression[j] in " \t":
                j += 1
            if j < n and expression[j] == "/":
                pattern, end = _literal(expression, j)
                out.append(expression[i:j] + _placeholder(len(patterns), end - j))
                patterns.append(pattern)
                i = end
                continue
            out.append(expression[i:j])
            i = j
            continue
        out.append(char)
        i += 1
    return "".join(out), patterns


def _closing_quote(text: str, start: int) -> int:
    """The index after the quote closing the one at ``start`` (the end if unclosed)."""
    quote, i = text[start], start + 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i + 1
        i += 1
    return len(text)


def _literal(text: str, start: int) -> tuple[str, int]:
    """The regex of the ``/.../flags`` literal at ``start`` and the index after it."""
    pattern: list[str] = []
    i, in_class = start + 1, False
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            following = text[i + 1]
            pattern.append(following if following == "/" else char + following)
            i += 2
            continue
        if char == "/" and not in_class:
            break
        in_class = (in_class and char != "]") or char == "["
        pattern.append(char)
        i += 1
    else:
        raise FilterSyntaxError(
            "unterminated regex literal: end it with / (e.g. =~ /^AAPL|MSFT$/i)",
            expression=text,
            position=start,
        )
    i += 1
    flags = ""
    while i < len(text) and text[i].isalpha():
        if text[i] not in _FLAGS:
            raise FilterSyntaxError(
                f"unsupported regex flag {text[i]!r}: use i (ignore case), m (multi-line) "
                "or s (dot matches newline)",
                expression=text,
                position=i,
            )
        flags += text[i]
        i += 1
    if not pattern:
        raise FilterSyntaxError(
            "empty regex literal //: it would match everything", expression=text, position=start
        )
    prefix = f"(?{''.join(sorted(set(flags)))})" if flags else ""
    return prefix + "".join(pattern), i


def _placeholder(index: int, width: int) -> str:
    """A quoted string as wide as the literal it replaces (``width`` is at least 3)."""
    return '"' + chr(_FIRST + index) + _FILL * (width - 3) + '"'
