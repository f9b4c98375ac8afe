"""Bearer tokens with scopes, and a request rate limit per token.

Every configured secret is compared (`hmac.compare_digest`) on every request, so the
time an answer takes says nothing about which token, or how much of one, was right.
Without configured tokens the server is open (it only listens on loopback then, see
`ServerSettings.check_bind`) and every caller is ``anonymous`` with every scope.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import HTTPException, Request

from reagents.policies import RateLimit, TokenBucket
from reagents.server.settings import Scope, ServerSettings, Token

__all__ = ["Authenticator", "Caller", "require"]

_MAX_BUCKETS = 10_000  # anonymous callers are limited per client address; keep the newest


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request: a token's name (``anonymous`` without tokens) and its scopes."""

    name: str
    scopes: frozenset[Scope]

    def allows(self, scope: Scope) -> bool:
        return scope in self.scopes or Scope.ADMIN in self.scopes


_ANONYMOUS = Caller("anonymous", frozenset(Scope))


class Authenticator:
    """Finds the caller of a request and charges its rate limit."""

    def __init__(
        self, settings: ServerSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._tokens = settings.tokens
        self._secrets = [(t, t.token.get_secret_value().encode()) for t in settings.tokens]
        self._rate = settings.rate_limit
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()

    @property
    def open(self) -> bool:
        """True when no tokens are configured (every caller has every scope)."""
        return not self._tokens

    def identify(self, authorization: str | None) -> Caller:
        """The caller an ``Authorization`` header names; `HTTPException` 401 if none."""
        if self.open:
            return _ANONYMOUS
        scheme, _, secret = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise _unauthorized("missing bearer token (send 'Authorization: Bearer <token>')")
        found: Token | None = None
        given = secret.strip().encode()
        for token, expected in self._secrets:  # all of them, always: constant time
            if hmac.compare_digest(given, expected):
                found = token
        if found is None:
            raise _unauthorized("unknown bearer token")
        return Caller(found.name, found.scopes)

    def charge(self, key: str) -> None:
        """Take one request from ``key``'s bucket; `HTTPException` 429 when it is empty."""
        if self._rate is None:
            return
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self._rate, now)
            if len(self._buckets) > _MAX_BUCKETS:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        wait = bucket.take(now)
        if wait > 0:
            raise HTTPException(
                429,
                detail=f"rate limit of {_describe(self._rate)} exceeded; retry later",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )


def require(scope: Scope) -> Callable[[Request], Awaitable[Caller]]:
    """A FastAPI dependency: the caller, if its token grants ``scope`` (else 401/403/429).

    Async, so FastAPI runs it on the event loop rather than in its thread pool.
    """

    async def dependency(request: Request) -> Caller:
        auth: Authenticator = request.app.state.reagents.auth
        client = request.client.host if request.client else "unknown"
        try:
            caller = auth.identify(request.headers.get("authorization"))
        except HTTPException:
            auth.charge(f"client:{client}")  # guessing tokens spends the client's own budget
            raise
        if not caller.allows(scope):
            raise HTTPException(403, detail=f"token {caller.name!r} lacks the {scope} scope")
        auth.charge(caller.name if not auth.open else f"client:{client}")
        request.state.caller = caller
        return caller

    return dependency


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        401, detail=message, headers={"WWW-Authenticate": 'Bearer realm="reagents"'}
    )


def _describe(rate: RateLimit) -> str:
    return f"{rate.rate} requests per {rate.per:g} s"
