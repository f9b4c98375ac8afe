"""`HostAllowlist`: the only places a webhook may send events to (against SSRF).

A server that POSTs to URLs its callers choose could be aimed at the machine's own
admin ports or the cloud metadata service. So a webhook URL must be ``http`` or
``https``, carry no user name or password, and name a host on the operator's list
(`ServerSettings.webhook_hosts`): ``hooks.example.com`` (any port of it) or
``hooks.example.com:8443`` / ``10.0.0.5:9000`` / ``[::1]:8080`` (that port only). The
URL is parsed once, by the same parser that sends the request, so what is checked is
what is called; it is checked at registration and again before every request, and
redirects are never followed. An empty list refuses every webhook.
"""

from __future__ import annotations

from collections.abc import Iterable

import httpx

from reagents.errors import ConfigurationError, ReagentsError

__all__ = ["HostAllowlist", "UnsafeURLError"]

_DEFAULT_PORTS = {"http": 80, "https": 443}
_MAX_URL = 2048


class UnsafeURLError(ReagentsError, ValueError):
    """A webhook URL that the allowlist refuses; the message says why."""


class HostAllowlist:
    """Hosts (any port) and host:port pairs webhooks may target."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.entries = tuple(entries)
        self._hosts: set[str] = set()
        self._pairs: set[tuple[str, int]] = set()
        for entry in self.entries:
            host, port = _parse_entry(entry)
            if port is None:
                self._hosts.add(host)
            else:
                self._pairs.add((host, port))

    def check(self, url: str) -> httpx.URL:
        """``url`` parsed, if a webhook may call it; else `UnsafeURLError` saying why."""
        if len(url) > _MAX_URL:
            raise UnsafeURLError(f"webhook URL is longer than {_MAX_URL} characters")
        try:
            parsed = httpx.URL(url)
            port = parsed.port
            host = parsed.raw_host.decode("ascii").lower()
        except Exception as error:  # the parser's own words: InvalidURL, UnicodeError...
            raise UnsafeURLError(f"webhook URL {url!r} cannot be parsed: {error}") from None
        if parsed.scheme not in _DEFAULT_PORTS:
            raise UnsafeURLError(
                f"webhook URL {url!r}: scheme {parsed.scheme or '(none)'!r} is not allowed "
                "(only http and https)"
            )
        if parsed.userinfo:
            raise UnsafeURLError(f"webhook URL {url!r}: user names and passwords are not allowed")
        if not host:
            raise UnsafeURLError(f"webhook URL {url!r} names no host")
        port = port if port is not None else _DEFAULT_PORTS[parsed.scheme]
        if not 1 <= port <= 65535:
            raise UnsafeURLError(f"webhook URL {url!r}: port {port} is out of range")
        if host not in self._hosts and (host, port) not in self._pairs:
            allowed = ", ".join(self.entries) or "none: webhooks are off"
            raise UnsafeURLError(
                f"webhook URL {url!r}: {_show(host)}:{port} is not in the server's "
                f"webhook_hosts (allowed: {allowed})"
            )
        return parsed


def _parse_entry(entry: str) -> tuple[str, int | None]:
    """An allowlist entry as (IDNA host, port or None); `ConfigurationError` if bad."""
    try:
        parsed = httpx.URL(f"http://{entry}")
        host = parsed.raw_host.decode("ascii").lower()
        port = parsed.port
    except Exception as error:
        raise ConfigurationError(f"webhook_hosts entry {entry!r} is not a host: {error}") from None
    if not host or parsed.userinfo or parsed.path not in ("", "/") or parsed.query:
        raise ConfigurationError(
            f"webhook_hosts entry {entry!r}: give a host or host:port (like "
            "hooks.example.com or 10.0.0.5:9000), nothing else"
        )
    if port is not None and not 1 <= port <= 65535:
        raise ConfigurationError(f"webhook_hosts entry {entry!r}: port {port} is out of range")
    return host, port


def _show(host: str) -> str:
    return f"[{host}]" if ":" in host else host
