"""Hostile registration bodies, acks and webhook URLs: a clear refusal, never a crash.

The parsers are fed directly (many examples), and the real server over a socket
(fewer): whatever the body, ``POST /agents/{id}/register`` answers 201, 409 or 422,
never 500.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from hypothesis import given
from hypothesis import strategies as st

from reagents import Pipeline
from reagents.server import ServerSettings
from reagents.server.acks import AckError, parse_acks
from reagents.server.allowlist import HostAllowlist, UnsafeURLError
from reagents.server.registration import RegistrationError, parse_registration
from tests.hostile import hostile, hostile_strings
from tests.server.live import live_server

_numbers = st.one_of(
    st.integers(),
    st.floats(),
    st.sampled_from([0, -1, 1, 1001, 2**63, -0.0, True, False, 1e308, 10**4000]),
)
_leaves = st.none() | _numbers | hostile_strings
_json = st.recursive(
    _leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_strings, inner, max_size=4),
    max_leaves=15,
)
_HOSTS = [
    "127.0.0.1", "127.0.0.1:9", "[::1]", "localhost", "2130706433", "0x7f.1", "169.254.169.254",
    "hooks.example", "HOOKS.example:443", "xn--bcher-kva.example", "bücher.example",
    "hooks.example.", "%31%32%37.0.0.1", "", " ", "a b",
]  # fmt: skip
_urls = st.one_of(
    hostile_strings,
    st.builds(
        "{}://{}{}{}".format,
        st.sampled_from(["http", "https", "HTTP", "ftp", "file", "", "javascript"]),
        st.sampled_from(["", "user@", "u:p@", "127.0.0.1@", "@"]),
        st.sampled_from(_HOSTS),
        st.sampled_from(["", "/", "/hook?x=1", "#@evil", "/../..", "\\@evil", ":99999"]),
    ),
)
_deliveries = st.one_of(
    _json,
    st.fixed_dictionaries(
        {"mode": st.sampled_from(["webhook", "pull", "push", 1])},
        optional={"url": _urls | _json, "timeout": _numbers, "lease_seconds": _numbers},
    ),
)
_registrations = st.fixed_dictionaries(
    {},
    optional={
        "subscription": hostile_strings | _json,
        "max_concurrent": _numbers,
        "priority": _numbers,
        "retry": _json
        | st.fixed_dictionaries({}, optional=dict.fromkeys(("max_retries", "initial"), _numbers)),
        "delivery": _deliveries,
        "extra": _json,
    },
)


def _encoded(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


_bodies = st.one_of(
    _registrations.map(_encoded),
    _json.map(_encoded),
    st.binary(max_size=64),
    st.integers(0, 3000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.sampled_from([b"", b"null", b"{", b"\xff", b'{"delivery": NaN}', b"1e99999"]),
)

ALLOWED = HostAllowlist(["127.0.0.1:9", "hooks.example", "[::1]:8080"])


@hostile(400)
@given(_bodies)
def test_the_registration_parser_refuses_with_a_reason_or_accepts(body: bytes) -> None:
    try:
        registration, subscription = parse_registration(body)
    except RegistrationError as error:
        reason = str(error)
    else:
        assert 1 <= registration.max_concurrent <= 1000
        reason = subscription.describe()
    assert reason


@hostile(400)
@given(_urls)
def test_the_allowlist_passes_only_listed_http_hosts(url: str) -> None:
    try:
        parsed = ALLOWED.check(url)
    except UnsafeURLError as error:
        refused = str(error)
    else:
        refused = ""
    if refused:
        assert repr(url) in refused or "longer than" in refused
        return
    assert parsed.scheme in ("http", "https")
    assert not parsed.userinfo
    host = parsed.raw_host.decode().lower()
    assert host == "hooks.example" or (host, parsed.port) in {("127.0.0.1", 9), ("::1", 8080)}


@hostile(300)
@given(
    st.one_of(
        _json.map(_encoded),
        st.fixed_dictionaries(
            {}, optional={"acks": _json | st.lists(_json), "failures": _json}
        ).map(_encoded),
        st.binary(max_size=32),
    )
)
def test_the_acks_parser_refuses_with_a_reason_or_accepts(body: bytes) -> None:
    try:
        batch = parse_acks(body)
    except AckError as error:
        reason = str(error)
    else:
        assert not batch.acks.keys() & batch.failures.keys()
        reason = "accepted"
    assert reason


async def test_hostile_bodies_over_the_socket_never_answer_500() -> None:
    settings = ServerSettings(webhook_hosts=("127.0.0.1:9",), rate_limit=None)
    async with live_server(Pipeline("hostile"), settings) as live:
        codes: set[int] = set()

        @hostile(60)
        @given(_bodies, st.sampled_from(["a", "b", "a%20b", "x" * 200, "%00", "ok.id:1"]))
        def post(body: bytes, agent_id: str) -> None:
            with httpx.Client(base_url=live.url, timeout=10) as client:
                answer = client.post(f"/agents/{agent_id}/register", content=body)
            assert answer.status_code in (201, 409, 422), (answer.status_code, answer.text)
            assert isinstance(answer.json()["detail" if answer.status_code != 201 else "id"], str)
            codes.add(answer.status_code)

        await asyncio.to_thread(post)
        assert 422 in codes
