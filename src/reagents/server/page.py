"""The status page: ``GET /`` (an HTML shell, no auth), its script and style, and
``GET /graph.svg`` (the pipeline's graph; scope ``read``).

The page is static package data (``reagents/server/static``): plain HTML, JavaScript
and CSS, no build step. Its script calls the API with the bearer token the user
pastes, or gives in the URL fragment (``/#token=...``): a fragment never reaches the
server, so the token is in no request line or access log. The script reads the event
and stats streams with ``fetch`` (an ``EventSource`` cannot send a header).
A strict Content-Security-Policy allows nothing but this server.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Final

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from reagents.pipelines.pipeline import Pipeline
from reagents.server.auth import require
from reagents.server.settings import Scope
from reagents.views.graph import pipeline_graph

__all__ = ["router"]

router = APIRouter(tags=["status page"])

_STATIC: Final = {  # the only files served, with their media types
    "page.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _asset(name: str) -> bytes:
    return files("reagents.server").joinpath("static", name).read_bytes()


@router.get("/", include_in_schema=False)
async def status_page() -> Response:
    """The status page (its data comes from the API, with the user's token)."""
    return Response(_asset("index.html"), media_type="text/html; charset=utf-8", headers=_HEADERS)


@router.get("/static/{name}", include_in_schema=False)
async def static_file(name: str) -> Response:
    """The page's script and style sheet (nothing else is served from here)."""
    media_type = _STATIC.get(name)
    if media_type is None:
        raise HTTPException(404, detail=f"no static file {name!r}")
    return Response(_asset(name), media_type=media_type, headers=_HEADERS)


@router.get("/graph.svg", dependencies=[Depends(require(Scope.READ))])
async def graph_svg(request: Request) -> Response:
    """The pipeline's graph (sources, bus, agents with their subscriptions, sinks) as SVG."""
    pipeline: Pipeline = request.app.state.reagents.pipeline
    svg = pipeline_graph(pipeline).to_svg()
    return Response(svg, media_type="image/svg+xml", headers=_HEADERS)
