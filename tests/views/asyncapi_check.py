"""Checks an AsyncAPI document: the official 3.0.0 JSON Schema, and what it cannot say.

``asyncapi/asyncapi-3.0.0.schema.json`` is the AsyncAPI Initiative's schema of AsyncAPI
3.0.0 documents (``schemas/3.0.0-without-$id.json`` of the npm package
``@asyncapi/specs`` 6.11.1, from the repository asyncapi/spec-json-schemas), vendored
unchanged under the Apache License 2.0 (``LICENSE`` and ``NOTICE`` beside it).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC = Path(__file__).resolve().parent / "asyncapi" / "asyncapi-3.0.0.schema.json"
DOC = "urn:reagents:asyncapi"

__all__ = ["check_document", "message_validator", "pointer", "refs_in"]


@functools.cache
def _official() -> jsonschema.Draft7Validator:
    schema = json.loads(SPEC.read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


def pointer(document: Any, ref: str) -> Any:
    """What the local reference ``ref`` (``#/a/b``) points at in ``document``."""
    assert ref.startswith("#/"), ref
    found = document
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(found, dict), f"{ref} does not resolve at {key!r}"
        assert key in found, f"{ref} does not resolve at {key!r}"
        found = found[key]
    return found


def refs_in(value: Any) -> list[str]:
    """Every ``$ref`` in ``value``, depth first."""
    if isinstance(value, dict):
        own = [value["$ref"]] if isinstance(value.get("$ref"), str) else []
        return own + [ref for item in value.values() for ref in refs_in(item)]
    if isinstance(value, list):
        return [ref for item in value for ref in refs_in(item)]
    return []


def check_document(document: dict[str, Any]) -> None:
    """Assert ``document`` is valid AsyncAPI 3.0.0 whose references all resolve."""
    assert json.loads(json.dumps(document)) == document  # JSON-ready
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:300]}"
        for e in _official().iter_errors(document)
    ]
    assert not problems, problems
    for ref in refs_in(document):
        pointer(document, ref)
    for operation_id, operation in document.get("operations", {}).items():
        channel_ref = operation["channel"]["$ref"]
        channel = pointer(document, channel_ref)
        for message in operation.get("messages", []):
            assert message["$ref"].startswith(channel_ref + "/messages/"), operation_id
        assert operation["action"] in ("send", "receive")
        assert channel["messages"], f"{operation_id}: its channel carries no message"


def message_validator(document: dict[str, Any], message_id: str) -> jsonschema.Validator:
    """A validator of the payload of component message ``message_id``."""
    registry: Registry[Any] = Registry().with_resource(
        DOC, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    schema = {"$ref": f"{DOC}#/components/messages/{message_id}/payload"}
    return jsonschema.Draft202012Validator(schema, registry=registry)
