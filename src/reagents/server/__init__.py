"""The HTTP service of a pipeline (extra ``reagents[server]``): ``reagents serve``.

`create_app` builds the FastAPI app (mount it in yours), `serve` runs it on uvicorn.
`ServerSettings` says where it listens, which bearer tokens (with `Scope`s) it
accepts, and its limits. ``POST /events`` hands events to the pipeline's inbox, or to
a Kafka topic with `KafkaIngest`.
"""

from __future__ import annotations

from reagents.extras import MissingExtraError, has_module

if not all(
    has_module(name) for name in ("fastapi", "uvicorn", "httpx", "cloudevents", "prometheus_client")
):
    raise MissingExtraError("the HTTP server needs its extra: pip install 'reagents[server]'")

from reagents.server.app import create_app
from reagents.server.handoff import KafkaIngest
from reagents.server.running import serve
from reagents.server.settings import Scope, ServerSettings, Token

__all__ = ["KafkaIngest", "Scope", "ServerSettings", "Token", "create_app", "serve"]
