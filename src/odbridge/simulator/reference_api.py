"""The reference-table endpoints: ``/providers``, ``/clinics``, ``/definitions``,
``/operatories`` and ``/appointmenttypes`` (``../shared/opendental-visits.md`` §5-§9).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from odbridge.simulator.http import ApiError, Query, json_response, page_of
from odbridge.simulator.practice import Clinic, Definition, Provider
from odbridge.simulator.state import office_of, settings_of
from odbridge.simulator.visit_shape import flag
from odbridge.simulator.visits import fmt_datetime
from odbridge.simulator.visits_api import _path_num, stamp_since, visits_of
from odbridge.simulator.visits_state import (
    CATEGORY_NAMES,
    ProviderExtra,
    clinic_phone,
    provider_extras,
)

PROVIDER_FIELDS: tuple[str, ...] = (
    "ProvNum",
    "Abbr",
    "LName",
    "FName",
    "MI",
    "Suffix",
    "FeeSched",
    "Specialty",
    "SSN",
    "StateLicense",
    "IsSecondary",
    "provColor",
    "IsHidden",
    "UsingTIN",
    "SigOnFile",
    "NationalProvID",
    "DateTStamp",
    "IsNotPerson",
    "ProvStatus",
    "IsHiddenReport",
    "Birthdate",
    "SchedNote",
    "PreferredName",
)
"""The provider object's 23 stored keys (``serverDateTime`` comes last)."""

CLINIC_FIELDS: tuple[str, ...] = (
    "ClinicNum",
    "Description",
    "Address",
    "Address2",
    "City",
    "State",
    "Zip",
    "BillingAddress",
    "BillingAddress2",
    "BillingCity",
    "BillingState",
    "BillingZip",
    "PayToAddress",
    "PayToAddress2",
    "PayToCity",
    "PayToState",
    "PayToZip",
    "Phone",
    "Abbr",
    "IsHidden",
)

DEFINITION_FIELDS = ("DefNum", "ItemName", "ItemValue", "Category", "category", "isHidden")


def _cap(request: Request) -> int:
    return settings_of(request).page_cap


def provider_record(provider: Provider, extra: ProviderExtra, now: str) -> dict[str, Any]:
    """The 24-key API object of a provider, ``serverDateTime`` last."""
    values = (
        provider.prov_num,
        provider.abbr,
        provider.lname,
        provider.fname,
        "",
        "" if provider.is_secondary else "DDS",
        provider.fee_sched,
        extra.specialty,
        "",
        extra.license,
        flag(provider.is_secondary),
        extra.color,
        flag(provider.is_hidden),
        "false",
        flag(not provider.is_secondary),
        extra.npi,
        provider.date_t_stamp,
        "false",
        provider.prov_status,
        "false",
        "0001-01-01",
        "",
        "",
    )
    record: dict[str, Any] = dict(zip(PROVIDER_FIELDS, values, strict=True))
    record["serverDateTime"] = now
    return record


async def providers(request: Request) -> Response:
    """``GET /providers``. With ``ClinicNum``: non-hidden providers free to work there, in
    list order, ``serverDateTime`` "". Otherwise every provider (hidden and ProvStatus
    Deleted too) changed at or after ``DateTStamp``, by ProvNum, with serverDateTime."""
    query = Query(request)
    limit, offset = query.paging(_cap(request))
    clinic_num = query.integer("ClinicNum")
    since = stamp_since(query)
    practice = visits_of(request).practice
    extras = provider_extras(practice)
    if clinic_num is not None:  # guess: ClinicNum wins when both are given
        if practice.clinic(clinic_num) is None:
            raise ApiError(404, "Clinic not found")
        rows = [
            provider_record(p, extras[p.prov_num], "")
            for p in practice.providers
            if not p.is_hidden and extras[p.prov_num].clinic in (0, clinic_num)
        ]
        return json_response(page_of(iter(rows), limit, offset))
    now = fmt_datetime(practice.clock())
    chosen = sorted(
        (p for p in practice.providers if since is None or p.date_t_stamp >= since),
        key=lambda p: p.prov_num,
    )
    rows = [provider_record(p, extras[p.prov_num], now) for p in chosen]
    return json_response(page_of(iter(rows), limit, offset))


