"""The small reference tables: providers, clinics, definitions, operatories, appointment types.

Only providers have a change filter (``DateTStamp``, hidden and merged providers included);
the others are read whole. ``GET /clinics`` leaves hidden clinics out; definitions need
``includeHidden=true`` to include hidden ones.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odbridge.api.listing import ListEndpoint
from odbridge.api.models_visits import AppointmentType, Clinic, Definition, Operatory, Provider

if TYPE_CHECKING:
    from odbridge.api.client import Client

__all__ = ["appointment_types", "clinics", "definitions", "operatories", "providers"]


def providers(client: Client) -> ListEndpoint[Provider]:
    """``GET /providers`` (by ProvNum, with DateTStamp) and ``/providers/{ProvNum}``."""
    return ListEndpoint(
        client, "/providers", Provider, ("DateTStamp", "ClinicNum"), single=True, key_name="ProvNum"
    )


def clinics(client: Client) -> ListEndpoint[Clinic]:
    """``GET /clinics`` (non-hidden clinics)."""
    return ListEndpoint(client, "/clinics", Clinic, ())


def definitions(client: Client) -> ListEndpoint[Definition]:
    """``GET /definitions`` (``category``, ``include_hidden``)."""
    return ListEndpoint(client, "/definitions", Definition, ("Category", "includeHidden"))


def operatories(client: Client) -> ListEndpoint[Operatory]:
    """``GET /operatories`` and ``/operatories/{OperatoryNum}``."""
    return ListEndpoint(
        client, "/operatories", Operatory, ("ClinicNum",), single=True, key_name="OperatoryNum"
    )


def appointment_types(client: Client) -> ListEndpoint[AppointmentType]:
    """``GET /appointmenttypes``."""
    return ListEndpoint(client, "/appointmenttypes", AppointmentType, ())
