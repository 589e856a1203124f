"""The root of every error odbridge raises on purpose.

``except OdbridgeError`` catches them all; each family says what went wrong and what to do:
:class:`~odbridge.config.ConfigError` (settings), :class:`~odbridge.api.errors.OpenDentalError`
(the API), :class:`~odbridge.store.db.StoreError` (the database),
:class:`~odbridge.export.errors.ExportError`, :class:`~odbridge.store.users.UserError`,
:class:`~odbridge.private_files.NotPrivateError`, and the MCP server's access errors.
Nothing here imports anything of odbridge.
"""

from __future__ import annotations

__all__ = ["OdbridgeError"]


class OdbridgeError(Exception):
    """Something odbridge cannot do; ``str(error)`` is a message for a person (no keys, no
    patient data)."""
