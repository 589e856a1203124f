"""An OpenAPI 3 description of the simulator's patient endpoints (``/api/v1/patients...``).

Served at ``GET /_simulator/openapi.json`` so that schema-driven tools (schemathesis, or
hypothesis over the schemas) can fuzz the simulator and check that every answer has the
documented shape. It describes what the simulator does, guesses included (see
docs/simulator.md); Open Dental publishes no machine-readable description of its API.

Every request needs ``Authorization: ODFHIR {DeveloperKey}/{CustomerKey}`` and
``Content-Type: application/json`` (OpenAPI cannot declare a Content-Type header for a GET,
so the requirement is in the descriptions).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from odbridge.simulator.shape import (
    DERIVED_FIELDS,
    ENUMS,
    FIELD_KINDS,
    PATIENT_FIELDS,
    READ_ONLY_FIELDS,
    SETTABLE_GENDERS,
    SETTABLE_PAT_STATUSES,
    SUMMARY_FIELDS,
)

__all__ = ["openapi_document"]

OPENAPI_VERSION = "3.0.3"

JsonSchema = dict[str, Any]

DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DATETIME_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$"
_SETTABLE_ENUMS = {**ENUMS, "PatStatus": SETTABLE_PAT_STATUSES, "Gender": SETTABLE_GENDERS}
_SEARCH_NOTE = "Deleted never; Archived and Deceased with showArchived; exact matches first."
_ZIP_PATTERN = r"^([0-9]{5}|[0-9]{5}-[0-9]{4}|[0-9]{9}|[A-Za-z][0-9][A-Za-z] [0-9][A-Za-z][0-9])?$"
if not DERIVED_FIELDS <= READ_ONLY_FIELDS:  # the derived text is never written
    raise RuntimeError("a derived field is missing from READ_ONLY_FIELDS")

_DATE: JsonSchema = {
    "type": "string",
    "pattern": DATE_PATTERN,
    "description": "yyyy-MM-dd; 0001-01-01 means no date.",
}
_DATETIME: JsonSchema = {
    "type": "string",
    "pattern": DATETIME_PATTERN,
    "description": "yyyy-MM-dd HH:mm:ss, the server's local time, no zone.",
}


def _field_schema(name: str) -> JsonSchema:
    """The JSON schema of one patient field as the simulator sends it."""
    kind = FIELD_KINDS[name]
    if kind == "id":
        return {"type": "integer", "description": "A number; 0 means none."}
    if kind == "money":
        return {"type": "number"}
    if kind == "date":
        return dict(_DATE)
    if kind == "datetime":
        return dict(_DATETIME)
    if kind == "booltext":
        return {"type": "string", "enum": ["true", "false"]}
    if kind == "enum":
        return {"type": "string", "enum": list(ENUMS[name])}
    return {"type": "string", "description": "Text; empty when absent."}


def _object(
    fields: tuple[str, ...], *, lead: tuple[tuple[str, JsonSchema], ...] = ()
) -> JsonSchema:
    properties = {name: schema for name, schema in lead}
    properties.update({name: _field_schema(name) for name in fields})
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _write_schema(*, required: tuple[str, ...] = ()) -> JsonSchema:
    """The body of POST / PUT: writable fields; unknown and read-only ones are ignored."""
    properties: dict[str, JsonSchema] = {}
    for name in PATIENT_FIELDS:
        kind = FIELD_KINDS[name]
        if name in READ_ONLY_FIELDS or name == "BillingType":
            continue  # BillingType must name a definition: left out of the fuzzed bodies
        if kind == "id":
            properties[name] = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
        elif kind == "date":
            properties[name] = {"type": "string", "format": "date"}
        elif kind == "booltext":
            properties[name] = {"type": "string", "enum": ["true", "false"]}
        elif kind == "enum":
            properties[name] = {"type": "string", "enum": list(_SETTABLE_ENUMS[name])}
        elif name == "Zip":
            properties[name] = {"type": "string", "pattern": _ZIP_PATTERN}
        elif name == "ChartNumber":
            properties[name] = {"type": "string", "maxLength": 15}
        else:
            properties[name] = {"type": "string", "maxLength": 255}
    for name in required:
        properties[name] = {**properties[name], "minLength": 1, "pattern": r"\S"}
    schema: JsonSchema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _ref(name: str) -> JsonSchema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: JsonSchema) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": _json(_ref("Message"))}
    if headers:
        response["headers"] = headers
    return response


_COMMON_ERRORS: dict[str, Any] = {
    "400": _error(
        "A bad parameter, a missing Content-Type header, or the eConnector is not running."
    ),
    "401": _error("A key is wrong, disabled or missing, or the scheme is not ODFHIR."),
    "429": _error(
        "Too many requests for this customer key (throttle=reject).",
        {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
    ),
    "500": _error("An injected server error (faults only)."),
    "504": _error("An injected timeout (faults only)."),
}


def _responses(ok_status: str, ok: dict[str, Any], *extra: str) -> dict[str, Any]:
    responses = {ok_status: ok, **_COMMON_ERRORS}
    for status in extra:
        responses[status] = _EXTRA_ERRORS[status]
    return responses


_EXTRA_ERRORS: dict[str, Any] = {
    "404": _error("No such patient (or no such resource)."),
    "405": _error(
        "Patients cannot be deleted through the API.",
        {"Allow": {"schema": {"type": "string"}}},
    ),
}


def _query(name: str, schema: JsonSchema, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


_TEXT: JsonSchema = {"type": "string"}
_NUMBER: JsonSchema = {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
_PAGING = [
    _query("Offset", _NUMBER, "Rows to skip."),
    _query("Limit", _NUMBER, "Rows per page; missing, 0 or above the cap gives the cap."),
]


def _simple_parameters() -> list[dict[str, Any]]:
    return [
        _query("LName", _TEXT, "Last name contains (case-insensitive)."),
        _query("FName", _TEXT, "First name contains (case-insensitive)."),
        _query("Birthdate", {"type": "string", "format": "date"}, "yyyy-MM-dd."),
        _query("ClinicNum", _NUMBER, "Clinic."),
        _query("PatStatus", _field_schema("PatStatus"), "Status."),
        _query("DateTStamp", dict(_DATETIME), "Changed at or after (yyyy-MM-dd HH:mm:ss)."),
        _query("PriProv", _NUMBER, "Primary provider."),
        _query("Gender", _field_schema("Gender"), "Gender."),
        _query("Position", _field_schema("Position"), "Marital status."),
        _query("Guarantor", _NUMBER, "Guarantor's PatNum."),
        _query("SuperFamily", _NUMBER, "Super family."),
        _query("EmployerNum", _NUMBER, "Employer."),
        _query("FeeSched", _NUMBER, "Fee schedule."),
        *_PAGING,
    ]


def _search_parameters() -> list[dict[str, Any]]:
    boolean: JsonSchema = {"type": "string", "enum": ["true", "false"]}
    return [
        _query("LName", _TEXT, "Last name starts with."),
        _query("FName", _TEXT, "First name starts with."),
        _query("Phone", _TEXT, "Digits anywhere in any phone."),
        _query("Address", _TEXT, "Anywhere in the address."),
        _query("hideInactive", boolean, "Leave out Inactive patients."),
        _query("City", _TEXT, "City starts with."),
        _query("State", _TEXT, "State starts with."),
        _query("SSN", _TEXT, "SSN starts with."),
        _query("ChartNumber", _TEXT, "Chart number starts with."),
        _query("guarOnly", boolean, "Guarantors only."),
        _query("showArchived", boolean, "Include Archived and Deceased patients."),
        _query("Birthdate", {"type": "string", "format": "date"}, "yyyy-MM-dd."),
        _query("SiteNum", _NUMBER, "Site."),
        _query("SubscriberId", _TEXT, "Insurance subscriber (none simulated)."),
        _query("Email", _TEXT, "Anywhere in the email."),
        _query("Country", _TEXT, "Anywhere in the country."),
        _query(
            "clinicNums",
            {"type": "string", "pattern": r"^[0-9]+(,[0-9]+)*$"},
            "Comma-separated ClinicNums.",
        ),
        _query("clinicAbbr", _TEXT, "Clinic abbreviation starts with."),
        _query("invoiceNumber", _TEXT, "Invoice (none simulated)."),
        *_PAGING,
    ]


_PAT_NUM_PARAMETER = {
    "name": "PatNum",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
}


@functools.cache
def _document() -> dict[str, Any]:
    headers_note = (
        " Every request needs `Authorization: ODFHIR {DeveloperKey}/{CustomerKey}` and "
        "`Content-Type: application/json`."
    )
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "odbridge simulator of the Open Dental API (patients)",
            "version": "1",
            "description": "The patient endpoints as the simulator implements them; where "
            "Open Dental's documentation is silent the simulator guesses (docs/simulator.md)."
            + headers_note,
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"ODFHIR": []}],
        "paths": {
            "/patients/Simple": {
                "get": {
                    "operationId": "patientsSimple",
                    "summary": "Full patient rows, serverDateTime first, ordered by PatNum.",
                    "description": "The endpoint for sync: every status but Deleted (from 21.4)."
                    + headers_note,
                    "parameters": _simple_parameters(),
                    "responses": _responses(
                        "200",
                        {
                            "description": "One page of rows.",
                            "content": _json({"type": "array", "items": _ref("PatientSimple")}),
                        },
                    ),
                }
            },
            "/patients": {
                "get": {
                    "operationId": "patientsSearch",
                    "summary": "The Patient Select search: reduced rows by LName, FName.",
                    "description": _SEARCH_NOTE + headers_note,
                    "parameters": _search_parameters(),
                    "responses": _responses(
                        "200",
                        {
                            "description": "One page of rows.",
                            "content": _json({"type": "array", "items": _ref("PatientSummary")}),
                        },
                    ),
                },
                "post": {
                    "operationId": "patientCreate",
                    "summary": "Create a patient (LName and FName required).",
                    "description": "Unknown and read-only fields are ignored." + headers_note,
                    "requestBody": {"required": True, "content": _json(_ref("PatientCreate"))},
                    "responses": _responses(
                        "201",
                        {
                            "description": "Created.",
                            "headers": {"Location": {"schema": {"type": "string"}}},
                            "content": _json(_ref("Patient")),
                        },
                    ),
                },
            },
            "/patients/{PatNum}": {
                "parameters": [_PAT_NUM_PARAMETER],
                "get": {
                    "operationId": "patientGet",
                    "summary": "One patient's full record.",
                    "description": "404 'Patient not found.' when absent." + headers_note,
                    "responses": _responses(
                        "200",
                        {"description": "The record.", "content": _json(_ref("Patient"))},
                        "404",
                    ),
                },
                "put": {
                    "operationId": "patientUpdate",
                    "summary": "Update the given fields (bumps DateTStamp).",
                    "description": "At least one writable field." + headers_note,
                    "requestBody": {"required": True, "content": _json(_ref("PatientUpdate"))},
                    "responses": _responses(
                        "200",
                        {"description": "The updated record.", "content": _json(_ref("Patient"))},
                        "404",
                    ),
                },
                "delete": {
                    "operationId": "patientDelete",
                    "summary": "Refused: patients cannot be deleted through the API.",
                    "description": "Always 405 with an Allow header." + headers_note,
                    "responses": _responses("405", _EXTRA_ERRORS["405"]),
                },
            },
        },
        "components": {
            "securitySchemes": {
                "ODFHIR": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "ODFHIR {DeveloperKey}/{CustomerKey}",
                }
            },
            "schemas": {
                "Patient": _object(PATIENT_FIELDS),
                "PatientSimple": _object(
                    PATIENT_FIELDS, lead=(("serverDateTime", dict(_DATETIME)),)
                ),
                "PatientSummary": _object(SUMMARY_FIELDS),
                "PatientCreate": _write_schema(required=("LName", "FName")),
                "PatientUpdate": {**_write_schema(), "minProperties": 1},
                "Message": {"type": "string", "description": "A short explanation."},
            },
        },
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3 document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())
