"""Importing aiokafka, checking compression codecs and pass-through client options.

aiokafka is an optional dependency: `require_aiokafka` imports it (or a submodule)
with the ``pip install`` line to run when it is missing. `check_compression` refuses a
codec whose library is not installed when the config is made (aiokafka itself would
only fail at the first send). `check_passthrough` vets ``KafkaConfig.options``: each
name must be a keyword of ``AIOKafkaConsumer``, ``AIOKafkaProducer`` or
``AIOKafkaAdminClient`` (else the error lists close matches) and not one reagents
sets itself; `accepted_by` picks the options one client class takes.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from types import ModuleType
from typing import Literal

from reagents.errors import ConfigurationError
from reagents.extras import KAFKA_HINT, require_extra

__all__ = [
    "CLIENT_CLASSES",
    "Compression",
    "accepted_by",
    "check_compression",
    "check_passthrough",
    "require_aiokafka",
]


Compression = Literal["gzip", "snappy", "lz4", "zstd", "none"]
CLIENT_CLASSES = ("AIOKafkaConsumer", "AIOKafkaProducer", "AIOKafkaAdminClient")

# aiokafka options that a KafkaConfig / ProducerSettings field sets, and where to set them
_FIELD_FOR = {
    "bootstrap_servers": "KafkaConfig(bootstrap_servers=...)",
    "client_id": "KafkaConfig(client_id=...)",
    "request_timeout_ms": "KafkaConfig(request_timeout_ms=...)",
    "retry_backoff_ms": "KafkaConfig(retry_backoff_ms=...)",
    "session_timeout_ms": "KafkaConfig(session_timeout_ms=...)",
    "heartbeat_interval_ms": "KafkaConfig(heartbeat_interval_ms=...)",
    "max_poll_interval_ms": "KafkaConfig(max_poll_interval_ms=...)",
    "max_partition_fetch_bytes": "KafkaConfig(max_partition_fetch_bytes=...)",
    "fetch_max_bytes": "KafkaConfig(fetch_max_bytes=...)",
    "security_protocol": "KafkaConfig(security_protocol=...)",
    "sasl_mechanism": "KafkaConfig(sasl_mechanism=...)",
    "sasl_plain_username": "KafkaConfig(sasl_username=...)",
    "sasl_plain_password": "KafkaConfig(sasl_password=...)",
    "sasl_oauth_token_provider": "KafkaConfig(sasl_oauth_token_provider=...)",
    "ssl_context": "KafkaConfig(ssl_context=...) or the ssl_* fields",
    "compression_type": "KafkaConfig(compression=...) or ProducerSettings(compression=...)",
    "linger_ms": "ProducerSettings(linger_ms=...)",
    "max_batch_size": "ProducerSettings(max_batch_size=...)",
    "max_poll_records": "KafkaSource(max_poll_records=...)",
    "group_id": "KafkaSource(group_id=...)",
    "auto_offset_reset": "KafkaSource(start=...)",
}
# options reagents fixes because its delivery guarantees depend on them
_MANAGED = {
    "enable_auto_commit": "offsets are committed after handling (at-least-once)",
    "auto_commit_interval_ms": "offsets are committed after handling (at-least-once)",
    "acks": "producers always use acks='all'",
    "key_serializer": "records are bytes",
    "value_serializer": "records are bytes",
    "key_deserializer": "records are bytes",
    "value_deserializer": "records are bytes",
    "transactional_id": "reagents does not use Kafka transactions",
    "loop": "clients run on the running event loop",
    "topics": "sources subscribe themselves",
}


def require_aiokafka(submodule: str = "") -> ModuleType:
    """Import ``aiokafka`` (or ``aiokafka.<submodule>``), saying which extra to install."""
    return require_extra(f"aiokafka.{submodule}" if submodule else "aiokafka", KAFKA_HINT)


def check_compression(codec: Compression | None) -> Compression | None:
    """``codec`` if its library is installed (``none`` becomes ``None``), else say which."""
    if codec is None or codec == "none":
        return None
    available = getattr(require_aiokafka("codec"), f"has_{codec}")
    if not available():
        raise ConfigurationError(
            f"compression={codec!r} needs the cramjam library: pip install cramjam "
            f"(or pip install 'aiokafka[{codec}]'); 'gzip' needs nothing extra"
        )
    return codec


def _keywords(class_name: str) -> set[str]:
    """The keyword parameters of an aiokafka client class's constructor."""
    module = require_aiokafka("admin" if class_name == "AIOKafkaAdminClient" else "")
    parameters = inspect.signature(getattr(module, class_name).__init__).parameters
    return set(parameters) - {"self"}


def accepted_by(class_name: str, options: Mapping[str, object]) -> dict[str, object]:
    """The entries of ``options`` that ``class_name``'s constructor accepts."""
    if not options:
        return {}
    keywords = _keywords(class_name)
    return {name: value for name, value in options.items() if name in keywords}


def check_passthrough(options: Mapping[str, object]) -> dict[str, object]:
    """``options`` if every name is an aiokafka client option reagents leaves open."""
    if not options:
        return dict(options)
    known = set().union(*(_keywords(name) for name in CLIENT_CLASSES))
    for name in options:
        if name in _FIELD_FOR:
            raise ConfigurationError(
                f"options[{name!r}]: set it with {_FIELD_FOR[name]}, not as a pass-through option"
            )
        if name in _MANAGED:
            raise ConfigurationError(f"options[{name!r}] cannot be overridden: {_MANAGED[name]}")
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
            named = [f"{c} (set with {_FIELD_FOR[c]})" if c in _FIELD_FOR else c for c in close]
            hint = f"; did you mean {', '.join(named)}?" if close else ""
            raise ConfigurationError(
                f"options[{name!r}] is not an option of aiokafka's {', '.join(CLIENT_CLASSES)}"
                f"{hint}"
            )
    return dict(options)
