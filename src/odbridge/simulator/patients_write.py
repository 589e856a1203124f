"""``POST /patients`` and ``PUT /patients/{PatNum}``: the write rules of apipatients.

What the documentation says is enforced with a 400 and a short explanation: a Deleted
patient cannot be modified; LName and FName cannot be empty; PatStatus cannot be set to
Deleted; Gender only Male, Female or Unknown; the Zip formats; Guarantor or SuperFamily, not
both; BillingType is a billing type's name; ChartNumber at most 15 characters;
FamFinUrgNote only on a guarantor; a POST that duplicates a patient (LName, FName,
Birthdate, and email or a phone) is refused. Read-only keys (EstBalance, ImageFolder, the
derived text, ...) and unknown keys are ignored (a guess).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from odbridge.simulator.http import ApiError, check_date, json_body, json_response
from odbridge.simulator.practice import Practice, Row
from odbridge.simulator.shape import (
    CHART_NUMBER_MAX,
    ENUMS,
    FIELD_KINDS,
    NO_DATE,
    READ_ONLY_FIELDS,
    SETTABLE_GENDERS,
    SETTABLE_PAT_STATUSES,
)
from odbridge.simulator.state import practice_of

ID_LIMIT = 2**63
"""Foreign keys are BIGINT in Open Dental's database (guess: 400 at or beyond it)."""

_SETTABLE: dict[str, tuple[str, ...]] = {
    **ENUMS,
    "PatStatus": SETTABLE_PAT_STATUSES,
    "Gender": SETTABLE_GENDERS,
}
_ZIP = re.compile(r"\d{5}|\d{5}-\d{4}|\d{9}|[A-Za-z]\d[A-Za-z] \d[A-Za-z]\d")
_PHONES = ("HmPhone", "WkPhone", "WirelessPhone")


def _value(name: str, value: Any) -> Any:
    """One writable field, checked and in the form the row keeps."""
    kind = FIELD_KINDS[name]
    if kind == "enum":
        match = next((o for o in _SETTABLE[name] if o.lower() == str(value).lower()), None)
        if match is None:
            raise ApiError(400, f"{name} must be one of: {', '.join(_SETTABLE[name])}.")
        return match
    if kind == "id":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < ID_LIMIT:
            raise ApiError(400, f"{name} must be a whole number.")
        return value
    if kind == "date":
        return check_date(name, str(value)) if str(value) else NO_DATE
    if kind == "booltext":
        if str(value).lower() not in ("true", "false"):
            raise ApiError(400, f"{name} must be true or false.")
        return str(value).lower()
    text = " ".join(str(value).splitlines())  # line breaks come as spaces
    if name == "Zip" and text and not _ZIP.fullmatch(text):
        raise ApiError(400, "Zip must be in format 12345, 12345-1234, 123456789 or A0A 0A0.")
    if name == "ChartNumber" and len(text) > CHART_NUMBER_MAX:
        raise ApiError(400, f"ChartNumber can be at most {CHART_NUMBER_MAX} characters.")
    return text


def writable_values(body: Any, practice: Practice) -> Row:
    """Check a POST/PUT body: the row changes it asks for (BillingType as its DefNum)."""
    if not isinstance(body, dict):
        raise ApiError(400, "The request body must be a JSON object.")
    if "Guarantor" in body and "SuperFamily" in body:
        raise ApiError(400, "Only Guarantor or SuperFamily can be set in a single request.")
    values: Row = {}
    for name, raw in body.items():
        if name not in FIELD_KINDS or name in READ_ONLY_FIELDS:
            continue
        if name == "BillingType":
            definition = practice.billing_type_named(str(raw))
            if definition is None:
                raise ApiError(400, "BillingType must be the name of a billing type definition.")
            values[name] = definition.def_num
            continue
        values[name] = _value(name, raw)
    for name in ("LName", "FName"):
        if name in values and not str(values[name]).strip():
            raise ApiError(400, f"{name} cannot be blank.")
    for name in ("Guarantor", "SuperFamily"):
        if values.get(name) and practice.row(values[name]) is None:
            raise ApiError(400, f"{name} is invalid.")
    return values


def _duplicate(practice: Practice, values: Row) -> bool:
    """Another live patient with the same LName, FName and Birthdate, and email or a phone."""
    email = str(values.get("Email", "")).strip().lower()
    phones = {re.sub(r"\D", "", str(values.get(p, ""))) for p in _PHONES} - {""}
    for row in practice.rows():
        if row["PatStatus"] == "Deleted":
            continue
        same_person = (
            str(row["LName"]).lower() == str(values["LName"]).lower()
            and str(row["FName"]).lower() == str(values["FName"]).lower()
            and row["Birthdate"] == values.get("Birthdate", NO_DATE)
        )
        if not same_person:
            continue
        if email and str(row["Email"]).strip().lower() == email:
            return True
        if phones & {re.sub(r"\D", "", str(row[p])) for p in _PHONES}:
            return True
    return False


async def patient_create(request: Request) -> Response:
    """Create a patient (LName and FName required); 201 with a Location header."""
    practice = practice_of(request)
    values = writable_values(await json_body(request), practice)
    for required in ("LName", "FName"):
        if not str(values.get(required, "")).strip():
            raise ApiError(400, f"{required} is required.")
    if values.get("FamFinUrgNote") and values.get("Guarantor"):
        raise ApiError(400, "FamFinUrgNote can only be set on a guarantor.")
    if _duplicate(practice, values):
        raise ApiError(400, "A patient with this name, birthdate and email or phone exists.")
    row = practice.create(values)
    location = f"{request.url.scheme}://{request.url.netloc}/api/v1/patients/{row['PatNum']}"
    return json_response(practice.render(row), status=201, headers={"Location": location})


async def patient_update(request: Request, pat_num: int) -> Response:
    """Update the given fields; DateTStamp moves only if a value changed."""
    practice = practice_of(request)
    row = practice.row(pat_num)
    if row is None:
        raise ApiError(404, "Patient not found.")
    if row["PatStatus"] == "Deleted":
        raise ApiError(400, "Deleted patients cannot be modified.")
    values = writable_values(await json_body(request), practice)
    if not values:
        raise ApiError(400, "No fields to update were given.")
    new_guarantor = values.get("Guarantor")
    if new_guarantor is not None and new_guarantor != row["Guarantor"]:
        joins_own_family = practice.row(new_guarantor) is not None and (
            practice.patients[new_guarantor]["Guarantor"] == row["Guarantor"]
        )
        if joins_own_family and row["Guarantor"] != pat_num:
            raise ApiError(
                400, "Only the family's current guarantor can change it to another member."
            )
    is_guarantor = values.get("Guarantor", row["Guarantor"]) == pat_num
    if values.get("FamFinUrgNote") and not is_guarantor:
        raise ApiError(400, "FamFinUrgNote can only be set on a guarantor.")
    practice.update(pat_num, values)
    return json_response(practice.render(practice.patients[pat_num]))
