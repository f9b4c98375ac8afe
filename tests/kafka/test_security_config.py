"""Managed-Kafka settings (SASL, TLS, compression, pass-through options) are checked when
a `KafkaConfig` is made, with a message that names the setting; no broker needed."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import aiokafka.codec
import pytest
from aiokafka.abc import AbstractTokenProvider
from pydantic import ValidationError

from reagents.kafka import SECURITY_ENV, KafkaConfig, ProducerSettings

SASL = {"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"}


class Tokens(AbstractTokenProvider):
    """An OAUTHBEARER token provider (what a user of an identity provider writes)."""

    async def token(self) -> str:
        return "a-token"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed CA-like certificate and its key (``openssl``), as PEM files."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("pki")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key)),
            *("-out", str(cert), "-days", "2", "-subj", "/CN=reagents-test-ca"),
        ],
        check=True,
        capture_output=True,
    )
    return {"cert": cert, "key": key}


def config(**settings: object) -> KafkaConfig:
    return KafkaConfig(bootstrap_servers="broker:9092", **settings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "SASL_SSL' needs sasl_mechanism: one of 'PLAIN'"),
        ({**SASL, "sasl_username": "key"}, "'PLAIN' needs sasl_password"),
        (SASL, "'PLAIN' needs sasl_username and sasl_password"),
        (
            {"sasl_mechanism": "SCRAM-SHA-512", "sasl_username": "u", "sasl_password": "p"},
            "needs security_protocol='SASL_SSL'",
        ),
        ({"sasl_username": "u", "sasl_password": "p"}, "given but no sasl_mechanism"),
        (
            {"security_protocol": "SASL_SSL", "sasl_mechanism": "OAUTHBEARER"},
            "needs sasl_oauth_token_provider: an instance of a subclass of aiokafka",
        ),
        (
            {**SASL, "sasl_mechanism": "OAUTHBEARER", "sasl_oauth_token_provider": "tok"},
            r"AbstractTokenProvider.*\(got str\)",
        ),
        ({"security_protocol": "TLS"}, "security_protocol"),
        ({"security_protocol": "SSL", "ssl_cafile": "/no/such/ca.pem"}, "does not exist"),
        ({"ssl_cafile": __file__}, "only apply to security_protocol='SSL' or 'SASL_SSL'"),
        ({"security_protocol": "SSL", "ssl_cafile": __file__}, "is not a PEM CA file"),
        ({"security_protocol": "SSL", "ssl_keyfile": __file__}, "ssl_keyfile needs ssl_certfile"),
        (
            {"security_protocol": "SSL", "ssl_context": ssl.create_default_context()}
            | {"ssl_check_hostname": False},
            "give either ssl_context or ssl_check_hostname, not both",
        ),
        ({"options": {"sesion_timeout_ms": 1}}, "did you mean session_timeout_ms \\(set with"),
        ({"options": {"metadata_max_agee_ms": 1}}, "did you mean metadata_max_age_ms"),
        ({"options": {"frobnicate": 1}}, "'frobnicate'] is not an option of aiokafka's"),
        ({"options": {"enable_auto_commit": True}}, "cannot be overridden: offsets are"),
        ({"options": {"sasl_plain_password": "x"}}, r"KafkaConfig\(sasl_password=...\)"),
        ({"compression": "brotli"}, "compression"),
    ],
)
def test_a_wrong_setting_fails_at_construction_naming_it(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        config(**settings)


@pytest.mark.parametrize("codec", ["snappy", "lz4", "zstd"])
def test_a_codec_whose_library_is_missing_says_what_to_install(
    codec: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(aiokafka.codec, "cramjam", None)
    with pytest.raises(ValidationError, match=f"pip install cramjam .*aiokafka\\[{codec}\\]"):
        config(compression=codec)
    with pytest.raises(ValidationError, match="pip install cramjam"):
        ProducerSettings(compression=codec)
    assert config(compression="gzip").producer_options()["compression_type"] == "gzip"
    assert config(compression="none").producer_options()["compression_type"] is None


def test_managed_cluster_settings_are_accepted(pki: dict[str, Path]) -> None:
    confluent = config(**SASL, sasl_username="KEY", sasl_password="SECRET")
    assert confluent.security_options()["sasl_plain_password"] == "SECRET"
    assert isinstance(confluent.security_options()["ssl_context"], ssl.SSLContext)
    oauth = config(**SASL | {"sasl_mechanism": "OAUTHBEARER"}, sasl_oauth_token_provider=Tokens())
    assert isinstance(oauth.security_options()["sasl_oauth_token_provider"], Tokens)
    mtls = config(
        security_protocol="ssl",  # names are case-insensitive
        ssl_cafile=pki["cert"],
        ssl_certfile=pki["cert"],
        ssl_keyfile=pki["key"],
        ssl_check_hostname=False,
    )
    context = mtls.security_options()["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert not context.check_hostname
    assert "reagents-test-ca" in str(context.get_ca_certs())  # the CA file was loaded


def test_secrets_never_show_in_repr_or_dumps(pki: dict[str, Path]) -> None:
    settings = config(**SASL, sasl_username="KEY", sasl_password="hunter2-sasl")
    tls = config(
        security_protocol="SSL",
        ssl_certfile=pki["cert"],
        ssl_keyfile=pki["key"],
        ssl_password="hunter2-key",
    )
    for shown in (repr(settings), str(settings), settings.model_dump_json(), repr(tls), str(tls)):
        assert "hunter2" not in shown


def test_security_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECURITY_ENV["security_protocol"], "sasl_ssl")
    with pytest.raises(ValidationError, match="needs sasl_mechanism"):
        config()
    monkeypatch.setenv(SECURITY_ENV["sasl_mechanism"], "SCRAM-SHA-512")
    monkeypatch.setenv(SECURITY_ENV["sasl_username"], "svc")
    monkeypatch.setenv(SECURITY_ENV["sasl_password"], "from-env")
    options = config().security_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("svc", "from-env")
    monkeypatch.setenv(SECURITY_ENV["ssl_cafile"], "/no/such/ca.pem")
    with pytest.raises(ValidationError, match=r"ssl_cafile: file '/no/such/ca\.pem' does not"):
        config()
