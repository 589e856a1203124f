"""Bridges from odbridge's client to other data tools (``odbridge.integrations.dlt``).

Integrations read through :mod:`odbridge.api` and reuse the sync's cursor and paging
helpers; nothing in odbridge imports them but the CLI.
"""
