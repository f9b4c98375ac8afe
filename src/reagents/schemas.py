"""The payload schema registry: which payload shape each event type must carry.

A type pattern (exact, or ``prefix*``) maps to a pydantic model or a JSON Schema.
Schemas are checked when registered, so a broken schema fails at start-up; payloads
are checked per event, and a mismatch raises `PayloadValidationError` naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jsonschema
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator
from pydantic import BaseModel, ValidationError

from reagents.errors import ConfigurationError, PayloadValidationError, describe_validation_error
from reagents.events import AgentEvent

__all__ = ["PayloadSchema", "PayloadSchemas", "PayloadValidator", "compile_schema"]

PayloadSchema = type[BaseModel] | Mapping[str, Any]


@dataclass(frozen=True)
class PayloadValidator:
    """One compiled schema (pydantic model or JSON Schema) that checks payloads."""

    pattern: str
    model: type[BaseModel] | None
    validator: Validator | None

    def check(self, event_type: str, payload: dict[str, Any]) -> None:
        """Raise `PayloadValidationError` naming every problem if ``payload`` does not fit."""
        if self.model is not None:
            try:
                self.model.model_validate(payload)
            except ValidationError as error:
                reason = describe_validation_error(error, prefix="payload.")
                raise PayloadValidationError(event_type, reason) from None
        elif self.validator is not None:
            problems = sorted(self.validator.iter_errors(payload), key=lambda e: list(e.path))
            if problems:
                reason = "; ".join(_describe_schema_problem(p) for p in problems)
                raise PayloadValidationError(event_type, reason)


def _describe_schema_problem(problem: jsonschema.ValidationError) -> str:
    where = ".".join(["payload", *(str(part) for part in problem.absolute_path)])
    return f"{where}: {problem.message}"


class PayloadSchemas:
    """Event type pattern → payload schema; exact types win over prefixes, longest prefix first.

    Event types are matched case-sensitively here: a schema is a contract, so
    ``Order.Created`` and ``order.created`` are different types.
    """

    def __init__(self, schemas: Mapping[str, PayloadSchema] | None = None) -> None:
        self._exact: dict[str, PayloadValidator] = {}
        self._prefixes: list[tuple[str, PayloadValidator]] = []
        for pattern, schema in (schemas or {}).items():
            self.register(pattern, schema)

    def register(self, pattern: str, schema: PayloadSchema) -> None:
        """Require payloads of ``pattern`` (``type`` or ``prefix*``) to satisfy ``schema``."""
        if not pattern:
            raise ConfigurationError("a schema pattern must be a non-empty event type")
        entry = compile_schema(schema, pattern)
        if pattern.endswith("*"):
            prefix = pattern[:-1]
            self._prefixes = [(p, e) for p, e in self._prefixes if p != prefix]
            self._prefixes.append((prefix, entry))
            self._prefixes.sort(key=lambda item: len(item[0]), reverse=True)
        else:
            self._exact[pattern] = entry

    def pattern_for(self, event_type: str) -> str | None:
        """The pattern whose schema applies to ``event_type``, if any."""
        entry = self._lookup(event_type)
        return entry.pattern if entry else None

    def validate(self, event: AgentEvent) -> AgentEvent:
        """Return ``event`` if its payload fits its type's schema (or it has none)."""
        entry = self._lookup(event.event_type)
        if entry is not None:
            entry.check(event.event_type, event.payload)
        return event

    def items(self) -> list[tuple[str, PayloadValidator]]:
        """Every registered pattern with its compiled schema (exact ones first)."""
        return [*self._exact.items(), *((f"{p}*", e) for p, e in self._prefixes)]

    def __contains__(self, event_type: object) -> bool:
        return isinstance(event_type, str) and self._lookup(event_type) is not None

    def __len__(self) -> int:
        return len(self._exact) + len(self._prefixes)

    def _lookup(self, event_type: str) -> PayloadValidator | None:
        entry = self._exact.get(event_type)
        if entry is not None:
            return entry
        for prefix, candidate in self._prefixes:
            if event_type.startswith(prefix):
                return candidate
        return None


def _compile(
    pattern: str, schema: PayloadSchema
) -> tuple[type[BaseModel] | None, Validator | None]:
    if isinstance(schema, type) and issubclass(schema, BaseModel):
        return schema, None
    if isinstance(schema, Mapping):
        schema = dict(schema)
        validator_class = jsonschema.validators.validator_for(schema)
        try:
            validator_class.check_schema(schema)
        except SchemaError as error:
            raise ConfigurationError(
                f"the JSON Schema for {pattern!r} is invalid: {error.message}"
            ) from None
        return None, validator_class(schema)
    raise ConfigurationError(
        f"the schema for {pattern!r} must be a pydantic model class or a JSON Schema "
        f"mapping, not {type(schema).__name__}"
    )


def compile_schema(schema: PayloadSchema, label: str) -> PayloadValidator:
    """Check ``schema`` now (a broken one raises `ConfigurationError` naming ``label``)."""
    return PayloadValidator(label, *_compile(label, schema))
