"""Exports for reporting tools: CSV, JSON Lines, Parquet, XLSX and FHIR R4, optionally
de-identified (HIPAA Safe Harbor). They read only the store, never the API.

    from odbridge.export import export
    export(engine, format="parquet", out="patients.parquet", deidentify=True)

Names are loaded on first use, so that the command line starts fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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

_HOMES = {
    "DEFAULT_COLUMNS": "columns",
    "EXPORTABLE_COLUMNS": "columns",
    "ExportError": "errors",
    "FORMATS": "run",
    "ExportResult": "run",
    "export": "run",
    "format_for": "run",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'odbridge.export' has no attribute {name!r}")
    return getattr(importlib.import_module(f"odbridge.export.{home}"), name)
