"""The body of ``POST /agents/{agent_id}/register``, parsed from untrusted bytes.

``{"subscription": "type = order.*", "max_concurrent": 4, "priority": 5,
"retry": {"max_retries": 3, "initial": 0.5}, "delivery": {"mode": "webhook",
"url": "https://hooks.example.com/orders", "timeout": 10}}`` or, for a client that
fetches its events, ``"delivery": {"mode": "pull", "lease_seconds": 30}``.
Every way a body can be wrong raises `RegistrationError` with a message that says
what to fix (the server answers 422 with it), never anything else.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reagents.errors import FilterSyntaxError, ReagentsError
from reagents.operators.expression import where
from reagents.operators.filters import Filter, any_event
from reagents.policies import Backoff
from reagents.server.reactions import summary

__all__ = [
    "PullDelivery",
    "Registration",
    "RegistrationError",
    "WebhookDelivery",
    "check_agent_id",
    "parse_registration",
]

_AGENT_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,128}$")


class RegistrationError(ReagentsError, ValueError):
    """A registration request that cannot be carried out as given (HTTP 422)."""


class WebhookDelivery(BaseModel):
    """Events are POSTed to ``url``; the response body holds the reactions."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    mode: Literal["webhook"]
    url: str = Field(min_length=1, max_length=2048)
    timeout: float = Field(default=10.0, gt=0, le=300, description="Seconds per request.")


class PullDelivery(BaseModel):
    """Events wait in the server; the client fetches them and acknowledges each one."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    mode: Literal["pull"]
    lease_seconds: float = Field(default=30.0, gt=0, le=3600)
    fetch_seconds: float = Field(
        default=60.0, gt=0, le=86400, description="An event nobody fetches in time fails."
    )


class Registration(BaseModel):
    """What a remote agent subscribes to, its limits and how its events reach it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    subscription: str | None = Field(
        default=None, max_length=4096, description="A where(...) expression; none: every event."
    )
    max_concurrent: int = Field(default=1, ge=1, le=100)
    priority: int = Field(default=5, ge=1, le=10)
    retry: Backoff | None = None
    delivery: Annotated[WebhookDelivery | PullDelivery, Field(discriminator="mode")]

    def compiled(self) -> Filter:
        """The subscription as a filter; `RegistrationError` with the parser's position."""
        if self.subscription is None:
            return any_event()
        try:
            return where(self.subscription)
        except FilterSyntaxError as error:
            raise RegistrationError(f"subscription: {error}") from None
        except RecursionError:
            raise RegistrationError("subscription: nested too deeply") from None


def check_agent_id(agent_id: str) -> str:
    """``agent_id`` if it is a valid id; else `RegistrationError`."""
    if not _AGENT_ID.match(agent_id):
        raise RegistrationError(
            f"agent id {agent_id[:140]!r}: use 1 to 128 letters, digits and _ . : -"
        )
    return agent_id


def parse_registration(body: bytes) -> tuple[Registration, Filter]:
    """The registration in ``body`` (JSON) and its compiled subscription."""
    if not body.strip():
        raise RegistrationError('empty body: send a JSON object with at least "delivery"')
    try:
        registration = Registration.model_validate_json(body)
    except ValidationError as error:
        raise RegistrationError(f"invalid registration: {summary(error)}") from None
    return registration, registration.compiled()
