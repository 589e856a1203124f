"""Typed, tolerant models of appointments, procedures, recalls and the reference tables.

The same rules as :mod:`odbridge.api.models`: snake_case attributes with the API's names as
aliases; ``0001-01-01``, ``""`` and a 0 foreign key become ``None``; ``"true"``/``"false"``
become bools; money (a number or a numeric string such as ProcFee ``"130.00"``) becomes
``Decimal``; an enum name this version does not know is kept as text with a warning.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import Field, PlainValidator

from odbridge.api.fields import (
    Day,
    Flag,
    Int,
    Key,
    Money,
    Stamp,
    Text,
    as_json,
    enum_checked,
    enum_out,
    od_problem,
    parse_date,
    parse_int,
)
from odbridge.api.models import ApiModel

__all__ = [
    "Appointment",
    "AppointmentType",
    "ApptPriority",
    "ApptStatus",
    "Clinic",
    "Definition",
    "DefinitionCategory",
    "HistAppointment",
    "HistApptAction",
    "Operatory",
    "ProcStatus",
    "ProcedureLog",
    "ProvStatus",
    "Provider",
    "Recall",
    "RecallListEntry",
    "RecallType",
]


class ApptStatus(StrEnum):
    """An appointment's status (Open Dental's ApptStatus, as the API spells it)."""

    SCHEDULED = "Scheduled"
    COMPLETE = "Complete"
    UNSCHED_LIST = "UnschedList"
    ASAP = "ASAP"
    BROKEN = "Broken"
    PLANNED = "Planned"
    PT_NOTE = "PtNote"
    PT_NOTE_COMPLETED = "PtNoteCompleted"


class ApptPriority(StrEnum):
    """An appointment's (or a recall's) priority."""

    NORMAL = "Normal"
    ASAP = "ASAP"


class ProcStatus(StrEnum):
    """A procedure's status: treatment planned, complete, existing, referred, deleted, …"""

    TP = "TP"
    C = "C"
    EC = "EC"
    EO = "EO"
    R = "R"
    D = "D"
    CN = "Cn"
    TPI = "TPi"


class ProvStatus(StrEnum):
    """A provider's status (Deleted = merged into another provider)."""

    ACTIVE = "Active"
    DELETED = "Deleted"


class HistApptAction(StrEnum):
    """What a histappointment row records."""

    CREATED = "Created"
    CHANGED = "Changed"
    MISSED = "Missed"
    CANCELLED = "Cancelled"
    DELETED = "Deleted"


class DefinitionCategory:
    """Definition categories the visit tables refer to (``GET /definitions?Category=``)."""

    APPT_CONFIRMED = 2
    BILLING_TYPES = 4
    RECALL_UNSCHED_STATUS = 13
    DIAGNOSIS = 16
    TX_PRIORITIES = 20
    PROGNOSIS = 30
    PROVIDER_SPECIALTIES = 35


# Enum fields: a member's exact name checked natively, other spellings and unknown names by
# enum_parser (kept as text with a warning), as for the patient's enums.
ApptStatusField = Annotated[
    ApptStatus | str | None, enum_checked(ApptStatus), as_json(enum_out, str)
]
PriorityField = Annotated[
    ApptPriority | str | None, enum_checked(ApptPriority), as_json(enum_out, str)
]
ProcStatusField = Annotated[
    ProcStatus | str | None, enum_checked(ProcStatus), as_json(enum_out, str)
]
ProvStatusField = Annotated[
    ProvStatus | str | None, enum_checked(ProvStatus), as_json(enum_out, str)
]
HistActionField = Annotated[
    HistApptAction | str | None, enum_checked(HistApptAction), as_json(enum_out, str)
]


class _KeyedModel(ApiModel):
    """A row whose repr shows only its primary key (the rest may be patient data)."""

    key_field: ClassVar[str] = ""

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        yield self.key_field, getattr(self, self.key_field, None)

    def to_api_dict(self) -> dict[str, Any]:
        """The API's JSON form; ``serverDateTime`` only when the row came with one."""
        out = super().to_api_dict()
        if "serverDateTime" in out and getattr(self, "server_date_time", None) is None:
            del out["serverDateTime"]
        return out


