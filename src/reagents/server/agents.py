"""``/agents``: register, remove and look at agents over HTTP; feed pull agents.

Writes and feeding need the ``register`` scope, reading needs ``read``:

- ``POST /agents/{id}/register`` — a webhook or pull agent (`registration`): 201;
  422 with the reason for a bad body, subscription (its position) or URL; 409 if the
  id is taken (delete it first to replace it).
- ``DELETE /agents/{id}?wait=30`` — remote agents only: no new events, its queued
  work finishes (or is dead-lettered) first: 200 once gone, 202 while it drains.
- ``GET /agents`` — every agent, Python and remote, with its kind and state.
- ``GET /agents/{id}/status`` — its limits, queue and counters (`Pipeline.stats`).
- ``GET /agents/{id}/events?max=10&wait=20`` — a pull agent's events, leased (long poll).
- ``POST /agents/{id}/acks`` — settle leased deliveries (`acks`).

Unknown ids answer 404 with the ids there are.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from reagents.server.acks import AckError, apply_acks, parse_acks
from reagents.server.auth import require
from reagents.server.pull import PullAgent
from reagents.server.registration import RegistrationError, check_agent_id, parse_registration
from reagents.server.remote import AgentConflictError, RemoteAgents, UnknownAgentError
from reagents.server.settings import Scope
from reagents.sinks.agent import Agent

__all__ = ["router"]

router = APIRouter(prefix="/agents", tags=["agents"])
_REGISTER = [Depends(require(Scope.REGISTER))]
_READ = [Depends(require(Scope.READ))]


@contextlib.contextmanager
def _http_errors() -> Iterator[None]:
    try:
        yield
    except (RegistrationError, AckError) as error:
        raise HTTPException(422, detail=str(error)) from None
    except AgentConflictError as error:
        raise HTTPException(409, detail=str(error)) from None
    except UnknownAgentError as error:
        raise HTTPException(404, detail=str(error)) from None


def _remote(request: Request) -> RemoteAgents:
    remote: RemoteAgents = request.app.state.reagents.remote_agents
    return remote


@router.post("/{agent_id}/register", status_code=201, dependencies=_REGISTER)
async def register(agent_id: str, request: Request) -> dict[str, Any]:
    """Register a webhook or pull agent under ``agent_id``."""
    remote = _remote(request)
    with _http_errors():
        check_agent_id(agent_id)
        registration, subscription = parse_registration(await request.body())
        remote.register(agent_id, registration, subscription)
    return _describe(remote, remote.agents[agent_id].agent)


@router.delete("/{agent_id}", dependencies=_REGISTER)
async def remove(
    agent_id: str, request: Request, wait: Annotated[float, Query(ge=0, le=300)] = 30.0
) -> JSONResponse:
    """Remove a remote agent once its queued work is done (202 while that goes on)."""
    remote = _remote(request)
    with _http_errors():
        if await remote.remove(agent_id, wait):
            return JSONResponse({"removed": agent_id})
    queued = _stats(request, agent_id)
    return JSONResponse({"draining": agent_id, **queued}, status_code=202)


@router.get("", dependencies=_READ)
async def list_agents(request: Request) -> dict[str, list[dict[str, Any]]]:
    """Every agent of the pipeline (Python and remote) and every remote one draining."""
    remote = _remote(request)
    agents: dict[str, Agent] = {a.id: a for a in request.app.state.reagents.pipeline.agents}
    agents.update((agent_id, r.agent) for agent_id, r in remote.agents.items())
    return {"agents": [_describe(remote, agent) for agent in agents.values()]}


@router.get("/{agent_id}/status", dependencies=_READ)
async def status(agent_id: str, request: Request) -> dict[str, Any]:
    """An agent's limits, subscription, queue, counters and latency percentiles."""
    remote = _remote(request)
    with _http_errors():
        agent = _find(request, agent_id)
    found = remote.agents.get(agent_id)
    extra: dict[str, Any] = {}
    if found is not None:
        extra["delivery"] = found.registration.delivery.model_dump()
    if isinstance(agent, PullAgent):
        extra |= {"waiting": agent.waiting, "leased": agent.leased}
    return {**_describe(remote, agent), **_stats(request, agent_id), **extra}


@router.get("/{agent_id}/events", dependencies=_REGISTER)
async def fetch(
    agent_id: str,
    request: Request,
    limit: Annotated[int, Query(alias="max", ge=1, le=1000)] = 10,
    wait: Annotated[float, Query(ge=0, le=60)] = 0.0,
) -> JSONResponse:
    """Lease up to ``max`` of a pull agent's events, waiting up to ``wait`` s for one."""
    agent = _pull_agent(request, agent_id)
    offers = await agent.fetch(limit, wait)
    return JSONResponse(
        [
            {
                "delivery_id": offer.delivery_id,
                "lease_expires_at": offer.expires_at.isoformat() if offer.expires_at else None,
                "attempt": offer.event.retry_count + 1,
                "event": offer.event.model_dump(mode="json"),
            }
            for offer in offers
        ]
    )


@router.post("/{agent_id}/acks", dependencies=_REGISTER)
async def acks(agent_id: str, request: Request) -> dict[str, list[str]]:
    """Acknowledge leased deliveries (with their reactions) or report their failures."""
    agent = _pull_agent(request, agent_id)
    with _http_errors():
        batch = parse_acks(await request.body())
    return asdict(apply_acks(agent, batch))


def _pull_agent(request: Request, agent_id: str) -> PullAgent:
    with _http_errors():
        agent = _remote(request).get(agent_id).agent
    if not isinstance(agent, PullAgent):
        raise HTTPException(
            409, detail=f"{agent_id!r} is a webhook agent: only pull agents are fetched from"
        )
    return agent


def _find(request: Request, agent_id: str) -> Agent:
    remote = _remote(request)
    found = remote.agents.get(agent_id)
    if found is not None:
        return found.agent
    try:
        agent: Agent = request.app.state.reagents.pipeline.get_agent(agent_id)
    except KeyError:
        raise remote.unknown(agent_id) from None
    return agent


def _describe(remote: RemoteAgents, agent: Agent) -> dict[str, Any]:
    found = remote.agents.get(agent.id)
    text = found.registration.subscription if found is not None else None
    return {
        "id": agent.id,
        "kind": found.kind if found is not None else "python",
        "state": found.state if found is not None else "active",
        "subscription": text or agent.filter.describe(),
        "max_concurrent": agent.concurrency,
        "priority": agent.rank,
    }


def _stats(request: Request, agent_id: str) -> dict[str, Any]:
    snapshot = request.app.state.reagents.pipeline.stats().get(agent_id)
    if snapshot is None:  # removed meanwhile
        return {}
    return {
        "active": snapshot.in_flight,
        "queue_depth": snapshot.queue_depth,
        "received": snapshot.received,
        "processed": snapshot.processed,
        "failed": snapshot.failed,
        "retried": snapshot.retried,
        "dead_lettered": snapshot.dead_lettered,
        "emitted": snapshot.emitted,
        "latency_p50_ms": snapshot.latency_p50_ms,
        "latency_p99_ms": snapshot.latency_p99_ms,
    }
