"""Appointments: ``client.appointments`` and ``client.hist_appointments``.

``GET /appointments`` is ordered by AptDateTime then AptNum and returns every status
(Planned, UnschedList, Broken, PtNote included); ``DateTStamp`` means "changed at or after".
A deleted appointment simply vanishes: ``GET /histappointments?HistApptAction=Deleted``
(ordered by HistApptNum) is the only record of it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odbridge.api.listing import ListEndpoint
from odbridge.api.models_visits import Appointment, HistAppointment

if TYPE_CHECKING:
    from odbridge.api.client import Client

__all__ = ["APPOINTMENT_FILTERS", "HIST_APPOINTMENT_FILTERS", "appointments", "hist_appointments"]

APPOINTMENT_FILTERS = (
    "PatNum",
    "AptStatus",
    "Op",
    "date",
    "dateStart",
    "dateEnd",
    "ClinicNum",
    "DateTStamp",
    "AppointmentTypeNum",
)
HIST_APPOINTMENT_FILTERS = (
    "HistApptAction",
    "AptNum",
    "PatNum",
    "AptStatus",
    "ClinicNum",
    "date",
    "dateStart",
    "dateEnd",
)


def appointments(client: Client) -> ListEndpoint[Appointment]:
    """``GET /appointments`` and ``/appointments/{AptNum}``."""
    return ListEndpoint(
        client, "/appointments", Appointment, APPOINTMENT_FILTERS, single=True, key_name="AptNum"
    )


def hist_appointments(client: Client) -> ListEndpoint[HistAppointment]:
    """``GET /histappointments`` (no change filter; date filters apply to AptDateTime)."""
    return ListEndpoint(client, "/histappointments", HistAppointment, HIST_APPOINTMENT_FILTERS)
