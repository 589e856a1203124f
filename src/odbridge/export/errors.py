"""The one exception of the export package."""

from __future__ import annotations

from odbridge.errors import OdbridgeError


class ExportError(OdbridgeError):
    """An export cannot run or did not finish; the message says why and what to do.

    Messages name options, columns and files, never a patient's data.
    """
