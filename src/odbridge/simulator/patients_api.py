"""The patient endpoints of the simulated Open Dental API (``/api/v1/patients...``).

Behaviour follows Open Dental's documentation; where it is silent the choice is marked
"guess" and listed in the docs (docs/simulator.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from odbridge.simulator.data import (
    CONTACT_METHODS,
    DATE_FORMAT,
    DATETIME_FORMAT,
    DERIVED_FIELDS,
    GENDERS,
    NO_DATE,
    PAT_STATUSES,
    PATIENT_FIELDS,
    POSITIONS,
    SUMMARY_FIELDS,
    TXT_MSG_OK,
    Practice,
)

Row = dict[str, Any]
Predicate = Callable[[Row], bool]


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


def _practice(request: Request) -> Practice:
    practice: Practice = request.app.state.practice
    return practice


def _page_cap(request: Request) -> int:
    cap: int = request.app.state.settings.page_cap
    return cap


class Query:
    """Query parameters, looked up case-insensitively (as ASP.NET does), with typed readers."""

    def __init__(self, request: Request) -> None:
        self._values = {k.lower(): v for k, v in request.query_params.items()}

    def text(self, name: str) -> str | None:
        value = self._values.get(name.lower())
        return value if value not in (None, "") else None

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not re.fullmatch(r"-?\d+", value):
            raise ApiError(400, f"{name} must be a whole number.")
        return int(value)

    def boolean(self, name: str) -> bool:
        value = self.text(name)
        if value is None:
            return False
        if value.lower() not in ("true", "false"):
            raise ApiError(400, f"{name} must be true or false.")
        return value.lower() == "true"

    def date(self, name: str) -> str | None:
        value = self.text(name)
        return _check_date(name, value) if value is not None else None

    def datetime(self, name: str) -> str | None:
        value = self.text(name)
        if value is not None:
            try:
                datetime.strptime(value, DATETIME_FORMAT)
            except ValueError:
                raise ApiError(400, f"{name} format must be yyyy-MM-dd HH:mm:ss") from None
        return value

    def enum(self, name: str, allowed: Iterable[str]) -> str | None:
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


def _check_date(name: str, value: str) -> str:
    """The date in the API's own form (``yyyy-MM-dd``, zero-padded); 400 if unreadable."""
    try:
        return datetime.strptime(value, DATE_FORMAT).date().isoformat()
    except ValueError:
        raise ApiError(400, f"{name} format must be yyyy-MM-dd") from None


def _starts(field: str, prefix: str) -> Predicate:
    lowered = prefix.lower()
    return lambda row: str(row[field]).lower().startswith(lowered)


def _contains(field: str, part: str) -> Predicate:
    lowered = part.lower()
    return lambda row: lowered in str(row[field]).lower()


def _equals(field: str, value: Any) -> Predicate:
    return lambda row: row[field] == value


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _page(rows: Iterator[Row], limit: int, offset: int) -> list[Row]:
    page: list[Row] = []
    for index, row in enumerate(rows):
        if index < offset:
            continue
        page.append(row)
        if len(page) >= limit:
            break
    return page


def _json(rows: list[Row], status: int = 200) -> Response:
    body = json.dumps(rows, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json")


# -- GET /patients/Simple ---------------------------------------------------------------
async def patients_simple(request: Request) -> Response:
    """Full rows, ``serverDateTime`` first, every status, ordered by PatNum (guess)."""
    query = Query(request)
    practice = _practice(request)
    limit, offset = query.paging(_page_cap(request))
    predicates: list[Predicate] = []
    if (value := query.text("LName")) is not None:
        predicates.append(_starts("LName", value))
    if (value := query.text("FName")) is not None:
        predicates.append(_starts("FName", value))
    if (value := query.date("Birthdate")) is not None:
        predicates.append(_equals("Birthdate", value))
    if (value := query.enum("PatStatus", PAT_STATUSES)) is not None:
        predicates.append(_equals("PatStatus", value))
    if (value := query.enum("Gender", GENDERS)) is not None:
        predicates.append(_equals("Gender", value))
    if (value := query.enum("Position", POSITIONS)) is not None:
        predicates.append(_equals("Position", value))
    if (stamp := query.datetime("DateTStamp")) is not None:
        since = stamp  # same fixed-width format: text order is time order; inclusive (guess)
        predicates.append(lambda row: row["DateTStamp"] >= since)
    for name in ("ClinicNum", "PriProv", "Guarantor", "SuperFamily", "EmployerNum", "FeeSched"):
        if (number := query.integer(name)) is not None:
            predicates.append(_equals(name, number))
    rows = (r for r in practice.in_order() if all(p(r) for p in predicates))
    server_time = practice.now_text()
    page = [{"serverDateTime": server_time, **row} for row in _page(rows, limit, offset)]
    return _json(page)


# -- GET /patients (Patient Select search) -----------------------------------------------
async def patients_search(request: Request) -> Response:
    """Reduced rows ordered by LName, FName (guess); Deleted never shown, Archived on request."""
    query = Query(request)
    practice = _practice(request)
    limit, offset = query.paging(_page_cap(request))
    predicates: list[Predicate] = [lambda row: row["PatStatus"] != "Deleted"]
    if not query.boolean("showArchived"):
        predicates.append(lambda row: row["PatStatus"] != "Archived")
    if query.boolean("hideInactive"):
        predicates.append(lambda row: row["PatStatus"] != "Inactive")
    if query.boolean("guarOnly"):
        predicates.append(lambda row: row["Guarantor"] == row["PatNum"])
    for name in ("LName", "FName", "City", "State", "ChartNumber"):
        if (value := query.text(name)) is not None:
            predicates.append(_starts(name, value))
    for name in ("Address", "Email", "SSN"):
        if (value := query.text(name)) is not None:
            predicates.append(_contains(name, value))
    if (phone := query.text("Phone")) is not None:
        wanted = _digits(phone)
        predicates.append(
            lambda row: any(
                wanted in _digits(row[f]) for f in ("HmPhone", "WkPhone", "WirelessPhone")
            )
        )
    if (value := query.date("Birthdate")) is not None:
        predicates.append(_equals("Birthdate", value))
    if (clinic_list := query.text("clinicNums")) is not None:
        try:
            wanted_clinics = {int(part) for part in clinic_list.split(",") if part.strip()}
        except ValueError:
            raise ApiError(400, "clinicNums must be a comma-separated list of numbers.") from None
        predicates.append(lambda row: row["ClinicNum"] in wanted_clinics)
    if (abbr := query.text("clinicAbbr")) is not None:
        predicates.append(lambda row: row["clinicAbbr"].lower() == abbr.lower())
    if (country := query.text("Country")) is not None:
        predicates.append(lambda row: country.lower() in ("us", "usa", "united states"))
    site = query.integer("SiteNum")
    if site:
        predicates.append(lambda row: False)  # the simulated practice has no sites
    for name in ("SubscriberId", "invoiceNumber"):
        if query.text(name) is not None:
            predicates.append(lambda row: False)  # no insurance or invoices simulated
    matches = [r for r in practice.in_order() if all(p(r) for p in predicates)]
    matches.sort(key=lambda r: (r["LName"].lower(), r["FName"].lower(), r["PatNum"]))
    page = _page(iter(matches), limit, offset)
    return _json([{name: row[name] for name in SUMMARY_FIELDS} for row in page])


# -- GET /patients/{PatNum} ---------------------------------------------------------------
def _pat_num(request: Request) -> int:
    raw = request.path_params["pat_num"]
    if not re.fullmatch(r"\d+", raw):
        raise ApiError(400, "PatNum is invalid.")
    return int(raw)


async def patient_get(request: Request) -> Response:
    """The full record; 404 "Patient not found." when absent."""
    record = _practice(request).get(_pat_num(request))
    if record is None:
        raise ApiError(404, "Patient not found.")
    return JSONResponse(record)


# -- POST /patients and PUT /patients/{PatNum} ---------------------------------------------
_READ_ONLY = frozenset({"PatNum", "DateTStamp", "SecDateEntry", "BalTotal"} | DERIVED_FIELDS)
_ENUMS: dict[str, tuple[str, ...]] = {
    "PatStatus": PAT_STATUSES,
    "Gender": GENDERS,
    "Position": POSITIONS,
    "PreferConfirmMethod": CONTACT_METHODS,
    "PreferContactMethod": CONTACT_METHODS,
    "PreferRecallMethod": CONTACT_METHODS,
    "TxtMsgOk": TXT_MSG_OK,
}
_INTS = frozenset(
    {"Guarantor", "PriProv", "SecProv", "FeeSched", "EmployerNum", "ClinicNum", "SuperFamily"}
)
_MONEY = frozenset({"EstBalance"})
_DATES = frozenset({"Birthdate", "DateFirstVisit", "AdmitDate"})
MONEY_LIMIT = 10**10
"""Balances beyond ±10 billion are refused (guess: the real limit is not documented)."""


def _writable_fields(body: Any) -> dict[str, Any]:
    """Validate a POST/PUT body; unknown and read-only fields are ignored (guess)."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    values: dict[str, Any] = {}
    for name, value in body.items():
        if name not in PATIENT_FIELDS or name in _READ_ONLY:
            continue
        if name in _ENUMS:
            match = next((o for o in _ENUMS[name] if o.lower() == str(value).lower()), None)
            if match is None:
                raise ApiError(400, f"{name} is invalid.")
            values[name] = match
        elif name in _INTS:
            # foreign keys are BIGINT in Open Dental's database (guess: 400 beyond them)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
                raise ApiError(400, f"{name} must be a whole number.")
            values[name] = value
        elif name in _MONEY:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ApiError(400, f"{name} must be a number.")
            if not -MONEY_LIMIT < value < MONEY_LIMIT:  # also refuses inf and NaN
                raise ApiError(400, f"{name} is out of range.")
            values[name] = float(value)
        elif name in _DATES:
            values[name] = _check_date(name, str(value))  # stored as the API sends dates
        elif name == "Premed":
            if str(value).lower() not in ("true", "false"):
                raise ApiError(400, "Premed must be true or false.")
            values[name] = str(value).lower()
        else:
            values[name] = " ".join(str(value).splitlines())  # line breaks come as spaces
    return values


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body() or b"null")
    except ValueError:
        raise ApiError(400, "The request body is not valid JSON.") from None


async def patient_create(request: Request) -> Response:
    """Create a patient (LName and FName required); 201 with a Location header."""
    values = _writable_fields(await _body(request))
    for required in ("LName", "FName"):
        if not str(values.get(required, "")).strip():
            raise ApiError(400, f"{required} is required.")
    practice = _practice(request)
    if values.get("Guarantor") and practice.get(values["Guarantor"]) is None:
        raise ApiError(400, "Guarantor is invalid.")
    values.setdefault("DateFirstVisit", NO_DATE)
    record = practice.create(values)
    location = f"{request.url.scheme}://{request.url.netloc}/api/v1/patients/{record['PatNum']}"
    return JSONResponse(record, status_code=201, headers={"Location": location})


async def patient_update(request: Request) -> Response:
    """Update the given fields; bumps DateTStamp; answers the updated record (guess)."""
    pat_num = _pat_num(request)
    practice = _practice(request)
    if practice.get(pat_num) is None:
        raise ApiError(404, "Patient not found.")
    values = _writable_fields(await _body(request))
    if not values:
        raise ApiError(400, "No fields to update were given.")
    return JSONResponse(practice.update(pat_num, values))


async def patient_delete(request: Request) -> Response:
    """Patients cannot be deleted through the API (guess: 405 with an explanation)."""
    raise ApiError(
        405,
        "Patients cannot be deleted through the API. Set PatStatus to Deleted in Open Dental.",
        headers={"Allow": "GET, PUT"},
    )


ROUTES = [
    Route("/api/v1/patients/Simple", patients_simple, methods=["GET"]),
    Route("/api/v1/patients", patients_search, methods=["GET"]),
    Route("/api/v1/patients", patient_create, methods=["POST"]),
    Route("/api/v1/patients/{pat_num}", patient_get, methods=["GET"]),
    Route("/api/v1/patients/{pat_num}", patient_update, methods=["PUT"]),
    Route("/api/v1/patients/{pat_num}", patient_delete, methods=["DELETE"]),
]
