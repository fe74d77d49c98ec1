"""``modelreg serve``: the REST API over a local registry directory or database."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from modelreg.cli.session import Session
from modelreg.errors import InvalidInput

__all__ = ["serve"]


def serve(
    ctx: typer.Context,
    *,
    host: Annotated[
        str | None,
        typer.Option(
            metavar="ADDRESS",
            help="Address to listen on. Default: 127.0.0.1 ($MODELREG_HOST). Any non-loopback address "
            "needs an API token to exist first (or --insecure).",
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(min=0, max=65535, help="TCP port. Default: 8080 ($MODELREG_PORT)."),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1, max=64, help="Server processes sharing the port. Default: 1 ($MODELREG_SERVER_WORKERS)."
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="sqlite:/// or postgresql:// metadata database, or a registry directory. Default: the "
            "global --registry (./.modelreg).",
        ),
    ] = None,
    storage_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            help="Chunk store URL (file:///path or s3://bucket/prefix). Default: the global --storage, else "
            "<registry>/chunks; "
            "required with PostgreSQL.",
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Allow a non-loopback address while no API token exists: anyone who can reach the server "
            "acts as admin. For throwaway setups only.",
        ),
    ] = False,
    direct_transfers: Annotated[
        bool,
        typer.Option(
            "--direct-transfers",
            help="Hand clients presigned URLs so chunk bytes move straight to and from the s3:// store; "
            "the server then handles metadata only ($MODELREG_DIRECT_TRANSFERS). Needs an S3 store "
            "whose endpoint clients can reach.",
        ),
    ] = False,
) -> None:
    """Serve the REST API (OpenAPI docs at /docs) until interrupted.

    Without API tokens every caller is admin, so only loopback is allowed: see 'modelreg token create'.
    """
    session = Session.of(ctx, json=False)
    location = database_url or session.target
    if location.startswith(("http://", "https://")):
        raise InvalidInput(f"cannot serve {location!r}: serve a registry directory or a database URL")
    options: dict[str, Any] = {
        "registry": location,
        "storage": storage_url or session.storage,
        "host": host,
        "port": port,
        "server_workers": workers,
        "insecure": insecure or None,
        "direct_transfers": direct_transfers or None,
    }
    # The server pulls in FastAPI, uvicorn and SQLAlchemy: import it only when serving, never for --help.
    from modelreg.server import serve as run_server
    from modelreg.settings import Settings

    run_server(Settings.load(**{name: value for name, value in options.items() if value is not None}))