async def provider(request: Request) -> Response:
    """``GET /providers/{ProvNum}``; 404 when unknown."""
    prov_num = _path_num(request, "ProvNum")
    practice = visits_of(request).practice
    now = fmt_datetime(practice.clock())
    found = practice.provider(prov_num)
    if found is None:
        raise ApiError(404, "Provider not found.")
    return json_response(provider_record(found, provider_extras(practice)[prov_num], now))


def clinic_record(clinic: Clinic, phone: str) -> dict[str, Any]:
    """The 20-key API object of a clinic (one made-up street address per clinic)."""
    address = (f"{100 + clinic.clinic_num * 12} Main St", "", "Portland", "OR", "97201")
    values = (
        clinic.clinic_num,
        clinic.description,
        *address,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        phone,
        clinic.abbr,
        flag(clinic.is_hidden),
    )
    return dict(zip(CLINIC_FIELDS, values, strict=True))


async def clinics(request: Request) -> Response:
    """``GET /clinics``: non-hidden clinics, in list order (guess; paged like the rest)."""
    limit, offset = Query(request).paging(_cap(request))
    rows = [
        clinic_record(c, clinic_phone(c.clinic_num))
        for c in visits_of(request).practice.clinics
        if not c.is_hidden
    ]
    return json_response(page_of(iter(rows), limit, offset))


def definition_record(definition: Definition) -> dict[str, Any]:
    """The API object of a definition (``isHidden`` with a lower-case i)."""
    values = (
        definition.def_num,
        definition.item_name,
        definition.item_value,
        definition.category,
        CATEGORY_NAMES.get(definition.category, ""),
        flag(definition.is_hidden),
    )
    return dict(zip(DEFINITION_FIELDS, values, strict=True))


async def definitions(request: Request) -> Response:
    """``GET /definitions``: by Category, ItemOrder (guess, the cache's order); hidden ones
    only with ``includeHidden=true``."""
    query = Query(request)
    limit, offset = query.paging(_cap(request))
    category = query.integer("Category")
    include_hidden = query.boolean("includeHidden")
    chosen = sorted(
        (
            d
            for d in office_of(request).practice.definitions
            if (category is None or d.category == category) and (include_hidden or not d.is_hidden)
        ),
        key=lambda d: (d.category, d.item_order, d.def_num),
    )
    return json_response(page_of((definition_record(d) for d in chosen), limit, offset))


async def operatories(request: Request) -> Response:
    """``GET /operatories``: every operatory (hidden too) by OperatoryNum; ``ClinicNum``."""
    query = Query(request)
    limit, offset = query.paging(_cap(request))
    clinic_num = query.integer("ClinicNum")
    rows = [
        op
        for op in visits_of(request).reference.operatories
        if clinic_num is None or op["ClinicNum"] == clinic_num
    ]
    return json_response(page_of(iter(rows), limit, offset))


async def operatory(request: Request) -> Response:
    """``GET /operatories/{OperatoryNum}``; 404 when unknown."""
    num = _path_num(request, "OperatoryNum")
    for op in visits_of(request).reference.operatories:
        if op["OperatoryNum"] == num:
            return json_response(op)
    raise ApiError(404, "Operatory not found.")


async def appointmenttypes(request: Request) -> Response:
    """``GET /appointmenttypes``: every type (hidden too) by AppointmentTypeNum."""
    limit, offset = Query(request).paging(_cap(request))
    rows = visits_of(request).reference.appointment_types
    return json_response(page_of(iter(rows), limit, offset))


REFERENCE_ROUTES = [
    Route("/api/v1/providers", providers, methods=["GET"]),
    Route("/api/v1/providers/{num}", provider, methods=["GET"]),
    Route("/api/v1/clinics", clinics, methods=["GET"]),
    Route("/api/v1/definitions", definitions, methods=["GET"]),
    Route("/api/v1/operatories", operatories, methods=["GET"]),
    Route("/api/v1/operatories/{num}", operatory, methods=["GET"]),
    Route("/api/v1/appointmenttypes", appointmenttypes, methods=["GET"]),
]
