"""``reagents serve``: a pipeline behind its HTTP API, until Ctrl-C (extra ``server``).

The server package is imported only when the command runs, so ``reagents run`` and
the other commands work without the extra; without it ``serve`` says what to install.
Settings are checked before the pipeline file is loaded: a public address without
bearer tokens is refused (exit code 2) unless ``--insecure``. One line on stdout
says where it listens and whether callers need a token (tokens are never printed).
Ctrl-C (or SIGTERM) stops taking requests and drains the pipeline; a second Ctrl-C
aborts at once (exit code 130).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Annotated

import typer

from reagents.cli.console import ABORTED, CliError, friendly
from reagents.cli.loading import PipelineArg, load_pipeline
from reagents.cli.serving import run_server
from reagents.errors import ConfigurationError
from reagents.pipelines.pipeline import Pipeline

if TYPE_CHECKING:
    from reagents.server.settings import ServerSettings

__all__ = ["INSTALL_HINT", "serve"]

INSTALL_HINT = "reagents serve needs the HTTP server extra: pip install 'reagents[server]'"


@friendly
def serve(
    pipeline: PipelineArg,
    host: Annotated[
        str,
        typer.Option(metavar="HOST", help="Address to listen on; beyond loopback it needs tokens."),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=0, max=65535, metavar="PORT", help="Port (0: a free one).")
    ] = 8000,
    insecure: Annotated[
        bool,
        typer.Option("--insecure", help="Allow a public address without tokens (anyone may call)."),
    ] = False,
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE.json",
            help="Bearer tokens: a JSON list of {name, token, scopes} (adds to REAGENTS_TOKENS).",
        ),
    ] = None,
) -> None:
    """Serve a pipeline over HTTP: publish events, host agents, watch it run.

    The pipeline runs as a service (it keeps running after its sources end). It
    listens on loopback unless `--host` says otherwise; a public address needs bearer
    tokens (`--tokens-file`, or the environment variables `REAGENTS_TOKENS` /
    `REAGENTS_TOKENS_FILE`), or `--insecure`. Ctrl-C stops taking requests and drains
    in-flight work; a second Ctrl-C aborts. Exit codes: 0 stopped, 1 the pipeline
    failed, 2 bad input or refused settings, 130 aborted.

    Examples:

    * `reagents serve examples/trading.py:build_pipeline`
    * `reagents serve app.py --port 9000`
    * `reagents serve app.py --host 0.0.0.0 --tokens-file tokens.json`
    """
    server = _server_package()
    settings = _settings(server, host, port, insecure, tokens_file)
    loaded = load_pipeline(pipeline)
    if asyncio.run(_serve(server, loaded, settings)):
        raise typer.Exit(ABORTED)


def _server_package() -> ModuleType:
    """`reagents.server`, imported now (it needs the extra)."""
    try:
        import reagents.server as server
    except ImportError:
        raise CliError(INSTALL_HINT) from None
    return server


def _settings(
    server: ModuleType, host: str, port: int, insecure: bool, tokens_file: Path | None
) -> ServerSettings:
    """The settings from the options and the environment, checked for binding."""
    from reagents.server.settings import TOKENS_FILE_ENV

    try:
        settings: ServerSettings = server.ServerSettings(
            host=host, port=port, insecure=insecure
        ).with_env_tokens()
        if tokens_file is not None:
            if not tokens_file.is_file():
                raise CliError(f"--tokens-file: {str(tokens_file)!r} is not a file")
            settings = settings.with_env_tokens({TOKENS_FILE_ENV: str(tokens_file)})
        settings.check_bind()
    except ConfigurationError as error:
        raise CliError(str(error)) from None
    return settings


async def _serve(server: ModuleType, pipeline: Pipeline, settings: ServerSettings) -> bool:
    """Serve until stopped; True when a second Ctrl-C aborted the drain."""
    from reagents.server.running import uvicorn_server

    app = server.create_app(pipeline, settings)
    web = uvicorn_server(app, settings)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host

    def announce(port: int) -> None:
        typer.echo(
            f"serving pipeline {pipeline.name!r} on http://{host}:{port} · "
            f"{_auth_line(settings)} · Ctrl-C to stop"
        )

    return await run_server(app, web, pipeline, announce)


def _auth_line(settings: ServerSettings) -> str:
    """Whether callers need a token (never the tokens themselves)."""
    count = len(settings.tokens)
    if count:
        return f"auth: bearer tokens ({count} configured)"
    from reagents.server.settings import is_loopback

    if is_loopback(settings.host):
        return "auth: off (no tokens; loopback only)"
    return "auth: OFF, open to anyone who can reach it (--insecure)"
