"""Typed, tolerant models of the API's patient rows (field types in :mod:`odbridge.api.fields`).

Attribute names are snake_case; the API's own names are the aliases (either may be used to
build a model). Open Dental's "no value" forms (``0001-01-01``, ``""``, a 0 foreign key)
become ``None``; ``"true"``/``"false"`` become bools; money becomes ``Decimal``. An enum name
this version does not know is kept as text with a warning, an unknown key is kept as an
extra, and a value of the wrong shape raises :class:`ResponseFormatError` naming the field,
never quoting its value. ``to_api_dict()`` turns a model back into the API's JSON form.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any, ClassVar, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
)

from odbridge.api.errors import ResponseFormatError
from odbridge.api.fields import (
    ContactField,
    Day,
    Flag,
    GenderField,
    Int,
    Key,
    Money,
    PositionField,
    Stamp,
    StatusField,
    Text,
    TxtMsgField,
    UnknownEnumValueWarning,
    format_api_date,
    format_api_datetime,
)
from odbridge.vocab import ContactMethod, Gender, PatStatus, Position, YesNoUnknown

__all__ = [
    "PATIENT_FIELDS",
    "SUMMARY_FIELDS",
    "ApiModel",
    "ContactMethod",
    "Gender",
    "PatStatus",
    "Patient",
    "PatientSummary",
    "Position",
    "UnknownEnumValueWarning",
    "YesNoUnknown",
    "format_api_date",
    "format_api_datetime",
]

_PROBLEMS = {
    "missing": "missing",
    "model_type": "expected a JSON object",
    "dict_type": "expected a JSON object",
}


class ApiModel(BaseModel):
    """Shared behaviour: API aliases, extras kept, PHI-free repr and errors."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)

    key_alias: ClassVar[str | None] = None
    """The API's name of the primary key (``PatNum``), read from rows that do not validate."""

    @classmethod
    def from_api(cls, data: object, *, row: int | None = None) -> Self:
        """Validate one row as the API sent it; :class:`ResponseFormatError` if malformed."""
        if not isinstance(data, Mapping):
            raise ResponseFormatError("expected a JSON object", row=row)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise _format_error(exc, row) from None

    @classmethod
    def api_fields(cls) -> tuple[str, ...]:
        """The API's key names, in the documented order."""
        return tuple(info.alias or name for name, info in cls.model_fields.items())

    def to_api_dict(self) -> dict[str, Any]:
        """The row in the API's JSON form: documented keys in order, then any extras."""
        out: dict[str, Any] = self.model_dump(
            mode="json", by_alias=True, include=set(type(self).model_fields)
        )
        out.update(self.__pydantic_extra__ or {})
        return out

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Only the id: every other field is patient data and must not reach logs.
        yield "pat_num", getattr(self, "pat_num", None)


def _format_error(exc: ValidationError, row: int | None) -> ResponseFormatError:
    """The first problem of a validation error, as a PHI-free ResponseFormatError."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    first = errors[0]
    field_name = ".".join(str(part) for part in first["loc"]) or None
    kind = first["type"]
    problem = first["msg"] if kind.startswith("od_") else _PROBLEMS.get(kind, "unexpected value")
    others = sorted({str(e["loc"][0]) for e in errors[1:] if e["loc"]} - {field_name or ""})
    if others:
        problem += f" (also: {', '.join(others[:5])}{', …' if len(others) > 5 else ''})"
    return ResponseFormatError(problem, field=field_name, row=row)


M = TypeVar("M", bound=ApiModel)


@cache
def _page_adapter(model: type[ApiModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def validate_whole_page(model: type[M], rows: list[Any]) -> list[M] | None:
    """Every row of a decoded page validated at once (one pydantic call for the page), or
    None when any row does not validate: then validate row by row to learn which."""
    try:
        items: list[M] = _page_adapter(model).validate_python(rows)
    except ValidationError:
        return None
    return items


class Patient(ApiModel):
    """A full patient record (``GET /patients/{PatNum}`` and ``GET /patients/Simple``).

    ``server_date_time`` is set on rows of ``patients/Simple``: the server's clock when it
    answered, the cursor for the next incremental read.
    """

    key_alias: ClassVar[str | None] = "PatNum"

    server_date_time: Stamp = Field(default=None, alias="serverDateTime")
    pat_num: Int = Field(alias="PatNum")
    lname: Text = Field(default=None, alias="LName")
    fname: Text = Field(default=None, alias="FName")
    middle_i: Text = Field(default=None, alias="MiddleI")
    preferred: Text = Field(default=None, alias="Preferred")
    pat_status: StatusField = Field(default=None, alias="PatStatus")
    gender: GenderField = Field(default=None, alias="Gender")
    position: PositionField = Field(default=None, alias="Position")
    birthdate: Day = Field(default=None, alias="Birthdate")
    ssn: Text = Field(default=None, alias="SSN")
    address: Text = Field(default=None, alias="Address")
    address2: Text = Field(default=None, alias="Address2")
    city: Text = Field(default=None, alias="City")
    state: Text = Field(default=None, alias="State")
    zip: Text = Field(default=None, alias="Zip")
    hm_phone: Text = Field(default=None, alias="HmPhone")
    wk_phone: Text = Field(default=None, alias="WkPhone")
    wireless_phone: Text = Field(default=None, alias="WirelessPhone")
    guarantor: Key = Field(default=None, alias="Guarantor")
    email: Text = Field(default=None, alias="Email")
    est_balance: Money = Field(default=None, alias="EstBalance")
    pri_prov: Key = Field(default=None, alias="PriProv")
    pri_prov_abbr: Text = Field(default=None, alias="priProvAbbr")
    sec_prov: Key = Field(default=None, alias="SecProv")
    sec_prov_abbr: Text = Field(default=None, alias="secProvAbbr")
    fee_sched: Key = Field(default=None, alias="FeeSched")
    billing_type: Text = Field(default=None, alias="BillingType")
    image_folder: Text = Field(default=None, alias="ImageFolder")
    fam_fin_urg_note: Text = Field(default=None, alias="FamFinUrgNote")
    chart_number: Text = Field(default=None, alias="ChartNumber")
    medicaid_id: Text = Field(default=None, alias="MedicaidID")
    bal_total: Money = Field(default=None, alias="BalTotal")
    employer_num: Key = Field(default=None, alias="EmployerNum")
    date_first_visit: Day = Field(default=None, alias="DateFirstVisit")
    clinic_num: Key = Field(default=None, alias="ClinicNum")
    clinic_abbr: Text = Field(default=None, alias="clinicAbbr")
    premed: Flag = Field(default=False, alias="Premed")
    ward: Text = Field(default=None, alias="Ward")
    prefer_confirm_method: ContactField = Field(default=None, alias="PreferConfirmMethod")
    prefer_contact_method: ContactField = Field(default=None, alias="PreferContactMethod")
    prefer_recall_method: ContactField = Field(default=None, alias="PreferRecallMethod")
    language: Text = Field(default=None, alias="Language")
    admit_date: Day = Field(default=None, alias="AdmitDate")
    site_desc: Text = Field(default=None, alias="siteDesc")
    date_tstamp: Stamp = Field(default=None, alias="DateTStamp")
    super_family: Key = Field(default=None, alias="SuperFamily")
    txt_msg_ok: TxtMsgField = Field(default=None, alias="TxtMsgOk")
    sec_date_entry: Day = Field(default=None, alias="SecDateEntry")

    def to_api_dict(self) -> dict[str, Any]:
        """The API's JSON form; ``serverDateTime`` leads when the row came with one."""
        out = super().to_api_dict()
        if self.server_date_time is None:
            del out["serverDateTime"]
        return out


class PatientSummary(ApiModel):
    """A row of the Patient Select search, ``GET /patients`` (fewer fields)."""

    key_alias: ClassVar[str | None] = "PatNum"

    pat_num: Int = Field(alias="PatNum")
    lname: Text = Field(default=None, alias="LName")
    fname: Text = Field(default=None, alias="FName")
    middle_i: Text = Field(default=None, alias="MiddleI")
    preferred: Text = Field(default=None, alias="Preferred")
    pat_status: StatusField = Field(default=None, alias="PatStatus")
    birthdate: Day = Field(default=None, alias="Birthdate")
    ssn: Text = Field(default=None, alias="SSN")
    address: Text = Field(default=None, alias="Address")
    address2: Text = Field(default=None, alias="Address2")
    city: Text = Field(default=None, alias="City")
    state: Text = Field(default=None, alias="State")
    zip: Text = Field(default=None, alias="Zip")
    hm_phone: Text = Field(default=None, alias="HmPhone")
    wk_phone: Text = Field(default=None, alias="WkPhone")
    wireless_phone: Text = Field(default=None, alias="WirelessPhone")
    email: Text = Field(default=None, alias="Email")
    pri_prov_abbr: Text = Field(default=None, alias="priProvAbbr")
    sec_prov_abbr: Text = Field(default=None, alias="secProvAbbr")
    billing_type: Text = Field(default=None, alias="BillingType")
    chart_number: Text = Field(default=None, alias="ChartNumber")
    clinic_num: Key = Field(default=None, alias="ClinicNum")
    clinic_abbr: Text = Field(default=None, alias="clinicAbbr")
    site_desc: Text = Field(default=None, alias="siteDesc")
    txt_msg_ok: TxtMsgField = Field(default=None, alias="TxtMsgOk")


PATIENT_FIELDS: tuple[str, ...] = Patient.api_fields()[1:]
"""The 48 documented keys of a patient, in the API's order (without ``serverDateTime``)."""

SUMMARY_FIELDS: tuple[str, ...] = PatientSummary.api_fields()
"""The keys of a Patient Select search row, in the API's order."""
