"""The small reference tables: providers, clinics, definitions, operatories, appointment types.

Only providers have a change filter (``DateTStamp``, hidden and merged providers included);
the others are read whole. ``GET /clinics`` leaves hidden clinics out; definitions need
``include_hidden=True`` to include hidden ones.
"""

from __future__ import annotations

from odbridge.api.listing import Listing, Since
from odbridge.api.models_visits import AppointmentType, Clinic, Definition, Operatory, Provider
from odbridge.api.paging import Page

__all__ = ["AppointmentTypes", "Clinics", "Definitions", "Operatories", "Providers"]


class Providers(Listing[Provider]):
    """``GET /providers`` (by ProvNum, with DateTStamp) and ``/providers/{ProvNum}``."""

    path = "/providers"
    model = Provider
    key_name = "ProvNum"

    def get(self, prov_num: int) -> Provider:
        """One provider; :class:`NotFoundError` if there is none."""
        return self._get(prov_num)

    def list(
        self,
        *,
        changed_since: Since | None = None,
        clinic_num: int | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> Page[Provider]:
        """Every provider (hidden and merged ones included), or those changed since."""
        return self._list(
            {"ClinicNum": clinic_num}, changed_since=changed_since, offset=offset, limit=limit
        )


class Clinics(Listing[Clinic]):
    """``GET /clinics`` (non-hidden clinics)."""

    path = "/clinics"
    model = Clinic

    def list(self, *, offset: int = 0, limit: int | None = None) -> Page[Clinic]:
        """Every clinic that is not hidden."""
        return self._list({}, offset=offset, limit=limit)


class Definitions(Listing[Definition]):
    """``GET /definitions``."""

    path = "/definitions"
    model = Definition

    def list(
        self,
        *,
        category: int | None = None,
        include_hidden: bool | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> Page[Definition]:
        """Definitions, of one ``category`` (see ``DefinitionCategory``) or all."""
        return self._list(
            {"Category": category, "includeHidden": include_hidden}, offset=offset, limit=limit
        )


class Operatories(Listing[Operatory]):
    """``GET /operatories`` and ``/operatories/{OperatoryNum}``."""

    path = "/operatories"
    model = Operatory
    key_name = "OperatoryNum"

    def get(self, operatory_num: int) -> Operatory:
        """One operatory; :class:`NotFoundError` if there is none."""
        return self._get(operatory_num)

    def list(
        self, *, clinic_num: int | None = None, offset: int = 0, limit: int | None = None
    ) -> Page[Operatory]:
        """Every operatory, or one clinic's."""
        return self._list({"ClinicNum": clinic_num}, offset=offset, limit=limit)


class AppointmentTypes(Listing[AppointmentType]):
    """``GET /appointmenttypes``."""

    path = "/appointmenttypes"
    model = AppointmentType

    def list(self, *, offset: int = 0, limit: int | None = None) -> Page[AppointmentType]:
        """Every appointment type."""
        return self._list({}, offset=offset, limit=limit)
