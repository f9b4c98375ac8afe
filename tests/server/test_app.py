"""The server's frame over a real socket: health, auth and scopes, limits, binding."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, Request
from pydantic import SecretStr

from reagents import Pipeline
from reagents.delivery import Incoming
from reagents.errors import ConfigurationError
from reagents.pipelines.lifecycle import SourceFailedError
from reagents.policies import RateLimit
from reagents.server import Scope, ServerSettings, Token, create_app, serve
from reagents.server.auth import Caller, require
from reagents.server.settings import TOKENS_ENV, TOKENS_FILE_ENV
from reagents.sources.base import Source
from tests.server.live import live_server

READER = "r" * 20
ADMIN = "a" * 20

probe = APIRouter(prefix="/_probe")


@probe.get("/read")
async def read(caller: Annotated[Caller, Depends(require(Scope.READ))]) -> dict[str, str]:
    return {"caller": caller.name}


@probe.get("/publish")
async def publish(caller: Annotated[Caller, Depends(require(Scope.PUBLISH))]) -> dict[str, str]:
    return {"caller": caller.name}


@probe.post("/echo", dependencies=[Depends(require(Scope.PUBLISH))])
async def echo(request: Request) -> dict[str, int]:
    return {"length": len(await request.body())}


def _settings(**changes: object) -> ServerSettings:
    tokens = (
        Token(name="reader", token=SecretStr(READER), scopes=frozenset({Scope.READ})),
        Token(name="boss", token=SecretStr(ADMIN), scopes=frozenset({Scope.ADMIN})),
    )
    return ServerSettings.model_validate({"tokens": tokens, **changes})


async def test_health_and_readiness_answer_without_a_token() -> None:
    async with live_server(Pipeline("p"), _settings()) as live:
        assert (await live.client.get("/healthz")).json() == {"status": "ok"}
        ready = await live.client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["ready"] is True


async def test_readyz_is_503_while_the_pipeline_is_not_running() -> None:
    app = create_app(Pipeline("p"), run_pipeline=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        answer = await client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["checks"]["pipeline"] == "not running"


def test_tokens_from_env_and_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text('[{"name": "file", "token": "ffffffffffffffff", "scopes": ["admin"]}]')
    env = {
        TOKENS_ENV: '[{"name": "env", "token": "eeeeeeeeeeeeeeee", "scopes": ["publish"]}]',
        TOKENS_FILE_ENV: str(path),
    }
    settings = ServerSettings().with_env_tokens(env)
    assert [(t.name, sorted(t.scopes)) for t in settings.tokens] == [
        ("env", ["publish"]),
        ("file", ["admin"]),
    ]
    assert "eeee" not in repr(settings)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{nope", "not JSON"),
        ('{"name": "x"}', "expected a JSON list"),
        ('[{"name": "x", "token": "short"}]', "shorter than 16"),
        ('[{"name": "x", "token": "xxxxxxxxxxxxxxxx", "scopes": ["root"]}]', "scopes"),
        (
            '[{"name": "x", "token": "xxxxxxxxxxxxxxxx"},'
            ' {"name": "x", "token": "yyyyyyyyyyyyyyyy"}]',
            "unique",
        ),
    ],
)
def test_bad_tokens_fail_with_what_to_fix(raw: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        ServerSettings().with_env_tokens({TOKENS_ENV: raw})
    assert "xxxxxxxxxxxxxxxx" not in str(caught.value)


def test_no_tokens_no_public_address_unless_insecure() -> None:
    with pytest.raises(ConfigurationError, match="without tokens"):
        ServerSettings(host="0.0.0.0").check_bind()
    ServerSettings(host="0.0.0.0", insecure=True).check_bind()
    _settings(host="0.0.0.0").check_bind()
    ServerSettings(host="::1").check_bind()


async def test_missing_wrong_and_insufficient_tokens() -> None:
    async with live_server(Pipeline("p"), _settings(), routers=(probe,)) as live:
        missing = await live.client.get("/_probe/read")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"].startswith("Bearer")
        wrong = await live.client.get("/_probe/read", headers=live.authed("w" * 20))
        assert wrong.status_code == 401
        assert wrong.json()["detail"] == "unknown bearer token"
        scoped = await live.client.get("/_probe/publish", headers=live.authed(READER))
        assert scoped.status_code == 403
        assert "publish" in scoped.json()["detail"]
        assert (await live.client.get("/_probe/read", headers=live.authed(READER))).json() == {
            "caller": "reader"
        }
        assert (await live.client.get("/_probe/publish", headers=live.authed(ADMIN))).json() == {
            "caller": "boss"
        }


async def test_rate_limit_per_token_answers_429_with_retry_after() -> None:
    settings = _settings(rate_limit=RateLimit(rate=1, per=60, burst=3))
    async with live_server(Pipeline("p"), settings, routers=(probe,)) as live:
        codes = [
            (await live.client.get("/_probe/read", headers=live.authed(READER))).status_code
            for _ in range(5)
        ]
        assert codes == [200, 200, 200, 429, 429]
        limited = await live.client.get("/_probe/read", headers=live.authed(READER))
        assert int(limited.headers["retry-after"]) >= 1
        # another token has its own bucket
        assert (
            await live.client.get("/_probe/read", headers=live.authed(ADMIN))
        ).status_code == 200


async def test_body_over_the_limit_is_413_with_or_without_a_length() -> None:
    async with live_server(Pipeline("p"), _settings(max_body_bytes=1024), routers=(probe,)) as live:
        big = b"x" * 5000
        sized = await live.client.post("/_probe/echo", content=big, headers=live.authed(ADMIN))
        assert sized.status_code == 413
        assert "1,024 bytes" in sized.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(5):
                yield b"x" * 1000

        streamed = await live.client.post(
            "/_probe/echo", content=chunks(), headers=live.authed(ADMIN)
        )
        assert streamed.status_code == 413
        small = await live.client.post("/_probe/echo", content=b"hi", headers=live.authed(ADMIN))
        assert small.json() == {"length": 2}


async def test_headers_over_the_limit_are_refused() -> None:
    async with live_server(Pipeline("p"), _settings(max_header_bytes=2048)) as live:
        answer = await live.client.get("/healthz", headers={"X-Big": "y" * 5000})
        assert answer.status_code == 431
        assert "2,048 bytes" in answer.json()["detail"]


async def test_cors_is_off_by_default_and_on_for_listed_origins() -> None:
    async with live_server(Pipeline("p"), _settings()) as live:
        answer = await live.client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in answer.headers
    settings = _settings(cors_origins=("https://ops.example",))
    async with live_server(Pipeline("p"), settings) as live:
        answer = await live.client.get("/healthz", headers={"Origin": "https://ops.example"})
        assert answer.headers["access-control-allow-origin"] == "https://ops.example"


class _FailingSource(Source):
    name = "doomed"

    async def batches(self) -> AsyncIterator[Sequence[Incoming]]:
        await asyncio.sleep(0.3)
        raise OSError("disk gone")
        yield []  # an async generator


async def test_serve_stops_and_raises_when_the_pipeline_fails() -> None:
    settings = ServerSettings(port=0)
    with pytest.raises(SourceFailedError, match="disk gone"):
        await asyncio.wait_for(serve(Pipeline("p", sources=[_FailingSource()]), settings), 20)
