"""Reading the query string and path: every bad value is a 400 (or a 404 for a path), never
a 500 and never silently something else.

Digits are ASCII digits only: ``str.isdigit`` also accepts superscripts such as '²', which
``int()`` then refuses. Messages name the parameter, never echo its value (a value may be
something a user typed about a patient).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from starlette.exceptions import HTTPException

_DIGITS = re.compile(r"[0-9]{1,18}")
MAX_ID = 2**63 - 1
"""Open Dental's ids are 64-bit."""


def bad_request(message: str) -> HTTPException:
    """A 400 whose message is shown to the user."""
    return HTTPException(status_code=400, detail=message)


def parse_int(text: str) -> int | None:
    """``text`` as a non-negative whole number of ASCII digits, else None."""
    value = text.strip()
    if not _DIGITS.fullmatch(value):
        return None
    return int(value)


def int_param(
    params: Mapping[str, str],
    name: str,
    *,
    low: int = 0,
    high: int = MAX_ID,
    choices: Collection[int] | None = None,
) -> int | None:
    """The whole number in ``params[name]`` (None when absent or empty); 400 when it is not
    a number from ``low`` to ``high`` (or not one of ``choices``)."""
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    number = parse_int(raw)
    if choices is not None:
        if number not in choices:
            allowed = ", ".join(str(c) for c in sorted(choices))
            raise bad_request(f"'{name}' must be one of {allowed}.")
        return number
    if number is None or not low <= number <= high:
        raise bad_request(f"'{name}' must be a whole number from {low} to {high}.")
    return number


def choice_param(
    params: Mapping[str, str], name: str, choices: Collection[str], default: str | None = None
) -> str | None:
    """``params[name]`` if it is one of ``choices``; ``default`` when absent or empty; 400
    for anything else."""
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    if raw not in choices:
        raise bad_request(f"'{name}' must be one of: {', '.join(choices)}.")
    return raw


def path_id(text: str, what: str = "No such record in the store.") -> int:
    """An id taken from the path; 404 when it cannot be one."""
    number = parse_int(text)
    if number is None or number > MAX_ID:
        raise HTTPException(status_code=404, detail=what)
    return number
