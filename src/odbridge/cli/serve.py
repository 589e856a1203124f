"""``odbridge serve``: the practice dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from odbridge.cli.common import DbOption, console, fail, open_store, setup_logging


def serve_command(
    db: DbOption = None,
    host: Annotated[str, typer.Option(help="Interface to bind (default: this machine only).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    ssl_certfile: Annotated[str | None, typer.Option(help="TLS certificate (PEM).")] = None,
    ssl_keyfile: Annotated[str | None, typer.Option(help="TLS private key (PEM).")] = None,
) -> None:
    """Serve the practice dashboard (login required) from the local store."""
    from odbridge.dashboard.server import load_secret_key, serve
    from odbridge.store.users import list_users

    setup_logging()
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise fail("Give both --ssl-certfile and --ssl-keyfile, or neither.")
    engine = open_store(db)
    if not list_users(engine):
        raise fail("No dashboard users yet: create one with `odbridge user add NAME --role admin`.")
    secret_key = load_secret_key()  # kept in a 0600 file: sessions survive a restart
    console.print(f"Dashboard at http://{host}:{port}/ (Ctrl-C stops it)")
    serve(
        engine,
        host=host,
        port=port,
        secret_key=secret_key,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )
