"""LLM agents: pydantic-ai model calls as reagents agents (the ``reagents[ai]`` extra).

Importing this package does not import pydantic-ai; building an `LLMAgent` does.
"""

from reagents.ai.agent import DEFAULT_INSTRUCTIONS, LLMAgent, LLMInput, PromptBuilder, llm_agent
from reagents.ai.budget import BudgetLike, LeaseLike
from reagents.ai.cassette import Cassette, CassetteMissError, CassetteMode, fingerprint
from reagents.ai.errors import ModelCallError, PermanentModelError, TransientModelError
from reagents.ai.extra import INSTALL_HINT, require_pydantic_ai
from reagents.ai.memory import (
    ConversationMemory,
    MemoryConversations,
    SqliteConversations,
    trim_history,
)
from reagents.ai.tools import AgentDirectory, AgentTool
from reagents.ai.usage import ModelUsage, Prices

__all__ = [
    "DEFAULT_INSTRUCTIONS",
    "INSTALL_HINT",
    "AgentDirectory",
    "AgentTool",
    "BudgetLike",
    "Cassette",
    "CassetteMissError",
    "CassetteMode",
    "ConversationMemory",
    "LLMAgent",
    "LLMInput",
    "LeaseLike",
    "MemoryConversations",
    "ModelCallError",
    "ModelUsage",
    "PermanentModelError",
    "Prices",
    "PromptBuilder",
    "SqliteConversations",
    "TransientModelError",
    "fingerprint",
    "llm_agent",
    "require_pydantic_ai",
    "trim_history",
]
