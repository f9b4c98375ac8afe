"""`create_app`: the FastAPI application that fronts one pipeline.

Mount it in your own ASGI app, or run it with `serve` (``reagents serve``). By default
the app runs the pipeline for its lifetime (its lifespan starts it as a service and
stops and drains it on shutdown); pass ``run_pipeline=False`` when you run the
pipeline yourself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from reagents.pipelines.pipeline import Pipeline
from reagents.server import agents, health, metrics, watch
from reagents.server.auth import Authenticator
from reagents.server.handoff import Handoff, InboxHandoff
from reagents.server.ingest import Ingest
from reagents.server.ingest import router as ingest_router
from reagents.server.limits import RequestLimits
from reagents.server.origins import CrossSiteGuard
from reagents.server.remote import RemoteAgents
from reagents.server.settings import ServerSettings, is_loopback
from reagents.server.state import ServerState

__all__ = ["create_app"]


def create_app(
    pipeline: Pipeline,
    settings: ServerSettings | None = None,
    *,
    run_pipeline: bool = True,
    ingest: Handoff | None = None,
) -> FastAPI:
    """An ASGI app serving ``pipeline`` over HTTP with ``settings`` (defaults: loopback, open).

    ``ingest``: where ``POST /events`` puts events (default: the pipeline's inbox; or
    ``KafkaIngest(topic, bootstrap=...)`` for a topic the pipeline reads).
    """
    settings = settings or ServerSettings()
    state = ServerState(
        pipeline=pipeline,
        settings=settings,
        auth=Authenticator(settings),
        remote_agents=RemoteAgents(pipeline, settings),
    )
    handoff = ingest or InboxHandoff(pipeline)
    state.ingest = Ingest(handoff, settings.idempotency_window)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            if not run_pipeline:
                yield
                return
            async with pipeline.serving():
                yield
        except Exception as error:
            state.failure = error
            raise
        finally:  # after the pipeline drained: remote agents leave, their client closes
            await state.remote_agents.aclose()

    app = FastAPI(
        title=f"reagents: {pipeline.name}",
        summary="Publish events to a reagents pipeline, host agents, watch it run.",
        lifespan=lifespan,
    )
    app.state.reagents = state
    app.include_router(health.router)
    app.include_router(ingest_router)
    app.include_router(watch.router)
    app.include_router(agents.router)
    app.include_router(metrics.router)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    app.add_middleware(
        RequestLimits, limit=settings.max_body_bytes, max_header_bytes=settings.max_header_bytes
    )
    app.add_middleware(
        CrossSiteGuard,
        origins=settings.cors_origins,
        loopback_only=not settings.tokens and is_loopback(settings.host),
    )
    return app
