"""How reagents' Kafka clients authenticate and encrypt: SASL and TLS settings.

`KafkaSecurity` is the part of `KafkaConfig` that managed clusters (Confluent Cloud,
Amazon MSK, Aiven) need: ``security_protocol``, a SASL mechanism with its credentials,
and TLS trust (a CA file, a client certificate, or a ready `ssl.SSLContext`). Every
combination is checked when the config is made, so a wrong one fails at start with a
message naming the setting, not minutes later as an opaque connection error. Secrets
are `SecretStr`: they never appear in a repr or a log line.

Unset fields fall back to ``$REAGENTS_KAFKA_SECURITY_PROTOCOL``,
``$REAGENTS_KAFKA_SASL_MECHANISM``, ``$REAGENTS_KAFKA_SASL_USERNAME``,
``$REAGENTS_KAFKA_SASL_PASSWORD`` and ``$REAGENTS_KAFKA_SSL_CAFILE`` (as the bootstrap
servers fall back to ``$REAGENTS_KAFKA_BOOTSTRAP``), so a deployment can point the CLI
and an unchanged pipeline file at a managed cluster.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from reagents.errors import ConfigurationError
from reagents.kafka.client_options import require_aiokafka

__all__ = ["SECURITY_ENV", "KafkaSecurity", "SaslMechanism", "SecurityProtocol"]

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"]

SECURITY_ENV = {
    "security_protocol": "REAGENTS_KAFKA_SECURITY_PROTOCOL",
    "sasl_mechanism": "REAGENTS_KAFKA_SASL_MECHANISM",
    "sasl_username": "REAGENTS_KAFKA_SASL_USERNAME",
    "sasl_password": "REAGENTS_KAFKA_SASL_PASSWORD",
    "ssl_cafile": "REAGENTS_KAFKA_SSL_CAFILE",
}
_TLS = ("SSL", "SASL_SSL")
_SASL = ("SASL_PLAINTEXT", "SASL_SSL")
_SSL_FILES = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")


def _env(field: str) -> str | None:
    value = os.environ.get(SECURITY_ENV[field], "").strip()
    return value or None


class KafkaSecurity(BaseModel):
    """SASL / TLS settings of every Kafka client reagents makes.

    * ``security_protocol``: ``PLAINTEXT`` (default), ``SSL``, ``SASL_PLAINTEXT`` or
      ``SASL_SSL`` (what managed clusters use).
    * ``sasl_mechanism``: ``PLAIN`` (Confluent Cloud API keys), ``SCRAM-SHA-256`` /
      ``SCRAM-SHA-512`` (MSK, Aiven), both with ``sasl_username`` / ``sasl_password``;
      or ``OAUTHBEARER`` with ``sasl_oauth_token_provider``, an instance of
      ``aiokafka.abc.AbstractTokenProvider`` whose ``async token()`` returns a token.
    * TLS (``SSL`` / ``SASL_SSL``): the system's trusted CAs by default; ``ssl_cafile``
      for a private CA; ``ssl_certfile`` / ``ssl_keyfile`` (and ``ssl_password`` for an
      encrypted key) for client-certificate authentication (Aiven, MSK mTLS);
      ``ssl_check_hostname=False`` to accept a certificate issued for another name;
      or ``ssl_context``, a ready `ssl.SSLContext`, instead of all of these.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    security_protocol: SecurityProtocol = Field(
        default_factory=lambda: _env("security_protocol") or "PLAINTEXT", validate_default=True
    )
    sasl_mechanism: SaslMechanism | None = Field(
        default_factory=lambda: _env("sasl_mechanism"), validate_default=True
    )
    sasl_username: str | None = Field(default_factory=lambda: _env("sasl_username"))
    sasl_password: SecretStr | None = Field(
        default_factory=lambda: _env("sasl_password"), validate_default=True
    )
    sasl_oauth_token_provider: object | None = None
    ssl_cafile: Path | None = Field(
        default_factory=lambda: _env("ssl_cafile"), validate_default=True
    )
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_password: SecretStr | None = None
    ssl_check_hostname: bool = True
    ssl_context: ssl.SSLContext | None = None

    _tls: ssl.SSLContext | None = PrivateAttr(default=None)

    @field_validator("security_protocol", "sasl_mechanism", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        """``sasl_ssl`` and ``scram-sha-512`` are meant as their upper-case names."""
        return value.strip().upper() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _check_security(self) -> KafkaSecurity:
        self._check_sasl()
        self._check_ssl()
        if self.security_protocol in _TLS:
            self._tls = self.ssl_context or self._build_context()
        return self

    def _check_sasl(self) -> None:
        mechanism, protocol = self.sasl_mechanism, self.security_protocol
        if protocol in _SASL and mechanism is None:
            raise ConfigurationError(
                f"security_protocol={protocol!r} needs sasl_mechanism: one of 'PLAIN', "
                "'SCRAM-SHA-256', 'SCRAM-SHA-512', 'OAUTHBEARER'"
            )
        credentials = [n for n in ("sasl_username", "sasl_password") if getattr(self, n)]
        if mechanism is None:
            if credentials or self.sasl_oauth_token_provider is not None:
                given = credentials or ["sasl_oauth_token_provider"]
                raise ConfigurationError(
                    f"{', '.join(given)} given but no sasl_mechanism (and "
                    "security_protocol='SASL_SSL' or 'SASL_PLAINTEXT')"
                )
            return
        if protocol not in _SASL:
            raise ConfigurationError(
                f"sasl_mechanism={mechanism!r} needs security_protocol='SASL_SSL' "
                f"(or 'SASL_PLAINTEXT' without TLS), not {protocol!r}"
            )
        if mechanism == "OAUTHBEARER":
            self._check_token_provider()
            return
        missing = [n for n in ("sasl_username", "sasl_password") if not getattr(self, n)]
        if missing:
            raise ConfigurationError(
                f"sasl_mechanism={mechanism!r} needs {' and '.join(missing)} "
                "(for Confluent Cloud: the API key and secret)"
            )
        if self.sasl_oauth_token_provider is not None:
            raise ConfigurationError(
                f"sasl_oauth_token_provider is only used with sasl_mechanism='OAUTHBEARER', "
                f"not {mechanism!r}"
            )

    def _check_token_provider(self) -> None:
        provider = self.sasl_oauth_token_provider
        base = require_aiokafka("abc").AbstractTokenProvider
        if not isinstance(provider, base):
            raise ConfigurationError(
                "sasl_mechanism='OAUTHBEARER' needs sasl_oauth_token_provider: an instance of "
                "a subclass of aiokafka.abc.AbstractTokenProvider with `async def token()`"
                + ("" if provider is None else f" (got {type(provider).__name__})")
            )
        if self.sasl_username or self.sasl_password:
            raise ConfigurationError(
                "sasl_username / sasl_password are not used with sasl_mechanism='OAUTHBEARER'"
            )

    def _check_ssl(self) -> None:
        given = [n for n in (*_SSL_FILES, "ssl_password", "ssl_context") if getattr(self, n)]
        if not self.ssl_check_hostname:
            given.append("ssl_check_hostname")
        if given and self.security_protocol not in _TLS:
            raise ConfigurationError(
                f"{', '.join(given)} only apply to security_protocol='SSL' or 'SASL_SSL' "
                f"(it is {self.security_protocol!r})"
            )
        if self.ssl_context is not None and len(given) > 1:
            others = ", ".join(n for n in given if n != "ssl_context")
            raise ConfigurationError(
                f"give either ssl_context or {others}, not both "
                "(configure the context itself instead)"
            )
        for name in _SSL_FILES:
            path: Path | None = getattr(self, name)
            if path is not None and not path.is_file():
                raise ConfigurationError(f"{name}: file {str(path)!r} does not exist")
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ConfigurationError("ssl_keyfile needs ssl_certfile (the client certificate)")
        if self.ssl_password and not self.ssl_certfile:
            raise ConfigurationError("ssl_password (of the client key) needs ssl_certfile")

    def _build_context(self) -> ssl.SSLContext:
        """A client `ssl.SSLContext` from the ``ssl_*`` settings (system CAs by default)."""
        cafile = str(self.ssl_cafile) if self.ssl_cafile else None
        try:
            context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cafile)
        except (ssl.SSLError, OSError) as error:
            raise ConfigurationError(
                f"ssl_cafile {cafile!r} is not a PEM CA file: {error}"
            ) from error
        if self.ssl_certfile:
            password = self.ssl_password.get_secret_value() if self.ssl_password else None
            keyfile = str(self.ssl_keyfile) if self.ssl_keyfile else None
            try:
                context.load_cert_chain(str(self.ssl_certfile), keyfile, password)
            except (ssl.SSLError, OSError) as error:
                raise ConfigurationError(
                    f"cannot load the client certificate {str(self.ssl_certfile)!r}"
                    f"{f' / key {keyfile!r}' if keyfile else ''}: {error} (wrong ssl_password, "
                    "or the key does not belong to the certificate?)"
                ) from error
        context.check_hostname = self.ssl_check_hostname
        return context

    def security_options(self) -> dict[str, object]:
        """The aiokafka keyword arguments for authentication and encryption."""
        options: dict[str, object] = {"security_protocol": self.security_protocol}
        if self._tls is not None:
            options["ssl_context"] = self._tls
        mechanism = self.sasl_mechanism
        if mechanism is None:
            return options
        options["sasl_mechanism"] = mechanism
        if mechanism == "OAUTHBEARER":
            options["sasl_oauth_token_provider"] = self.sasl_oauth_token_provider
        else:
            options["sasl_plain_username"] = self.sasl_username
            password = self.sasl_password
            options["sasl_plain_password"] = password.get_secret_value() if password else None
        return options
