"""Open the store for the MCP server and run it over stdio or HTTP."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import anyio

from odbridge.mcp.access import Caller, user_named
from odbridge.mcp.common import ToolEnv
from odbridge.mcp.deid import SafeHarbor
from odbridge.mcp.server import Identify, create_server
from odbridge.store.db import create_read_only_engine, create_store_engine, resolve_url


def open_env(
    db: str | None,
    *,
    deidentified: bool = False,
    key_file: Path | None = None,
    sync_every: timedelta | None = None,
) -> ToolEnv:
    """The store read-only for the tools, and writable for the audit log only."""
    url = resolve_url(db)
    writer = create_store_engine(url)  # creates or checks the schema; audit entries go here
    reader = create_read_only_engine(url)
    harbor = SafeHarbor.from_key_file(key_file) if deidentified else None
    return ToolEnv(reader=reader, writer=writer, harbor=harbor, sync_every=sync_every)


def identify_user(env: ToolEnv, username: str) -> Identify:
    """Every call is ``username``'s, read again each time (a disabled user is refused)."""
    user_named(env.writer, username)  # fail now, before a client connects, if unknown

    def identify(_request: object) -> Caller:
        return Caller(user_named(env.writer, username), deidentified=env.deidentified)

    return identify


def run_stdio(env: ToolEnv, username: str) -> None:
    """Serve one assistant on stdin/stdout as ``username``."""
    server = create_server(env, identify_user(env, username))
    try:
        anyio.run(server.run_stdio_async)
    finally:
        env.close()


def run_http(env: ToolEnv, *, secret: bytes, host: str, port: int) -> None:
    """Serve over streamable HTTP at ``http://host:port/mcp``, login first."""
    from odbridge.mcp.http import create_http_app, identify_http, serve_http  # HTTP only

    server = create_server(env, identify_http(env.writer, deidentified=env.deidentified), host=host)
    try:
        serve_http(create_http_app(server, env.writer, secret), host, port)
    finally:
        env.close()
