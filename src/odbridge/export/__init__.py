"""Exports for reporting tools: CSV, JSON Lines, Parquet, XLSX and FHIR R4, optionally
de-identified (HIPAA Safe Harbor). They read only the store, never the API.

    from odbridge.export import export
    export(engine, format="parquet", out="patients.parquet", deidentify=True)

Names are loaded on first use, so that the command line starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odbridge._lazy import lazy_exports

if TYPE_CHECKING:
    from odbridge.export.columns import DEFAULT_COLUMNS, EXPORTABLE_COLUMNS
    from odbridge.export.errors import ExportError
    from odbridge.export.run import FORMATS, ExportResult, export, format_for

__all__ = [
    "DEFAULT_COLUMNS",
    "EXPORTABLE_COLUMNS",
    "FORMATS",
    "ExportError",
    "ExportResult",
    "export",
    "format_for",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "odbridge.export.columns": ("DEFAULT_COLUMNS", "EXPORTABLE_COLUMNS"),
        "odbridge.export.errors": ("ExportError",),
        "odbridge.export.run": ("FORMATS", "ExportResult", "export", "format_for"),
    },
)
