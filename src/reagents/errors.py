"""The exceptions reagents raises, one typed error per kind of user-facing failure."""

from __future__ import annotations

from pydantic import ValidationError


class ReagentsError(Exception):
    """Base class of every error reagents raises on purpose."""


class EventDecodeError(ReagentsError, ValueError):
    """Bytes or a mapping could not become a valid `AgentEvent`.

    ``reason`` is a one-line, human-readable account of every problem found;
    ``raw`` keeps the offending input so it can be dead-lettered unchanged.
    """

    def __init__(self, reason: str, raw: bytes | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.raw = raw


class PayloadValidationError(ReagentsError, ValueError):
    """An event's payload does not satisfy the schema registered for its type."""

    def __init__(self, event_type: str, reason: str) -> None:
        super().__init__(f"payload of {event_type!r} is invalid: {reason}")
        self.event_type = event_type
        self.reason = reason


class ConfigurationError(ReagentsError, ValueError):
    """A pipeline, agent or schema was configured in a way that cannot work."""


def check_positive(**values: float | None) -> None:
    """Raise `ConfigurationError` naming the first setting that is set but not > 0."""
    for key, value in values.items():
        if value is not None and not value > 0:
            raise ConfigurationError(f"{key} must be > 0, got {value}")


def describe_validation_error(error: ValidationError, prefix: str = "") -> str:
    """Render a pydantic error as ``field: message (got value)`` items joined by ``; ``."""
    parts = []
    for item in error.errors(include_url=False):
        location = ".".join(str(part) for part in item["loc"])
        where = f"{prefix}{location}" if location else (prefix.rstrip(".") or "event")
        detail = item["msg"]
        if item["type"] not in {"missing", "json_invalid"} and "input" in item:
            detail += f" (got {_short_repr(item['input'])})"
        parts.append(f"{where}: {detail}")
    return "; ".join(parts)


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class FilterSyntaxError(ReagentsError, ValueError):
    """A filter expression (``where`` language, JSONPath, regex) could not be compiled.

    ``position`` is the 0-based character offset of the problem in ``expression``
    (``None`` when the underlying parser gives none); ``expected`` says what would
    have been valid there.
    """

    def __init__(
        self,
        message: str,
        *,
        expression: str,
        position: int | None = None,
        expected: str | None = None,
    ) -> None:
        where = f" at position {position}" if position is not None else ""
        hint = f"; expected {expected}" if expected else ""
        caret = ""
        if position is not None and "\n" not in expression and len(expression) <= 200:
            caret = f"\n  {expression}\n  {' ' * position}^"
        super().__init__(f"{message}{where}{hint}{caret}")
        self.expression = expression
        self.position = position
        self.expected = expected
        self.reason = message


class FilterEvaluationError(ReagentsError, RuntimeError):
    """A compiled filter could not be evaluated on one event (its cause is chained).

    A pipeline counts such an event as not matching that subscription, logs a
    warning and goes on; only a direct call (``filter.matches(event)``) sees it.
    """

    def __init__(self, description: str, event_id: str, error: BaseException) -> None:
        super().__init__(
            f"filter {description} failed on event {event_id}: {type(error).__name__}: {error}"
        )
        self.description = description
        self.event_id = event_id


class BufferOverflowError(ReagentsError, RuntimeError):
    """A buffer with overflow ``error`` received an item while full."""

    def __init__(self, capacity: int, message: str | None = None) -> None:
        super().__init__(
            message or f"bounded buffer is full (capacity {capacity}) and overflow='error'"
        )
        self.capacity = capacity
