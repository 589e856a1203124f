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
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A name browsers use for the dashboard besides 127.0.0.1/localhost (a LAN "
            "or proxy name); repeatable. Requests for any other name are refused.",
        ),
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(
            help="Address(es) of the reverse proxy whose X-Forwarded-For is believed "
            "(comma-separated). Without it, forwarded headers are ignored."
        ),
    ] = None,
    behind_tls_proxy: Annotated[
        bool,
        typer.Option(
            "--behind-tls-proxy",
            help="A TLS reverse proxy serves the dashboard: Secure cookies and HSTS.",
        ),
    ] = False,
    allow_plaintext: Annotated[
        bool,
        typer.Option(
            "--allow-plaintext",
            help="Listen beyond this machine over plain HTTP (passwords and patient data "
            "cross the network in clear text).",
        ),
    ] = False,
) -> None:
    """Serve the practice dashboard (login required) from the local store."""
    from odbridge.dashboard.server import check_listen, load_secret_key, serve
    from odbridge.store.users import list_users

    setup_logging()
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise fail("Give both --ssl-certfile and --ssl-keyfile, or neither.")
    check_listen(host, tls=bool(ssl_certfile) or behind_tls_proxy, allow=allow_plaintext)
    engine = open_store(db)
    if not list_users(engine):
        raise fail("No dashboard users yet: create one with `odbridge user add NAME --role admin`.")
    secret_key = load_secret_key()  # kept in a 0600 file: sessions survive a restart
    scheme = "https" if ssl_certfile or behind_tls_proxy else "http"
    console.print(f"Dashboard at {scheme}://{host}:{port}/ (Ctrl-C stops it)")
    serve(
        engine,
        host=host,
        port=port,
        secret_key=secret_key,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        allowed_hosts=allowed_host or [],
        forwarded_allow_ips=forwarded_allow_ips,
        behind_tls_proxy=behind_tls_proxy,
        allow_plaintext=allow_plaintext,
    )
