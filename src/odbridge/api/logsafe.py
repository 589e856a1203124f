"""Keep keys and query values out of what odbridge logs and shows.

- :class:`SecretRedactor` hides the API keys in a server's message, in every form a server
  could echo them: as typed, both keys joined as in the ``Authorization`` header
  (``dev/cust`` for ODFHIR, ``dev:cust`` for Basic), base64 (standard and URL-safe, with or
  without padding), URL-encoded and HTML-escaped.
- httpx logs ``HTTP Request: GET <full URL>`` at INFO. :func:`install` adds a filter to the
  ``httpx`` logger that rewrites such URLs to carry parameter names only: query values such
  as a last name are patient data. Keys never appear in URLs (they travel in the
  ``Authorization`` header).
"""

from __future__ import annotations

import base64
import html
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

import httpx

__all__ = ["REDACTED", "QueryRedactingFilter", "SecretRedactor", "install", "redact_url"]

REDACTED = "***"

_PERCENT = re.compile(r"%([0-9A-F]{2})")


def _encodings(text: str) -> set[str]:
    """``text`` as typed and in each encoding a server might echo it in."""
    raw = text.encode("utf-8")
    forms = {text, html.escape(text), quote(text, safe=""), quote(text), quote_plus(text)}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        form = encoded.decode("ascii")
        forms |= {form, form.rstrip("=")}
    return {form for form in forms if form}


def _pattern_of(form: str) -> str:
    """A regex for ``form`` in which percent-escapes match in either case (``%2f``)."""
    escaped = re.escape(form)
    return _PERCENT.sub(lambda m: f"%(?i:{m.group(1)})", escaped)


class SecretRedactor:
    """Replaces every form of the given secrets in a text by ``***``.

    Built once per client from its keys: each key alone, and each pair joined by ``/`` and
    ``:`` (the credentials of the ``Authorization`` header), in every encoding of
    :func:`_encodings`. Longer forms are matched first, so a joined pair is hidden whole.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        keys = [secret for secret in dict.fromkeys(secrets) if secret]
        forms: set[str] = set()
        for key in keys:
            forms |= _encodings(key)
        for first in keys:
            for second in keys:
                if first != second:
                    for separator in ("/", ":"):
                        forms |= _encodings(f"{first}{separator}{second}")
        ordered = sorted(forms, key=lambda form: (-len(form), form))
        self._pattern = re.compile("|".join(_pattern_of(f) for f in ordered)) if ordered else None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def __repr__(self) -> str:
        return "SecretRedactor(<hidden>)"


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