class Appointment(_KeyedModel):
    """``GET /appointments`` and ``/appointments/{AptNum}`` (``serverDateTime`` first)."""

    key_field: ClassVar[str] = "apt_num"
    key_alias: ClassVar[str | None] = "AptNum"

    server_date_time: Stamp = Field(default=None, alias="serverDateTime")
    apt_num: Int = Field(alias="AptNum")
    pat_num: Key = Field(default=None, alias="PatNum")
    apt_status: ApptStatusField = Field(default=None, alias="AptStatus")
    pattern: Text = Field(default=None, alias="Pattern")
    confirmed: Key = Field(default=None, alias="Confirmed")
    confirmed_name: Text = Field(default=None, alias="confirmed")
    time_locked: Flag = Field(default=False, alias="TimeLocked")
    op: Key = Field(default=None, alias="Op")
    note: Text = Field(default=None, alias="Note")
    prov_num: Key = Field(default=None, alias="ProvNum")
    prov_abbr: Text = Field(default=None, alias="provAbbr")
    prov_hyg: Key = Field(default=None, alias="ProvHyg")
    apt_date_time: Stamp = Field(default=None, alias="AptDateTime")
    next_apt_num: Key = Field(default=None, alias="NextAptNum")
    unsched_status: Key = Field(default=None, alias="UnschedStatus")
    unsched_status_name: Text = Field(default=None, alias="unschedStatus")
    is_new_patient: Flag = Field(default=False, alias="IsNewPatient")
    proc_descript: Text = Field(default=None, alias="ProcDescript")
    clinic_num: Key = Field(default=None, alias="ClinicNum")
    is_hygiene: Flag = Field(default=False, alias="IsHygiene")
    date_tstamp: Stamp = Field(default=None, alias="DateTStamp")
    date_time_arrived: Stamp = Field(default=None, alias="DateTimeArrived")
    date_time_seated: Stamp = Field(default=None, alias="DateTimeSeated")
    date_time_dismissed: Stamp = Field(default=None, alias="DateTimeDismissed")
    ins_plan1: Key = Field(default=None, alias="InsPlan1")
    ins_plan2: Key = Field(default=None, alias="InsPlan2")
    date_time_asked_to_arrive: Stamp = Field(default=None, alias="DateTimeAskedToArrive")
    color_override: Text = Field(default=None, alias="colorOverride")
    appointment_type_num: Key = Field(default=None, alias="AppointmentTypeNum")
    sec_user_num_entry: Key = Field(default=None, alias="SecUserNumEntry")
    sec_date_t_entry: Stamp = Field(default=None, alias="SecDateTEntry")
    priority: PriorityField = Field(default=None, alias="Priority")
    pattern_secondary: Text = Field(default=None, alias="PatternSecondary")
    item_order_planned: Int = Field(default=0, alias="ItemOrderPlanned")


class HistAppointment(_KeyedModel):
    """``GET /histappointments``: an appointment as it was when created, changed, missed,
    cancelled or deleted (the only feed of deleted appointments)."""

    key_field: ClassVar[str] = "hist_appt_num"
    key_alias: ClassVar[str | None] = "HistApptNum"

    hist_appt_num: Int = Field(alias="HistApptNum")
    hist_user_num: Key = Field(default=None, alias="HistUserNum")
    hist_date_tstamp: Stamp = Field(default=None, alias="HistDateTStamp")
    hist_appt_action: HistActionField = Field(default=None, alias="HistApptAction")
    appt_source: Text = Field(default=None, alias="ApptSource")
    apt_num: Int = Field(alias="AptNum")
    pat_num: Key = Field(default=None, alias="PatNum")
    apt_status: ApptStatusField = Field(default=None, alias="AptStatus")
    apt_date_time: Stamp = Field(default=None, alias="AptDateTime")
    clinic_num: Key = Field(default=None, alias="ClinicNum")
    date_tstamp: Stamp = Field(default=None, alias="DateTStamp")


