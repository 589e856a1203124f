"""The one exception of the export package."""

from __future__ import annotations


class ExportError(Exception):
    """An export cannot run or did not finish; the message says why and what to do.

    Messages name options, columns and files, never a patient's data.
    """
