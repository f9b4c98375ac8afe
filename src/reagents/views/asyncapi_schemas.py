"""The JSON Schemas of an AsyncAPI document: pydantic models and given JSON Schemas,
gathered under ``components.schemas`` so that every ``$ref`` resolves in the document.

Pydantic models are rendered together at the end (`pydantic.json_schema.models_json_schema`),
so models sharing a name get distinct components and nested models are shared. A given
JSON Schema becomes one component as it is; its local references (``#/$defs/...``,
``#``) are re-pointed into that component, where they still mean the same thing.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from reagents.events import AgentEvent
from reagents.schemas import PayloadValidator

__all__ = ["COMPONENT_SCHEMAS", "SchemaBook", "event_payload", "safe_id", "unique_id"]

COMPONENT_SCHEMAS = "#/components/schemas/"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")


def safe_id(text: str) -> str:
    """``text`` as a component key AsyncAPI accepts (letters, digits, ``_ . -``)."""
    return _UNSAFE.sub("_", text) or "_"


def unique_id(wanted: str, taken: Iterable[str]) -> str:
    """``wanted`` made safe, with ``-2``, ``-3``... until it is not in ``taken``."""
    base = safe_id(wanted)
    used = set(taken)
    candidate, number = base, 1
    while candidate in used:
        number += 1
        candidate = f"{base}-{number}"
    return candidate


class SchemaBook:
    """Collects the schemas a document refers to; `components` writes them out.

    Each method returns a schema to embed (a ``$ref`` object); references to models
    are filled in by `components`, so call it once, after the last reference.
    """

    def __init__(self) -> None:
        self._models: dict[type[BaseModel], list[dict[str, Any]]] = {}
        self._raw: dict[str, dict[str, Any]] = {}
        self._names: dict[int, str] = {}  # id of a given schema -> its component

    def model(self, model: type[BaseModel]) -> dict[str, Any]:
        """A reference to ``model``'s JSON Schema."""
        reference: dict[str, Any] = {"$ref": ""}
        self._models.setdefault(model, []).append(reference)
        return reference

    def json_schema(self, schema: Mapping[str, Any], label: str) -> dict[str, Any]:
        """A reference to a copy of ``schema``, a component named after ``label`` (which
        should contain a dot: model components never do, so the names cannot clash)."""
        name = self._names.get(id(schema))
        if name is None:  # the same schema object is written once
            name = self._names[id(schema)] = unique_id(label, self._raw)
            kept = {k: v for k, v in dict(schema).items() if k not in ("$id", "$schema")}
            self._raw[name] = _repoint(copy.deepcopy(kept), COMPONENT_SCHEMAS + name)
        return {"$ref": COMPONENT_SCHEMAS + name}

    def validator(self, validator: PayloadValidator, label: str) -> dict[str, Any] | None:
        """A reference to the schema a compiled `PayloadValidator` checks (None if none)."""
        if validator.model is not None:
            return self.model(validator.model)
        if validator.validator is None:
            return None
        schema = validator.validator.schema
        if isinstance(schema, bool):  # true: anything; false: nothing
            return {} if schema else {"not": {}}
        return self.json_schema(schema, label)

    def components(self) -> dict[str, Any]:
        """Every schema referred to, by component name (fills in the model references)."""
        found: dict[str, Any] = {}
        if self._models:
            keys: list[tuple[type[BaseModel], Literal["validation"]]] = [
                (model, "validation") for model in self._models
            ]
            refs, definitions = models_json_schema(keys, ref_template=COMPONENT_SCHEMAS + "{model}")
            for key in keys:
                for reference in self._models[key[0]]:
                    reference["$ref"] = refs[key]["$ref"]
            found.update(definitions.get("$defs", {}))
        for name, schema in self._raw.items():
            if name in found:
                raise AssertionError(f"schema component {name!r} named twice")
            found[name] = schema
        return dict(sorted(found.items()))


def event_payload(
    book: SchemaBook, event_type: dict[str, Any] | None, payload: dict[str, Any] | None
) -> dict[str, Any]:
    """The schema of an event: the `AgentEvent` envelope, its type and payload narrowed."""
    envelope = book.model(AgentEvent)
    properties: dict[str, Any] = {}
    if event_type is not None:
        properties["event_type"] = event_type
    if payload is not None:
        properties["payload"] = payload
    if not properties:
        return envelope
    return {"allOf": [envelope, {"type": "object", "properties": properties}]}


def _repoint(value: Any, base: str) -> Any:
    """``value`` with every local ``$ref`` (``#...``) made relative to ``base``."""
    if isinstance(value, dict):
        out = {key: _repoint(item, base) for key, item in value.items()}
        ref = value.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            out["$ref"] = base + ref[1:]
        return out
    if isinstance(value, list):
        return [_repoint(item, base) for item in value]
    return value
