"""`CrossSiteGuard`: a web page elsewhere must not drive this server through a browser.

An HTML form or ``fetch`` on any site can send a "simple" POST to ``127.0.0.1`` without
a CORS preflight, and a DNS-rebinding page can even read the answers. So requests that
change something (anything but GET/HEAD/OPTIONS) are refused with 403 when the browser
says they come from another site (``Sec-Fetch-Site: cross-site``, or an ``Origin`` that
is neither this server nor one of ``cors_origins``); and a server on loopback without
tokens answers only requests addressed to a loopback name (the ``Host`` header), so a
rebound name cannot reach it. Clients that are not browsers send neither header.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from reagents.server.limits import answer
from reagents.server.settings import is_loopback

__all__ = ["CrossSiteGuard"]

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


class CrossSiteGuard:
    """Refuse cross-site writes (403) and, when asked, non-loopback ``Host`` names (421)."""

    def __init__(self, app: ASGIApp, origins: tuple[str, ...], loopback_only: bool) -> None:
        self.app = app
        self.origins = frozenset(origin.rstrip("/") for origin in origins)
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            host = headers.get("host", "")
            if self.loopback_only and not is_loopback(_hostname(host)):
                await answer(send, 421, f"this server answers loopback names only, not {host!r}")
                return
            if scope["method"] not in _SAFE and self._cross_site(headers, scope, host):
                await answer(send, 403, "cross-site requests may not change anything here")
                return
        await self.app(scope, receive, send)

    def _cross_site(self, headers: dict[str, str], scope: Scope, host: str) -> bool:
        if headers.get("sec-fetch-site") == "cross-site":
            return True
        origin = headers.get("origin")
        if origin is None:
            return False
        own = f"{scope.get('scheme', 'http')}://{host}"
        return origin.rstrip("/") not in self.origins and origin != own


def _hostname(host: str) -> str:
    if host.startswith("["):  # [::1]:8000
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
