"""What every simulated API endpoint shares: errors, query parameters, paging, JSON bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from odbridge.simulator.shape import DATE_FORMAT, DATETIME_FORMAT


class ApiError(Exception):
    """An error answered with ``status`` and a short explanation, as the real API does."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def response(self) -> Response:
        """The HTTP response: a JSON string body (guess: the format is not documented)."""
        return JSONResponse(self.message, status_code=self.status, headers=self.headers)


class Query:
    """Query parameters, looked up case-insensitively (as ASP.NET does), with typed readers."""

    def __init__(self, request: Request) -> None:
        self._values = {k.lower(): v for k, v in request.query_params.items()}

    def text(self, name: str) -> str | None:
        """The value, or None when absent or empty."""
        value = self._values.get(name.lower())
        return value if value not in (None, "") else None

    def integer(self, name: str) -> int | None:
        """A whole number; 400 naming the parameter otherwise."""
        value = self.text(name)
        if value is None:
            return None
        if not re.fullmatch(r"-?\d+", value):
            raise ApiError(400, f"{name} must be a whole number.")
        return int(value)

    def boolean(self, name: str) -> bool:
        """``true`` / ``false`` (any case); absent is false."""
        value = self.text(name)
        if value is None:
            return False
        if value.lower() not in ("true", "false"):
            raise ApiError(400, f"{name} must be true or false.")
        return value.lower() == "true"

    def date(self, name: str) -> str | None:
        """A date, returned in the API's own ``yyyy-MM-dd`` form."""
        value = self.text(name)
        return check_date(name, value) if value is not None else None

    def datetime(self, name: str) -> str | None:
        """A ``yyyy-MM-dd HH:mm:ss`` value, as given."""
        value = self.text(name)
        if value is not None:
            try:
                datetime.strptime(value, DATETIME_FORMAT)
            except ValueError:
                raise ApiError(400, f"{name} format must be yyyy-MM-dd HH:mm:ss") from None
        return value

    def enum(self, name: str, allowed: Iterable[str]) -> str | None:
        """One of ``allowed`` (matched case-insensitively), in its own spelling."""
        value = self.text(name)
        if value is None:
            return None
        for option in allowed:
            if option.lower() == value.lower():
                return option
        raise ApiError(400, f"{name} is invalid.")

    def paging(self, cap: int) -> tuple[int, int]:
        """(limit, offset): a missing or larger Limit gets the cap."""
        limit = self.integer("Limit")
        offset = self.integer("Offset") or 0
        if offset < 0:
            raise ApiError(400, "Offset cannot be negative.")
        if limit is None or limit <= 0 or limit > cap:
            limit = cap
        return limit, offset


def check_date(name: str, value: str) -> str:
    """The date in the API's own form (``yyyy-MM-dd``, zero-padded); 400 if unreadable."""
    try:
        return datetime.strptime(value, DATE_FORMAT).date().isoformat()
    except ValueError:
        raise ApiError(400, f"{name} format must be yyyy-MM-dd") from None


def page_of(rows: Iterator[Any], limit: int, offset: int) -> list[Any]:
    """Rows ``offset`` to ``offset + limit`` of ``rows`` (SQL's ``LIMIT offset, limit``)."""
    page: list[Any] = []
    for index, row in enumerate(rows):
        if index < offset:
            continue
        page.append(row)
        if len(page) >= limit:
            break
    return page


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A compact JSON response (non-ASCII kept as is)."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status_code=status, media_type="application/json", headers=headers)


async def json_body(request: Request) -> Any:
    """The request's JSON body (None when empty); 400 when it is not JSON."""
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None
