"""Agents as tools: other agents of the pipeline offered to a model as tools it may call.

A tool call is a request to that agent (``pipeline.request(agent_id, arguments)``)
and its result is the agent's answer payload. The tool's parameters are the agent's
``input_schema`` and its description the agent's `Agent.description`, so the model
sees what the agent accepts and does. ``reagents.ai`` does not import pipelines: the
pipeline binds itself (an `AgentDirectory`) to its agents when it starts, and since a
request to an agent whose topic is on Kafka crosses processes, the model can consult
agents that run elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias

from reagents.errors import ConfigurationError
from reagents.events import AgentEvent
from reagents.sinks.agent import Agent

if TYPE_CHECKING:
    from pydantic_ai.tools import Tool

__all__ = ["AgentDirectory", "AgentTool", "agent_tools", "tool_name"]

AgentTool: TypeAlias = "str | Agent[Any]"
"""An agent offered as a tool: its id (an agent of the same pipeline) or the agent itself
(declared here, possibly running in another process)."""

OPEN_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}
"""The parameters of an agent without an input schema: any JSON object."""


class AgentDirectory(Protocol):
    """What an agent needs of its pipeline to consult other agents (`Pipeline` is one)."""

    def get_agent(self, agent_id: str) -> Agent[Any]:
        """The agent registered as ``agent_id``; `KeyError` if there is none."""
        ...

    async def request(self, agent_id: str, payload: dict[str, Any] | None = None) -> AgentEvent:
        """Send ``payload`` to ``agent_id`` and return its first reaction."""
        ...


def agent_tools(
    wanted: Sequence[AgentTool], directory: AgentDirectory, asker: str
) -> list[Tool[None]]:
    """One pydantic-ai tool per wanted agent, calling it through ``directory``.

    Raises `ConfigurationError` naming an id the pipeline does not know, so a typo
    fails when the pipeline starts, not when the model first reaches for the tool.
    """
    from pydantic_ai.tools import Tool

    tools: list[Tool[None]] = []
    for entry in wanted:
        target = _resolve(entry, directory, asker)
        tools.append(
            Tool.from_schema(
                _caller(directory, target.id),
                name=tool_name(target.id),
                description=target.description or f"Ask the agent {target.id!r}.",
                json_schema=input_json_schema(target),
            )
        )
    return tools


def tool_name(agent_id: str) -> str:
    """The tool name for an agent id (model APIs accept letters, digits, ``_`` and ``-``)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", agent_id)[:64]


def input_json_schema(agent: Agent[Any]) -> dict[str, Any]:
    """The agent's input schema as JSON Schema (any object when it declares none)."""
    validator = agent.input_validator
    if validator is None:
        return dict(OPEN_OBJECT)
    if validator.model is not None:
        return validator.model.model_json_schema()
    assert validator.validator is not None
    schema = validator.validator.schema
    return dict(schema) if isinstance(schema, Mapping) else dict(OPEN_OBJECT)


def _resolve(entry: AgentTool, directory: AgentDirectory, asker: str) -> Agent[Any]:
    if not isinstance(entry, str):
        return entry
    try:
        return directory.get_agent(entry)
    except KeyError as error:
        raise ConfigurationError(
            f"agent {asker!r} offers agent {entry!r} as a tool, but {error.args[0]}; "
            "pass the agent itself when it runs in another process"
        ) from None


def _caller(directory: AgentDirectory, agent_id: str) -> Callable[..., Awaitable[dict[str, Any]]]:
    """The tool function: the model's arguments as the request payload, the answer back."""

    async def call(**arguments: Any) -> dict[str, Any]:
        answer = await directory.request(agent_id, arguments)
        return answer.payload

    call.__name__ = tool_name(agent_id)
    return call
