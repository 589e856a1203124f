"""``odbridge mcp``: a read-only MCP server over the synced store, for AI assistants.

Built on the official MCP Python SDK. It reads the store only (never Open Dental), through
the dashboard's queries; every tool call is audit-logged under the user who asks.

    env = open_env(db_url, deidentified=False)
    run_stdio(env, username="alice")                       # desktop assistants
    run_http(env, secret=key, host="127.0.0.1", port=8001)  # streamable HTTP, login first

Names are loaded on first use, so that the command line starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from odbridge.mcp.run import open_env, run_http, run_stdio

__all__ = ["open_env", "run_http", "run_stdio"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'odbridge.mcp' has no attribute {name!r}")
    return getattr(importlib.import_module("odbridge.mcp.run"), name)
