"""The ``ai`` extra: pydantic-ai is imported only when an LLM agent is built.

``import reagents`` (and ``import reagents.ai``) never imports pydantic-ai, so a
pipeline without LLM agents stays light; building an `LLMAgent` without the extra
fails with the command that installs it.
"""

from __future__ import annotations

from types import ModuleType

from reagents.extras import require_extra

__all__ = ["INSTALL_HINT", "require_pydantic_ai"]

INSTALL_HINT = "LLM agents need pydantic-ai: pip install 'reagents[ai]'"


def require_pydantic_ai() -> ModuleType:
    """Import ``pydantic_ai``, or raise `MissingExtraError` saying which extra to install."""
    return require_extra("pydantic_ai", INSTALL_HINT)
