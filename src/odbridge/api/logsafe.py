"""Keep query values (patient data such as LName) out of httpx's own log lines.

httpx logs ``HTTP Request: GET <full URL>`` at INFO. :func:`install` adds a filter to the
``httpx`` logger that rewrites such URLs to carry parameter names only. Keys never appear in
URLs (they travel in the Authorization header), so this is about PHI.
"""

from __future__ import annotations

import logging
import threading

import httpx

__all__ = ["QueryRedactingFilter", "install", "redact_url"]

_installed = False
_lock = threading.Lock()


def redact_url(url: httpx.URL | str) -> str:
    """The URL with every query value replaced by ``…``."""
    parsed = httpx.URL(url) if isinstance(url, str) else url
    if not parsed.query:
        return str(parsed)
    names = [name for name, _ in parsed.params.multi_items()]
    query = "&".join(f"{name}=…" for name in names)
    return str(parsed.copy_with(query=None)) + "?" + query


class QueryRedactingFilter(logging.Filter):
    """Rewrites ``httpx.URL`` arguments of log records to :func:`redact_url` form."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, httpx.URL) for a in args):
            record.args = tuple(redact_url(a) if isinstance(a, httpx.URL) else a for a in args)
        return True


def install() -> None:
    """Add the filter to the ``httpx`` logger once per process."""
    global _installed
    with _lock:
        if not _installed:
            logging.getLogger("httpx").addFilter(QueryRedactingFilter())
            _installed = True