class ProcedureLog(_KeyedModel):
    """``GET /procedurelogs`` (``serverDateTime`` last). ``ProcFee`` arrives as a string."""

    key_field: ClassVar[str] = "proc_num"
    key_alias: ClassVar[str | None] = "ProcNum"

    proc_num: Int = Field(alias="ProcNum")
    pat_num: Key = Field(default=None, alias="PatNum")
    apt_num: Key = Field(default=None, alias="AptNum")
    proc_date: Day = Field(default=None, alias="ProcDate")
    proc_fee: Money = Field(default=None, alias="ProcFee")
    surf: Text = Field(default=None, alias="Surf")
    tooth_num: Text = Field(default=None, alias="ToothNum")
    tooth_range: Text = Field(default=None, alias="ToothRange")
    priority: Key = Field(default=None, alias="Priority")
    priority_name: Text = Field(default=None, alias="priority")
    proc_status: ProcStatusField = Field(default=None, alias="ProcStatus")
    prov_num: Key = Field(default=None, alias="ProvNum")
    prov_abbr: Text = Field(default=None, alias="provAbbr")
    dx: Key = Field(default=None, alias="Dx")
    dx_name: Text = Field(default=None, alias="dxName")
    planned_apt_num: Key = Field(default=None, alias="PlannedAptNum")
    place_service: Text = Field(default=None, alias="PlaceService")
    prosthesis: Text = Field(default=None, alias="Prosthesis")
    date_original_prosth: Day = Field(default=None, alias="DateOriginalProsth")
    claim_note: Text = Field(default=None, alias="ClaimNote")
    date_entry_c: Day = Field(default=None, alias="DateEntryC")
    clinic_num: Key = Field(default=None, alias="ClinicNum")
    code_num: Key = Field(default=None, alias="CodeNum")
    proc_code: Text = Field(default=None, alias="procCode")
    descript: Text = Field(default=None, alias="descript")
    unit_qty: Int = Field(default=1, alias="UnitQty")
    base_units: Int = Field(default=0, alias="BaseUnits")
    date_tp: Day = Field(default=None, alias="DateTP")
    site_num: Key = Field(default=None, alias="SiteNum")
    hide_graphics: Flag = Field(default=False, alias="HideGraphics")
    canadian_type_codes: Text = Field(default=None, alias="CanadianTypeCodes")
    proc_time: Text = Field(default=None, alias="ProcTime")
    proc_time_end: Text = Field(default=None, alias="ProcTimeEnd")
    date_tstamp: Stamp = Field(default=None, alias="DateTStamp")
    prognosis: Key = Field(default=None, alias="Prognosis")
    is_locked: Flag = Field(default=False, alias="IsLocked")
    billing_note: Text = Field(default=None, alias="BillingNote")
    discount: Money = Field(default=None, alias="Discount")
    is_date_prosth_est: Flag = Field(default=False, alias="IsDateProsthEst")
    sec_date_entry: Stamp = Field(default=None, alias="SecDateEntry")
    server_date_time: Stamp = Field(default=None, alias="serverDateTime")


class Recall(_KeyedModel):
    """``GET /recalls``: one recall per patient per recall type (no change filter)."""

    key_field: ClassVar[str] = "recall_num"
    key_alias: ClassVar[str | None] = "RecallNum"

    recall_num: Int = Field(alias="RecallNum")
    pat_num: Key = Field(default=None, alias="PatNum")
    date_due: Day = Field(default=None, alias="DateDue")
    date_previous: Day = Field(default=None, alias="DatePrevious")
    recall_interval: Text = Field(default=None, alias="RecallInterval")
    recall_status: Key = Field(default=None, alias="RecallStatus")
    recall_status_name: Text = Field(default=None, alias="recallStatus")
    note: Text = Field(default=None, alias="Note")
    is_disabled: Flag = Field(default=False, alias="IsDisabled")
    date_tstamp: Stamp = Field(default=None, alias="DateTStamp")
    recall_type_num: Key = Field(default=None, alias="RecallTypeNum")
    disable_until_balance: Money = Field(default=None, alias="DisableUntilBalance")
    disable_until_date: Day = Field(default=None, alias="DisableUntilDate")
    date_scheduled: Day = Field(default=None, alias="DateScheduled")
    priority: PriorityField = Field(default=None, alias="Priority")
    time_pattern_override: Text = Field(default=None, alias="TimePatternOverride")


def _parse_us_date(value: object) -> date | None:
    """``3/16/2022`` (the Recall List's M/d/yyyy) or the usual ``yyyy-MM-dd``; blank and
    ``1/1/0001`` are no date."""
    if isinstance(value, str) and value.count("/") == 2:
        month, day, year = (part.strip() for part in value.split("/"))
        if month.isdigit() and day.isdigit() and year.isdigit() and len(year) == 4:
            try:
                found = date(int(year), int(month), int(day))
            except ValueError:
                found = None
            if found is not None:
                return None if found.year == 1 else found
        raise od_problem("date", "expected a date (M/d/yyyy)")
    return parse_date(value)


