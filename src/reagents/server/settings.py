"""`ServerSettings`: how `reagents serve` listens, whom it lets in, and its limits.

Tokens come from code, from ``REAGENTS_TOKENS`` (a JSON list) or from the JSON file
``REAGENTS_TOKENS_FILE`` names: ``[{"name": "ci", "token": "…", "scopes": ["publish"]}]``.
A secret is a `SecretStr`: it never appears in a repr, a log line or an error.
Settings that cannot work fail at start-up with a message that says what to change.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from reagents.errors import ConfigurationError
from reagents.policies import RateLimit

__all__ = ["TOKENS_ENV", "TOKENS_FILE_ENV", "Scope", "ServerSettings", "Token", "is_loopback"]

TOKENS_ENV = "REAGENTS_TOKENS"
TOKENS_FILE_ENV = "REAGENTS_TOKENS_FILE"


class Scope(StrEnum):
    """What a bearer token may do; ``admin`` may do everything."""

    PUBLISH = "publish"
    """Post events."""
    REGISTER = "register"
    """Register, remove and feed agents over HTTP (webhook and pull agents)."""
    READ = "read"
    """Read status, stats, metrics, dead letters and the event stream."""
    ADMIN = "admin"
    """Everything, including replaying dead letters."""


class Token(BaseModel):
    """A named bearer token and the scopes it grants."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, description="Shown in logs and metrics instead of the secret.")
    token: SecretStr = Field(description="The bearer secret (at least 16 characters).")
    scopes: frozenset[Scope] = frozenset({Scope.READ})

    @field_validator("token")
    @classmethod
    def _long_enough(cls, token: SecretStr) -> SecretStr:
        # a field validator: an error of the whole model would show the secret as input
        if len(token.get_secret_value()) < 16:
            raise ValueError("shorter than 16 characters: too easy to guess")
        return token

    def allows(self, scope: Scope) -> bool:
        """Whether this token may act in ``scope``."""
        return scope in self.scopes or Scope.ADMIN in self.scopes


class ServerSettings(BaseModel):
    """Where the server listens and what it accepts (all limits per request or token)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    tokens: tuple[Token, ...] = ()
    insecure: bool = Field(
        default=False, description="Allow a non-loopback address without tokens (anyone may call)."
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    max_header_bytes: int = Field(default=16_384, ge=1024)
    rate_limit: RateLimit | None = Field(
        default=RateLimit(rate=1000, burst=2000), description="Requests per token (or client)."
    )
    cors_origins: tuple[str, ...] = ()
    webhook_hosts: tuple[str, ...] = Field(
        default=(), description="Hosts (name or IP, optionally host:port) webhooks may target."
    )
    busy_wait: float = Field(
        default=1.0,
        ge=0,
        description="Seconds POST /events waits for room in a busy pipeline before a 429.",
    )
    max_remote_agents: int = Field(default=100, ge=0, description="Agents over HTTP at most.")
    idempotency_window: int = Field(default=100_000, ge=0, description="Event ids remembered.")
    stream_buffer: int = Field(default=1000, ge=1, description="Events queued per SSE client.")

    def check_bind(self) -> None:
        """Refuse to listen beyond loopback without tokens, unless ``insecure``."""
        if not self.tokens and not self.insecure and not is_loopback(self.host):
            raise ConfigurationError(
                f"refusing to listen on {self.host} without tokens: anyone who can reach it "
                f"could publish events and register agents. Set {TOKENS_ENV} or "
                f"{TOKENS_FILE_ENV} (see the README, 'reagents serve'), or pass --insecure"
            )

    def with_env_tokens(self, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """These settings plus the tokens ``REAGENTS_TOKENS`` / ``REAGENTS_TOKENS_FILE`` give."""
        env = os.environ if environ is None else environ
        tokens = list(self.tokens)
        if raw := env.get(TOKENS_ENV):
            tokens += _parse_tokens(raw, TOKENS_ENV)
        if path := env.get(TOKENS_FILE_ENV):
            try:
                text = Path(path).read_text(encoding="utf-8")
            except OSError as error:
                raise ConfigurationError(
                    f"{TOKENS_FILE_ENV}={path}: cannot read it ({error.strerror})"
                ) from None
            tokens += _parse_tokens(text, path)
        names = [token.name for token in tokens]
        if duplicates := sorted({name for name in names if names.count(name) > 1}):
            raise ConfigurationError(f"token names must be unique; repeated: {duplicates}")
        return self.model_copy(update={"tokens": tuple(tokens)})


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_tokens(text: str, where: str) -> list[Token]:
    try:
        entries = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{where}: not JSON ({error.msg} at {error.pos})") from None
    if not isinstance(entries, list):
        raise ConfigurationError(
            f'{where}: expected a JSON list like [{{"name": "ci", "token": "…", '
            f'"scopes": ["publish"]}}], got a {type(entries).__name__}'
        )
    tokens = []
    for index, entry in enumerate(entries):
        try:
            tokens.append(Token.model_validate(entry))
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'entry'}: {e['msg']}" for e in error.errors()
            )
            raise ConfigurationError(f"{where}: token #{index + 1}: {problems}") from None
    return tokens
