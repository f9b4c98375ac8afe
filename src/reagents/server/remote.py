"""`RemoteAgents`: the agents registered over HTTP, next to a pipeline's Python agents.

It builds a `WebhookAgent` or a `PullAgent` from a `Registration` and adds it to the
running pipeline; removes it (the pipeline lets its queued work finish first, so
nothing is lost); and on shutdown takes them all out of the pipeline and closes the
one `httpx.AsyncClient` its webhooks share. An id that a Python agent of the pipeline
has is refused, as is one already registered (delete it first to replace it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Literal

import httpx

from reagents.errors import ConfigurationError, ReagentsError
from reagents.operators.filters import Filter
from reagents.pipelines.pipeline import Pipeline
from reagents.server.allowlist import HostAllowlist, UnsafeURLError
from reagents.server.pull import PullAgent
from reagents.server.registration import Registration, RegistrationError, WebhookDelivery
from reagents.server.settings import ServerSettings
from reagents.server.webhook import WebhookAgent, webhook_client
from reagents.sinks.agent import AgentOptions

__all__ = ["AgentConflictError", "RemoteAgent", "RemoteAgents", "UnknownAgentError"]

logger = logging.getLogger(__name__)


class AgentConflictError(ReagentsError, RuntimeError):
    """The id is taken (a Python agent, a registered one, one being removed): HTTP 409."""


class UnknownAgentError(ReagentsError, LookupError):
    """No agent has this id (HTTP 404); the message lists the ids there are."""


@dataclass(slots=True, eq=False)
class RemoteAgent:
    """A registered agent, how it was registered, and whether it is being removed."""

    agent: WebhookAgent | PullAgent
    registration: Registration
    removal: asyncio.Task[None] | None = None

    @property
    def kind(self) -> Literal["webhook", "pull"]:
        """How its events reach it."""
        return self.registration.delivery.mode

    @property
    def state(self) -> Literal["active", "draining"]:
        """``draining`` once removal started: no new events, its queue still finishes."""
        return "active" if self.removal is None else "draining"


class RemoteAgents:
    """The remote agents of one server (``app.state.reagents.remote_agents``)."""

    def __init__(self, pipeline: Pipeline, settings: ServerSettings) -> None:
        self.pipeline = pipeline
        self.allowlist = HostAllowlist(settings.webhook_hosts)  # bad entries fail at start
        self.max_response_bytes = settings.max_body_bytes
        self.max_agents = settings.max_remote_agents
        self.agents: dict[str, RemoteAgent] = {}
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        """The HTTP client the webhooks share (made at the first webhook)."""
        if self._client is None:
            self._client = webhook_client()
        return self._client

    def register(self, agent_id: str, registration: Registration, subscription: Filter) -> None:
        """Build the agent and add it to the pipeline; `AgentConflictError` if the id is
        taken, `RegistrationError` if the registration cannot work (a refused URL)."""
        self._check_free(agent_id)
        options: AgentOptions = {
            "subscription": subscription,
            "max_concurrent": registration.max_concurrent,
            "priority": registration.priority,
            "retry": registration.retry,
        }
        delivery = registration.delivery
        agent: WebhookAgent | PullAgent
        try:
            if isinstance(delivery, WebhookDelivery):
                agent = WebhookAgent(
                    delivery.url,
                    id=agent_id,
                    client=self.client,
                    allowlist=self.allowlist,
                    request_timeout=delivery.timeout,
                    max_response_bytes=self.max_response_bytes,
                    **options,
                )
            else:
                agent = PullAgent(
                    id=agent_id,
                    lease_seconds=delivery.lease_seconds,
                    fetch_seconds=delivery.fetch_seconds,
                    **options,
                )
        except (UnsafeURLError, ConfigurationError, ValueError) as error:
            raise RegistrationError(str(error)) from None
        try:
            self.pipeline.add_agent(agent)
        except ConfigurationError as error:  # a Python agent of that id is being removed
            raise AgentConflictError(str(error)) from None
        self.agents[agent_id] = RemoteAgent(agent, registration)
        logger.info("registered %s agent %s", registration.delivery.mode, agent.describe())

    def _check_free(self, agent_id: str) -> None:
        found = self.agents.get(agent_id)
        if found is not None:
            doing = "is being removed" if found.removal else "is registered already"
            raise AgentConflictError(
                f"remote agent {agent_id!r} {doing}; DELETE /agents/{agent_id} and wait "
                "for it to go before registering it again"
            )
        if any(agent.id == agent_id for agent in self.pipeline.agents):
            raise AgentConflictError(f"{agent_id!r} is a Python agent of the pipeline")
        if len(self.agents) >= self.max_agents:
            raise AgentConflictError(
                f"this server holds its limit of {self.max_agents} remote agents "
                "(ServerSettings.max_remote_agents); remove one first"
            )

    def get(self, agent_id: str) -> RemoteAgent:
        """The remote agent ``agent_id``; `AgentConflictError` for a Python agent,
        `UnknownAgentError` for an unknown id."""
        found = self.agents.get(agent_id)
        if found is not None:
            return found
        if any(agent.id == agent_id for agent in self.pipeline.agents):
            raise AgentConflictError(
                f"{agent_id!r} is a Python agent of the pipeline, not a remote one"
            )
        raise self.unknown(agent_id)

    def unknown(self, agent_id: str) -> UnknownAgentError:
        """The error for an id no agent has, listing the ids there are."""
        known = sorted({a.id for a in self.pipeline.agents} | set(self.agents))
        return UnknownAgentError(
            f"no agent {agent_id[:140]!r}; agents: {', '.join(known) or 'none'}"
        )

    async def remove(self, agent_id: str, wait: float) -> bool:
        """Start removing ``agent_id`` (or join its removal); True if it ended within
        ``wait`` seconds, False if it still finishes its queued work."""
        remote = self.get(agent_id)
        if remote.removal is None:
            remote.removal = asyncio.create_task(
                self._retire(agent_id, remote), name=f"reagents:remove:{agent_id}"
            )
        done, _ = await asyncio.wait({remote.removal}, timeout=wait)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                logger.error("removing agent %s failed", agent_id, exc_info=task.exception())
        return bool(done)

    async def _retire(self, agent_id: str, remote: RemoteAgent) -> None:
        try:
            await self.pipeline.remove_agent(agent_id)
        finally:
            if isinstance(remote.agent, PullAgent):
                remote.agent.close()
            self.agents.pop(agent_id, None)
            logger.info("removed %s agent %s", remote.kind, agent_id)

    async def aclose(self) -> None:
        """Take every remote agent out of the pipeline, then close the shared client.

        A pipeline still running (the app does not run it) gets its drain timeout to
        finish their queued work; what is left then stays unacknowledged.
        """
        for agent_id, remote in list(self.agents.items()):
            if remote.removal is None:
                remote.removal = asyncio.create_task(self._retire(agent_id, remote))
        removals = [r.removal for r in self.agents.values() if r.removal is not None]
        if removals:
            _, late = await asyncio.wait(removals, timeout=self.pipeline.drain_timeout)
            for task in late:
                task.cancel()
            await asyncio.gather(*removals, return_exceptions=True)
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.aclose()
            self._client = None