def _us_date_out(value: date | None) -> str:
    return "" if value is None else f"{value.month}/{value.day}/{value.year}"


UsDay = Annotated[date | None, PlainValidator(_parse_us_date), as_json(_us_date_out, str)]
"""A date the API writes as M/d/yyyy (``GET /recalls/List``)."""


def _parse_number_text(value: object) -> int | None:
    return None if value is None or value == "" else parse_int(value)


NumberText = Annotated[
    int | None,
    PlainValidator(_parse_number_text),
    as_json(lambda v: "" if v is None else str(v), str),
]
"""A whole number the API sends as text, ``""`` when blank (``Age``, ``NumRemind``)."""


class RecallListEntry(ApiModel):
    """``GET /recalls/List``: one row of Open Dental's computed Recall List (due recalls of
    patients with status Patient, not disabled, no recall appointment scheduled), with the
    reminders sent. A view, not a table: no RecallNum, no change filter; dates M/d/yyyy."""

    key_alias: ClassVar[str | None] = "PatNum"

    due_date: UsDay = Field(default=None, alias="DueDate")
    pat_num: Int = Field(alias="PatNum")
    patient: Text = Field(default=None, alias="Patient")
    age: NumberText = Field(default=None, alias="Age")
    """Whole years ("" → None)."""
    type: Text = Field(default=None, alias="Type")
    interval: Text = Field(default=None, alias="Interval")
    num_remind: NumberText = Field(default=None, alias="NumRemind")
    """Reminders sent ("" → None)."""
    last_remind: UsDay = Field(default=None, alias="LastRemind")
    contact: Text = Field(default=None, alias="Contact")
    status: Text = Field(default=None, alias="Status")
    clinic_num: Key = Field(default=None, alias="ClinicNum")
    note: Text = Field(default=None, alias="Note")


class RecallType(_KeyedModel):
    """``GET /recalltypes``."""

    key_field: ClassVar[str] = "recall_type_num"
    key_alias: ClassVar[str | None] = "RecallTypeNum"

    recall_type_num: Int = Field(alias="RecallTypeNum")
    description: Text = Field(default=None, alias="Description")
    default_interval: Text = Field(default=None, alias="DefaultInterval")
    time_pattern: Text = Field(default=None, alias="TimePattern")
    procedures: Text = Field(default=None, alias="Procedures")
    append_to_special: Flag = Field(default=False, alias="AppendToSpecial")


class Provider(_KeyedModel):
    """``GET /providers`` (``serverDateTime`` last; hidden and merged providers included)."""

    key_field: ClassVar[str] = "prov_num"
    key_alias: ClassVar[str | None] = "ProvNum"

    prov_num: Int = Field(alias="ProvNum")
    abbr: Text = Field(default=None, alias="Abbr")
    lname: Text = Field(default=None, alias="LName")
    fname: Text = Field(default=None, alias="FName")
    mi: Text = Field(default=None, alias="MI")
    suffix: Text = Field(default=None, alias="Suffix")
    fee_sched: Key = Field(default=None, alias="FeeSched")
    specialty: Key = Field(default=None, alias="Specialty")
    ssn: Text = Field(default=None, alias="SSN")
    state_license: Text = Field(default=None, alias="StateLicense")
    is_secondary: Flag = Field(default=False, alias="IsSecondary")
    prov_color: Text = Field(default=None, alias="provColor")
    is_hidden: Flag = Field(default=False, alias="IsHidden")
    using_tin: Flag = Field(default=False, alias="UsingTIN")
    sig_on_file: Flag = Field(default=False, alias="SigOnFile")
    national_prov_id: Text = Field(default=None, alias="NationalProvID")
    date_tstamp: Stamp = Field(default=None, alias="DateTStamp")
    is_not_person: Flag = Field(default=False, alias="IsNotPerson")
    prov_status: ProvStatusField = Field(default=None, alias="ProvStatus")
    is_hidden_report: Flag = Field(default=False, alias="IsHiddenReport")
    birthdate: Day = Field(default=None, alias="Birthdate")
    sched_note: Text = Field(default=None, alias="SchedNote")
    preferred_name: Text = Field(default=None, alias="PreferredName")
    server_date_time: Stamp = Field(default=None, alias="serverDateTime")


