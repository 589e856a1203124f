"""``odbridge mcp``: the store served to AI assistants (see :mod:`odbridge.mcp`).

Over stdio, standard output carries the protocol: messages go to standard error only.
"""

from __future__ import annotations

from typing import Annotated

import typer

from odbridge.cli.common import DbOption, console, fail, setup_logging

DEFAULT_PORT = 8001


def mcp_command(
    user: Annotated[
        str | None,
        typer.Option(help="stdio: the dashboard user the assistant acts for (role, practices)."),
    ] = None,
    http: Annotated[
        bool, typer.Option("--http", help="Serve streamable HTTP (login required) instead.")
    ] = False,
    host: Annotated[str, typer.Option(help="--http: interface to bind (loopback only).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="--http: port to listen on.")] = DEFAULT_PORT,
    deidentified: Annotated[
        bool,
        typer.Option(
            "--deidentified",
            help="Answer from the Safe Harbor view only (pseudonyms, years, ZIP3).",
        ),
    ] = False,
    db: DbOption = None,
) -> None:
    """Serve the store to AI assistants (Model Context Protocol): read-only tools, audited."""
    if http and user:
        raise fail("--user is for stdio; over --http each user logs in.")
    if not http and not user:
        raise fail("Name the user the assistant acts for: --user NAME (or serve --http).")
    from odbridge.dashboard.security import is_loopback
    from odbridge.store.users import list_users

    if http and not is_loopback(host):
        raise fail("--http listens on this machine only (127.0.0.1, ::1 or localhost).")
    setup_logging("WARNING")
    from odbridge.mcp.run import open_env, run_http, run_stdio

    try:
        env = open_env(db, deidentified=deidentified)
        if not list_users(env.writer):
            raise fail("No users yet: create one with `odbridge user add NAME`.")
        if http:
            from odbridge.dashboard.server import load_secret_key

            console.print(f"MCP server at http://{host}:{port}/mcp (log in at /login)")
            run_http(env, secret=load_secret_key(), host=host, port=port)
        else:
            assert user is not None  # noqa: S101  # nosec B101 - checked above
            run_stdio(env, user)
    except KeyboardInterrupt:
        pass
