"""``odbridge mcp``: a read-only MCP server over the synced store, for AI assistants.

Built on the official MCP Python SDK. It reads the store only (never Open Dental), through
the dashboard's queries; every tool call is audit-logged under the user who asks.

    env = open_env(db_url, deidentified=False)
    run_stdio(env, username="alice")                       # desktop assistants
    run_http(env, secret=key, host="127.0.0.1", port=8001)  # streamable HTTP, login first

Names are loaded on first use, so that the command line starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odbridge._lazy import lazy_exports

if TYPE_CHECKING:
    from odbridge.mcp.run import open_env, run_http, run_stdio

__all__ = ["open_env", "run_http", "run_stdio"]


__getattr__ = lazy_exports(__name__, {"odbridge.mcp.run": ("open_env", "run_http", "run_stdio")})