class Clinic(_KeyedModel):
    """``GET /clinics`` (non-hidden clinics only; empty when clinics are not used)."""

    key_field: ClassVar[str] = "clinic_num"
    key_alias: ClassVar[str | None] = "ClinicNum"

    clinic_num: Int = Field(alias="ClinicNum")
    description: Text = Field(default=None, alias="Description")
    address: Text = Field(default=None, alias="Address")
    address2: Text = Field(default=None, alias="Address2")
    city: Text = Field(default=None, alias="City")
    state: Text = Field(default=None, alias="State")
    zip: Text = Field(default=None, alias="Zip")
    billing_address: Text = Field(default=None, alias="BillingAddress")
    billing_address2: Text = Field(default=None, alias="BillingAddress2")
    billing_city: Text = Field(default=None, alias="BillingCity")
    billing_state: Text = Field(default=None, alias="BillingState")
    billing_zip: Text = Field(default=None, alias="BillingZip")
    pay_to_address: Text = Field(default=None, alias="PayToAddress")
    pay_to_address2: Text = Field(default=None, alias="PayToAddress2")
    pay_to_city: Text = Field(default=None, alias="PayToCity")
    pay_to_state: Text = Field(default=None, alias="PayToState")
    pay_to_zip: Text = Field(default=None, alias="PayToZip")
    phone: Text = Field(default=None, alias="Phone")
    abbr: Text = Field(default=None, alias="Abbr")
    is_hidden: Flag = Field(default=False, alias="IsHidden")


class Definition(_KeyedModel):
    """``GET /definitions``: billing types, confirmation and unscheduled statuses, …"""

    key_field: ClassVar[str] = "def_num"
    key_alias: ClassVar[str | None] = "DefNum"

    def_num: Int = Field(alias="DefNum")
    item_name: Text = Field(default=None, alias="ItemName")
    item_value: Text = Field(default=None, alias="ItemValue")
    category: Int = Field(default=0, alias="Category")
    category_name: Text = Field(default=None, alias="category")
    is_hidden: Flag = Field(default=False, alias="isHidden")


class Operatory(_KeyedModel):
    """``GET /operatories`` (hidden operatories included)."""

    key_field: ClassVar[str] = "operatory_num"
    key_alias: ClassVar[str | None] = "OperatoryNum"

    operatory_num: Int = Field(alias="OperatoryNum")
    op_name: Text = Field(default=None, alias="OpName")
    abbrev: Text = Field(default=None, alias="Abbrev")
    item_order: Int = Field(default=0, alias="ItemOrder")
    is_hidden: Flag = Field(default=False, alias="IsHidden")
    prov_dentist: Key = Field(default=None, alias="ProvDentist")
    prov_hygienist: Key = Field(default=None, alias="ProvHygienist")
    is_hygiene: Flag = Field(default=False, alias="IsHygiene")
    clinic_num: Key = Field(default=None, alias="ClinicNum")
    set_prospective: Flag = Field(default=False, alias="SetProspective")
    is_web_sched: Flag = Field(default=False, alias="IsWebSched")
    operatory_type: Key = Field(default=None, alias="OperatoryType")
    operatory_type_name: Text = Field(default=None, alias="operatoryType")


class AppointmentType(_KeyedModel):
    """``GET /appointmenttypes`` (hidden types included)."""

    key_field: ClassVar[str] = "appointment_type_num"
    key_alias: ClassVar[str | None] = "AppointmentTypeNum"

    appointment_type_num: Int = Field(alias="AppointmentTypeNum")
    appointment_type_name: Text = Field(default=None, alias="AppointmentTypeName")
    appointment_type_color: Text = Field(default=None, alias="appointmentTypeColor")
    is_hidden: Flag = Field(default=False, alias="IsHidden")
    pattern: Text = Field(default=None, alias="Pattern")
    code_str: Text = Field(default=None, alias="CodeStr")
    code_str_required: Text = Field(default=None, alias="CodeStrRequired")
    required_proc_codes_needed: Text = Field(default=None, alias="RequiredProcCodesNeeded")
    blockout_types: Text = Field(default=None, alias="BlockoutTypes")
