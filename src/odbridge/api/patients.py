"""The patients resource: ``client.patients``.

=========================  ==================================================================
``get(pat_num)``           ``GET /patients/{PatNum}``: one full record
``list(...)``              ``GET /patients/Simple``: every patient (all statuses), or those
                           changed at or after ``changed_since``; a :class:`Page`
``search(...)``            ``GET /patients``, the Patient Select search (reduced rows,
                           :class:`PatientSummary`); a :class:`Page`
=========================  ==================================================================

A :class:`~odbridge.api.paging.Page` is one request's rows; iterating it yields every row,
fetching the next pages lazily; ``page.pages()`` walks page by page.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from odbridge.api.listing import Listing, QueryValue, Since, list_page
from odbridge.api.models import Patient, PatientSummary
from odbridge.api.paging import Page
from odbridge.vocab import Gender, PatStatus, Position

__all__ = ["LIST_NOT_FOUND_HINT", "Patients"]

LIST_NOT_FOUND_HINT = (
    "Open Dental documents a 404 'with an explanation' for patients/Simple: a filter that "
    "names something that does not exist (a ClinicNum, a PriProv), or no such resource at "
    "this base URL. Check the filters and that the base URL ends in /api/v1."
)


class Patients(Listing[Patient]):
    """Patient endpoints of one :class:`~odbridge.api.client.Client`."""

    path = "/patients/Simple"
    model = Patient
    item_path = "/patients"
    key_name = "PatNum"
    not_found_hint = LIST_NOT_FOUND_HINT
    SEARCH = "/patients"

    def get(self, pat_num: int) -> Patient:
        """One patient's full record; :class:`NotFoundError` if there is none."""
        return self._get(pat_num)

    def list(
        self,
        *,
        changed_since: Since | None = None,
        pat_status: PatStatus | None = None,
        lname: str | None = None,
        fname: str | None = None,
        birthdate: date | None = None,
        clinic_num: int | None = None,
        pri_prov: int | None = None,
        gender: Gender | None = None,
        position: Position | None = None,
        guarantor: int | None = None,
        super_family: int | None = None,
        employer_num: int | None = None,
        fee_sched: int | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> Page[Patient]:
        """``GET /patients/Simple``: every patient (every status unless ``pat_status``), or
        with ``changed_since`` those changed at or after it (``DateTStamp >=``; each row
        carries ``server_date_time``). Ordered by PatNum. Names match anywhere in the name.

        The next ``changed_since`` is the ``server_time`` of the *first* page of a pass that
        completed, minus an overlap of at least an hour (:class:`odbridge.sync.cursor.Cursor`
        does this): a row edited while later pages were read has a later stamp.
        """
        filters: dict[str, QueryValue] = {
            "LName": lname,
            "FName": fname,
            "Birthdate": birthdate,
            "ClinicNum": clinic_num,
            "PatStatus": pat_status,
            "PriProv": pri_prov,
            "Gender": gender,
            "Position": position,
            "Guarantor": guarantor,
            "SuperFamily": super_family,
            "EmployerNum": employer_num,
            "FeeSched": fee_sched,
        }
        return self._list(filters, changed_since=changed_since, offset=offset, limit=limit)

    def search(
        self,
        *,
        lname: str | None = None,
        fname: str | None = None,
        phone: str | None = None,
        address: str | None = None,
        hide_inactive: bool | None = None,
        city: str | None = None,
        state: str | None = None,
        ssn: str | None = None,
        chart_number: str | None = None,
        guar_only: bool | None = None,
        show_archived: bool | None = None,
        birthdate: date | None = None,
        site_num: int | None = None,
        subscriber_id: str | None = None,
        email: str | None = None,
        country: str | None = None,
        clinic_nums: Sequence[int] | None = None,
        clinic_abbr: str | None = None,
        invoice_number: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> Page[PatientSummary]:
        """``GET /patients``, the Patient Select search: reduced rows, exact matches first;
        Archived and Deceased patients only with ``show_archived``."""
        return list_page(
            self._client,
            self.SEARCH,
            PatientSummary,
            {
                "LName": lname,
                "FName": fname,
                "Phone": phone,
                "Address": address,
                "hideInactive": hide_inactive,
                "City": city,
                "State": state,
                "SSN": ssn,
                "ChartNumber": chart_number,
                "guarOnly": guar_only,
                "showArchived": show_archived,
                "Birthdate": birthdate,
                "SiteNum": site_num,
                "SubscriberId": subscriber_id,
                "Email": email,
                "Country": country,
                "clinicNums": clinic_nums,
                "clinicAbbr": clinic_abbr,
                "invoiceNumber": invoice_number,
            },
            offset=offset,
            limit=limit,
        )
