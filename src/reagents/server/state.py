"""`ServerState`: what the endpoints of one server share (``app.state.reagents``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from reagents.pipelines.pipeline import Pipeline
from reagents.server.auth import Authenticator
from reagents.server.remote import RemoteAgents
from reagents.server.settings import ServerSettings

if TYPE_CHECKING:
    from reagents.server.ingest import Ingest

__all__ = ["ServerState"]


@dataclass(slots=True)
class ServerState:
    """The pipeline a server fronts, its settings and the parts its endpoints share."""

    pipeline: Pipeline
    settings: ServerSettings
    auth: Authenticator
    remote_agents: RemoteAgents
    """Webhook and pull agents registered over HTTP (``/agents``)."""
    ingest: Ingest | None = None
    """``POST /events``: where accepted events go and the ids it remembers (`create_app`)."""
    failure: BaseException | None = None
    """The pipeline's own error, once its run failed (`serve` raises it after stopping)."""

    @property
    def started(self) -> bool:
        """True while the pipeline runs."""
        return self.pipeline.running
