"""`KafkaConfig`: where the brokers are and how reagents' Kafka clients behave.

The bootstrap servers come from the argument, else ``$REAGENTS_KAFKA_BOOTSTRAP``;
nothing silently defaults to ``localhost``. Starting a client is retried a bounded
number of times, then fails with `KafkaUnavailableError` naming the address.
Authentication and TLS (`KafkaSecurity`), compression and pass-through aiokafka options
are part of the config, and every client reagents makes (consumers, producers, admin
clients) is built from it, so one config reaches a managed cluster everywhere.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import ConfigDict, Field, field_validator, model_validator

from reagents.errors import ConfigurationError, ReagentsError
from reagents.kafka.client_options import (
    Compression,
    accepted_by,
    check_compression,
    check_passthrough,
    require_aiokafka,
)
from reagents.kafka.security import KafkaSecurity

__all__ = [
    "BOOTSTRAP_ENV",
    "KafkaConfig",
    "KafkaUnavailableError",
    "require_aiokafka",
    "resolve_bootstrap",
]

BOOTSTRAP_ENV = "REAGENTS_KAFKA_BOOTSTRAP"

_log = logging.getLogger(__name__)
T = TypeVar("T")


class KafkaUnavailableError(ReagentsError, ConnectionError):
    """The Kafka cluster could not be reached after the configured attempts."""


def resolve_bootstrap(bootstrap: str | None = None) -> str:
    """``bootstrap``, else ``$REAGENTS_KAFKA_BOOTSTRAP``; raises when neither is set."""
    value = bootstrap or os.environ.get(BOOTSTRAP_ENV, "")
    if not value.strip():
        raise ConfigurationError(
            f"no Kafka bootstrap servers: pass bootstrap='host:port' or set ${BOOTSTRAP_ENV} "
            "(for a local broker: `reagents broker`)"
        )
    return value.strip()


class KafkaConfig(KafkaSecurity):
    """Client settings shared by reagents' consumers, producers and admin clients.

    ``session_timeout_ms`` / ``heartbeat_interval_ms`` decide how fast a dead
    consumer's partitions move to a live one; ``connect_attempts`` and
    ``connect_backoff`` bound how long a client tries to reach the cluster at start.
    The fetch sizes bound what a consumer holds beyond its in-flight window (lower
    them for large records or tight memory).

    SASL and TLS: see `KafkaSecurity` (``security_protocol``, ``sasl_*``, ``ssl_*``).
    ``compression``: the codec of every producer (``gzip``, ``snappy``, ``lz4``,
    ``zstd`` or ``none``; a `ProducerSettings.compression` overrides it); the codec's
    library must be installed (``snappy``/``lz4``/``zstd`` need ``cramjam``).
    ``options``: any other aiokafka client keyword (e.g. ``metadata_max_age_ms``,
    ``connections_max_idle_ms``, ``isolation_level``, ``enable_idempotence``), given
    to each client class whose constructor takes it; an unknown name, or one that a
    field or reagents itself sets, is refused with what to do instead.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    bootstrap_servers: str = Field(default_factory=lambda: os.environ.get(BOOTSTRAP_ENV, ""))
    client_id: str = "reagents"
    request_timeout_ms: int = Field(default=30_000, gt=0)
    session_timeout_ms: int = Field(default=10_000, gt=0)
    heartbeat_interval_ms: int = Field(default=3_000, gt=0)
    max_poll_interval_ms: int = Field(default=300_000, gt=0)
    retry_backoff_ms: int = Field(default=100, ge=0)
    max_partition_fetch_bytes: int = Field(default=1024 * 1024, ge=1024)
    fetch_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    connect_attempts: int = Field(default=5, ge=1)
    connect_backoff: float = Field(default=0.5, ge=0)
    compression: Compression | None = None
    options: dict[str, object] = Field(default_factory=dict)

    @field_validator("bootstrap_servers")
    @classmethod
    def _has_servers(cls, value: str) -> str:
        return resolve_bootstrap(value)

    @field_validator("compression")
    @classmethod
    def _codec_installed(cls, value: Compression | None) -> Compression | None:
        return check_compression(value)

    @field_validator("options")
    @classmethod
    def _known_options(cls, value: dict[str, object]) -> dict[str, object]:
        return check_passthrough(value)

    @model_validator(mode="after")
    def _heartbeat_below_session(self) -> KafkaConfig:
        if self.heartbeat_interval_ms >= self.session_timeout_ms:
            raise ValueError(
                f"heartbeat_interval_ms ({self.heartbeat_interval_ms}) must be below "
                f"session_timeout_ms ({self.session_timeout_ms})"
            )
        return self

    @classmethod
    def of(cls, config: KafkaConfig | None = None, bootstrap: str | None = None) -> KafkaConfig:
        """``config`` with ``bootstrap`` applied, or a default config for ``bootstrap``."""
        if config is None:
            return cls(bootstrap_servers=resolve_bootstrap(bootstrap))
        if bootstrap is not None:
            return config.model_copy(update={"bootstrap_servers": resolve_bootstrap(bootstrap)})
        return config

    def client_options(self) -> dict[str, object]:
        """Keyword arguments every aiokafka client accepts (security included)."""
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "client_id": self.client_id,
            "request_timeout_ms": self.request_timeout_ms,
            "retry_backoff_ms": self.retry_backoff_ms,
            **self.security_options(),
        }

    def admin_options(self) -> dict[str, object]:
        """Keyword arguments for an ``AIOKafkaAdminClient``."""
        return {**self.client_options(), **accepted_by("AIOKafkaAdminClient", self.options)}

    def producer_options(self) -> dict[str, object]:
        """Keyword arguments for an ``AIOKafkaProducer`` (reagents adds acks and batching)."""
        codec = self.compression
        return {
            **self.client_options(),
            "compression_type": None if codec == "none" else codec,
            **accepted_by("AIOKafkaProducer", self.options),
        }

    def consumer_options(self) -> dict[str, object]:
        """Keyword arguments for an aiokafka consumer (auto-commit always off)."""
        return {
            **self.client_options(),
            **accepted_by("AIOKafkaConsumer", self.options),
            "session_timeout_ms": self.session_timeout_ms,
            "heartbeat_interval_ms": self.heartbeat_interval_ms,
            "max_poll_interval_ms": self.max_poll_interval_ms,
            "max_partition_fetch_bytes": self.max_partition_fetch_bytes,
            "fetch_max_bytes": self.fetch_max_bytes,
            "enable_auto_commit": False,
        }

    async def start_client(
        self, start: Callable[[], Awaitable[T]], close: Callable[[], Awaitable[object]], what: str
    ) -> T:
        """Run a client's ``start`` with bounded retries; raise `KafkaUnavailableError`."""
        errors = require_aiokafka("errors")
        last: BaseException | None = None
        for attempt in range(1, self.connect_attempts + 1):
            try:
                return await start()
            except errors.KafkaError as error:
                last = error
                await close()  # a failed start leaves connections behind
                _log.warning(
                    "%s: cannot reach Kafka at %s (attempt %d/%d): %s",
                    what,
                    self.bootstrap_servers,
                    attempt,
                    self.connect_attempts,
                    error,
                )
                if attempt < self.connect_attempts:
                    await asyncio.sleep(self.connect_backoff * 2 ** (attempt - 1))
        raise KafkaUnavailableError(
            f"{what}: cannot reach Kafka at {self.bootstrap_servers} after "
            f"{self.connect_attempts} attempts ({last}); is the broker running? "
            f"(set ${BOOTSTRAP_ENV}, or start one with `reagents broker`)"
        )
