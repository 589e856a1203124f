"""Jinja2 for the dashboard: the environment, its filters and globals, and ``Renderer``.

Autoescaping is on for every template; filters format numbers, money, dates and the last
four digits of an SSN (the full number is never shown).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from odbridge._version import __version__
from odbridge.dashboard import queries
from odbridge.dashboard.auth import csrf_token
from odbridge.dashboard.security import CSRF_FIELD
from odbridge.vocab import contact_method_label

TEMPLATES_DIR = Path(__file__).parent / "templates"


def num(value: Any) -> str:
    """A whole number with thousands separators (None: 0)."""
    return f"{int(value or 0):,}"


def money(value: Any) -> str:
    """Dollars and cents, the sign in front (None: empty)."""
    if value is None:
        return ""
    amount = Decimal(str(value))
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def pct(part: Any, whole: Any) -> str:
    """``part`` as a whole percentage of ``whole`` ("-" when ``whole`` is 0)."""
    return f"{100 * part / whole:.0f}%" if whole else "-"


def when(value: datetime | date | None) -> str:
    """A date, or a date and time to the minute."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.strftime("%Y-%m-%d")


def ago(value: datetime | None) -> str:
    """How long ago a UTC time was, in words."""
    if value is None:
        return "never"
    seconds = int((datetime.now(UTC).replace(tzinfo=None) - value).total_seconds())
    if seconds < 0:
        return "in the future"
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    if seconds < 172800:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def url(path: str, **params: Any) -> str:
    """``path`` with the non-empty parameters as its query string."""
    kept = {k: v for k, v in params.items() if v is not None and v != "" and v is not False}
    return path + ("?" + urlencode(kept) if kept else "")


def ssn(value: str | None) -> str:
    """Only the last four digits: the full number is in the store but not shown."""
    if not value:
        return ""
    digits = "".join(ch for ch in value if ch.isdigit())
    return f"***-**-{digits[-4:]}" if len(digits) >= 4 else "****"


def environment(directory: Path = TEMPLATES_DIR) -> jinja2.Environment:
    """The dashboard's Jinja2 environment (autoescaped)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(directory),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=num, money=money, when=when, ago=ago, ssn=ssn, contact=contact_method_label
    )
    env.globals.update(
        url=url,
        pct=pct,
        csrf_field=CSRF_FIELD,
        version=__version__,
        quality_checks=queries.QUALITY_CHECKS,
        statuses=queries.PAT_STATUSES,
        sort_keys=queries.SORT_KEYS,
    )
    return env


class Renderer:
    """Renders a template with what every page needs (user, CSRF token, navigation)."""

    def __init__(self, env: jinja2.Environment | None = None) -> None:
        self.env = env or environment()

    def __call__(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        status_code: int = 200,
    ) -> HTMLResponse:
        state = request.scope.get("state", {})
        values: dict[str, Any] = {
            "request": request,
            "user": state.get("user"),
            "csrf": csrf_token(request) if "session" in state else "",
            "practices": [],
            "practice": None,
            "nav": "",
        }
        values.update(context or {})
        html = self.env.get_template(template).render(values)
        return HTMLResponse(html, status_code=status_code)
