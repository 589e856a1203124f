"""The shape of Open Dental's patient API: field order, field types and "no value" forms.

One table (``FIELD_KINDS``) says what each of the 48 documented keys is; the endpoints, the
OpenAPI description and the practice all derive what they need from it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

Kind = Literal["id", "money", "date", "datetime", "booltext", "enum", "text"]

PAT_STATUSES = (
    "Patient",
    "NonPatient",
    "Inactive",
    "Archived",
    "Deleted",
    "Deceased",
    "Prospective",
)
GENDERS = ("Male", "Female", "Unknown", "Other")
POSITIONS = ("Single", "Married", "Child", "Widowed", "Divorced")
CONTACT_METHODS = (
    "None",
    "DoNotCall",
    "HmPhone",
    "WkPhone",
    "WirelessPh",
    "Email",
    "SeeNotes",
    "Mail",
    "TextMessage",
)
TXT_MSG_OK = ("Unknown", "Yes", "No")

ENUMS: dict[str, tuple[str, ...]] = {
    "PatStatus": PAT_STATUSES,
    "Gender": GENDERS,
    "Position": POSITIONS,
    "PreferConfirmMethod": CONTACT_METHODS,
    "PreferContactMethod": CONTACT_METHODS,
    "PreferRecallMethod": CONTACT_METHODS,
    "TxtMsgOk": TXT_MSG_OK,
}
"""Enumerations, sent by name."""

FIELD_KINDS: dict[str, Kind] = {
    "PatNum": "id",
    "LName": "text",
    "FName": "text",
    "MiddleI": "text",
    "Preferred": "text",
    "PatStatus": "enum",
    "Gender": "enum",
    "Position": "enum",
    "Birthdate": "date",
    "SSN": "text",
    "Address": "text",
    "Address2": "text",
    "City": "text",
    "State": "text",
    "Zip": "text",
    "HmPhone": "text",
    "WkPhone": "text",
    "WirelessPhone": "text",
    "Guarantor": "id",
    "Email": "text",
    "EstBalance": "money",
    "PriProv": "id",
    "priProvAbbr": "text",
    "SecProv": "id",
    "secProvAbbr": "text",
    "FeeSched": "id",
    "BillingType": "text",
    "ImageFolder": "text",
    "FamFinUrgNote": "text",
    "ChartNumber": "text",
    "MedicaidID": "text",
    "BalTotal": "money",
    "EmployerNum": "id",
    "DateFirstVisit": "date",
    "ClinicNum": "id",
    "clinicAbbr": "text",
    "Premed": "booltext",
    "Ward": "text",
    "PreferConfirmMethod": "enum",
    "PreferContactMethod": "enum",
    "PreferRecallMethod": "enum",
    "Language": "text",
    "AdmitDate": "date",
    "siteDesc": "text",
    "DateTStamp": "datetime",
    "SuperFamily": "id",
    "TxtMsgOk": "enum",
    "SecDateEntry": "date",
}
"""The documented patient object: 48 keys in the order the API sends them, with their kind."""

PATIENT_FIELDS: tuple[str, ...] = tuple(FIELD_KINDS)
"""The 48 keys of a full patient record, in order."""

SUMMARY_FIELDS: tuple[str, ...] = (
    "PatNum",
    "LName",
    "FName",
    "MiddleI",
    "Preferred",
    "PatStatus",
    "Birthdate",
    "SSN",
    "Address",
    "Address2",
    "City",
    "State",
    "Zip",
    "HmPhone",
    "WkPhone",
    "WirelessPhone",
    "Email",
    "priProvAbbr",
    "secProvAbbr",
    "BillingType",
    "ChartNumber",
    "ClinicNum",
    "clinicAbbr",
    "siteDesc",
    "TxtMsgOk",
)
"""The reduced row of ``GET /patients`` (the Patient Select search)."""

DERIVED_FIELDS = frozenset({"priProvAbbr", "secProvAbbr", "clinicAbbr", "siteDesc"})
"""Lower-case-initial keys: text read from other tables when a response is built."""

READ_ONLY_FIELDS = frozenset(
    {"PatNum", "DateTStamp", "SecDateEntry", "BalTotal", "EstBalance", "ImageFolder"}
    | DERIVED_FIELDS
)
"""Keys a POST or PUT cannot set (EstBalance and ImageFolder: apipatients lists neither)."""

SETTABLE_PAT_STATUSES = tuple(s for s in PAT_STATUSES if s != "Deleted")
"""PatStatus values a POST or PUT may set (apipatients: Deleted is not among them)."""
SETTABLE_GENDERS = ("Male", "Female", "Unknown")
"""Gender values a POST or PUT may set (apipatients)."""

CHART_NUMBER_MAX = 15
NO_DATE = "0001-01-01"
DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def fields_of(kind: Kind, names: tuple[str, ...] = PATIENT_FIELDS) -> frozenset[str]:
    """The keys among ``names`` of one kind."""
    return frozenset(name for name in names if FIELD_KINDS[name] == kind)


def blank(name: str) -> Any:
    """Open Dental's "no value" for a field: 0 ids, 0.0 money, ``0001-01-01``, ``"false"``, ""."""
    kind = FIELD_KINDS[name]
    if kind == "id":
        return 0
    if kind == "money":
        return 0.0
    if kind == "date":
        return NO_DATE
    if kind == "booltext":
        return "false"
    return ""


def format_date(value: date | None) -> str:
    """A date in the API's form, ``0001-01-01`` for none."""
    return value.strftime(DATE_FORMAT) if value else NO_DATE


def format_datetime(value: datetime) -> str:
    """A datetime in the API's form (server local time, no zone)."""
    return value.strftime(DATETIME_FORMAT)
