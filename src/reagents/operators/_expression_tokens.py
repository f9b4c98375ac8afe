"""The tokens of the ``where("...")`` language (see `reagents.operators.expression`).

`tokenize` splits the text into `Token` values, raising `FilterSyntaxError` at the
first character that starts none; `literal` writes a value back as a token, so a
compiled filter's ``describe()`` reads like its input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from reagents.errors import FilterSyntaxError

__all__ = ["Scalar", "Token", "literal", "tokenize"]

Scalar = str | int | float | bool | None

_KEYWORDS: Final = frozenset({"AND", "OR", "NOT", "IN", "CONTAINS", "MATCHES"})
_CONSTANTS: Final[dict[str, Scalar]] = {"TRUE": True, "FALSE": False, "NULL": None}
_WORD_CHARS = r"\w.*?:/-"
_TEXT = re.compile(r"\S")
_WORD = re.compile(rf"[{_WORD_CHARS}]+")
_NUMBER = re.compile(rf"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?![{_WORD_CHARS}])")
_OPERATOR = re.compile(r"<=|>=|!=|=|<|>")
_HINTS: Final = {"&": "AND", "|": "OR", "!": "NOT or !="}


@dataclass(frozen=True, slots=True)
class Token:
    """One token: its kind, its text as written, where it starts, and its value if any."""

    kind: str  # op ( ) , string number word keyword constant end
    text: str
    position: int
    value: Scalar = None

    def shown(self) -> str:
        """The token as an error message names it."""
        return "end of expression" if self.kind == "end" else repr(self.text)


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with an ``end`` token; spaces only separate them."""
    tokens: list[Token] = []
    index = _skip_space(text, 0)
    while index < len(text):
        char = text[index]
        if char in "'\"":
            tokens.append(_string(text, index))
        elif char in "(),":
            tokens.append(Token(char, char, index))
        elif match := _OPERATOR.match(text, index):
            tokens.append(Token("op", match.group(), index))
        elif match := _NUMBER.match(text, index):
            tokens.append(
                Token("number", match.group(), index, _number(match.group(), index, text))
            )
        elif match := _WORD.match(text, index):
            tokens.append(_word(match.group(), index))
        else:
            hint = _HINTS.get(char)
            raise FilterSyntaxError(
                f"unexpected character {char!r}", expression=text, position=index, expected=hint
            )
        index = _skip_space(text, index + len(tokens[-1].text))
    tokens.append(Token("end", "", len(text)))
    return tokens


def _skip_space(text: str, index: int) -> int:
    match = _TEXT.search(text, index)
    return match.start() if match else len(text)


def _string(text: str, start: int) -> Token:
    quote, index = text[start], start + 1
    while (index := text.find(quote, index)) != -1:
        if text.startswith(quote, index + 1):
            index += 2
            continue
        raw = text[start : index + 1]
        return Token("string", raw, start, raw[1:-1].replace(quote * 2, quote))
    raise FilterSyntaxError(
        "unterminated string (write a quote inside a string twice: 'it''s')",
        expression=text,
        position=start,
        expected=f"a closing {quote}",
    )


def _number(raw: str, position: int, text: str) -> int | float:
    try:
        return float(raw) if any(c in raw for c in ".eE") else int(raw)
    except ValueError:  # more digits than int() accepts
        raise FilterSyntaxError("number too long", expression=text, position=position) from None


def _word(raw: str, position: int) -> Token:
    upper = raw.upper() if raw.isascii() else ""
    if upper in _KEYWORDS:
        return Token("keyword", upper, position)
    if upper in _CONSTANTS:
        return Token("constant", raw, position, _CONSTANTS[upper])
    return Token("word", raw, position, raw)


def literal(value: Scalar) -> str:
    """``value`` written back in the language, so ``describe()`` reads like the input."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "1e999" if value > 0 else "-1e999"
    if not isinstance(value, str):
        return repr(value)
    bare = _WORD.fullmatch(value) and _word(value, 0).kind == "word" and not _NUMBER.match(value)
    return value if bare else "'" + value.replace("'", "''") + "'"
