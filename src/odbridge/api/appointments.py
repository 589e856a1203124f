"""Appointments: ``client.appointments`` and ``client.hist_appointments``.

``GET /appointments`` is ordered by AptDateTime then AptNum and returns every status
(Planned, UnschedList, Broken, PtNote included); ``DateTStamp`` means "changed at or after".
A deleted appointment simply vanishes: ``GET /histappointments?HistApptAction=Deleted``
(ordered by HistApptNum) is the only record of it.
"""

from __future__ import annotations

import datetime as dt

from odbridge.api.listing import Listing, QueryValue, Since
from odbridge.api.models_visits import Appointment, ApptStatus, HistAppointment, HistApptAction
from odbridge.api.paging import Page

__all__ = ["Appointments", "HistAppointments"]


class Appointments(Listing[Appointment]):
    """``GET /appointments`` and ``/appointments/{AptNum}``."""

    path = "/appointments"
    model = Appointment
    key_name = "AptNum"

    def get(self, apt_num: int) -> Appointment:
        """One appointment; :class:`NotFoundError` if there is none."""
        return self._get(apt_num)

    def list(
        self,
        *,
        changed_since: Since | None = None,
        pat_num: int | None = None,
        apt_status: ApptStatus | None = None,
        op: int | None = None,
        date: dt.date | None = None,
        date_start: dt.date | None = None,
        date_end: dt.date | None = None,
        clinic_num: int | None = None,
        appointment_type_num: int | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> Page[Appointment]:
        """Appointments of every status; the date filters apply to AptDateTime."""
        filters: dict[str, QueryValue] = {
            "PatNum": pat_num,
            "AptStatus": apt_status,
            "Op": op,
            "date": date,
            "dateStart": date_start,
            "dateEnd": date_end,
            "ClinicNum": clinic_num,
            "AppointmentTypeNum": appointment_type_num,
        }
        return self._list(filters, changed_since=changed_since, offset=offset, limit=limit)


class HistAppointments(Listing[HistAppointment]):
    """``GET /histappointments`` (no change filter; date filters apply to AptDateTime)."""

    path = "/histappointments"
    model = HistAppointment

    def list(
        self,
        *,
        hist_appt_action: HistApptAction | None = None,
        apt_num: int | None = None,
        pat_num: int | None = None,
        apt_status: ApptStatus | None = None,
        clinic_num: int | None = None,
        date: dt.date | None = None,
        date_start: dt.date | None = None,
        date_end: dt.date | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> Page[HistAppointment]:
        """History rows; ``hist_appt_action=HistApptAction.DELETED`` lists deletions."""
        filters: dict[str, QueryValue] = {
            "HistApptAction": hist_appt_action,
            "AptNum": apt_num,
            "PatNum": pat_num,
            "AptStatus": apt_status,
            "ClinicNum": clinic_num,
            "date": date,
            "dateStart": date_start,
            "dateEnd": date_end,
        }
        return self._list(filters, offset=offset, limit=limit)
