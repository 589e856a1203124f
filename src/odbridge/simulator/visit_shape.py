"""The API shape of appointments, procedures, recalls and the small reference tables.

Field tuples list each object's keys in the order Open Dental's documentation sends them;
rows are stored as lists in that order (compact: a 10,000-patient practice holds hundreds of
thousands of them) and turned into dicts only when served. ``serverDateTime`` is not stored:
the endpoints add it (first for appointments, last for procedures and providers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

APPOINTMENT_FIELDS: tuple[str, ...] = (
    "AptNum",
    "PatNum",
    "AptStatus",
    "Pattern",
    "Confirmed",
    "confirmed",
    "TimeLocked",
    "Op",
    "Note",
    "ProvNum",
    "provAbbr",
    "ProvHyg",
    "AptDateTime",
    "NextAptNum",
    "UnschedStatus",
    "unschedStatus",
    "IsNewPatient",
    "ProcDescript",
    "ClinicNum",
    "IsHygiene",
    "DateTStamp",
    "DateTimeArrived",
    "DateTimeSeated",
    "DateTimeDismissed",
    "InsPlan1",
    "InsPlan2",
    "DateTimeAskedToArrive",
    "colorOverride",
    "AppointmentTypeNum",
    "SecUserNumEntry",
    "SecDateTEntry",
    "Priority",
    "PatternSecondary",
    "ItemOrderPlanned",
)
"""The 34 stored keys of an appointment (the API puts ``serverDateTime`` before them)."""

HIST_FIELDS: tuple[str, ...] = (
    "HistApptNum",
    "HistUserNum",
    "HistDateTStamp",
    "HistApptAction",
    "ApptSource",
)
"""The keys a histappointment row puts before the appointment's own 34."""

PROCEDURE_FIELDS: tuple[str, ...] = (
    "ProcNum",
    "PatNum",
    "AptNum",
    "ProcDate",
    "ProcFee",
    "Surf",
    "ToothNum",
    "ToothRange",
    "Priority",
    "priority",
    "ProcStatus",
    "ProvNum",
    "provAbbr",
    "Dx",
    "dxName",
    "PlannedAptNum",
    "PlaceService",
    "Prosthesis",
    "DateOriginalProsth",
    "ClaimNote",
    "DateEntryC",
    "ClinicNum",
    "CodeNum",
    "procCode",
    "descript",
    "UnitQty",
    "BaseUnits",
    "DateTP",
    "SiteNum",
    "HideGraphics",
    "CanadianTypeCodes",
    "ProcTime",
    "ProcTimeEnd",
    "DateTStamp",
    "Prognosis",
    "IsLocked",
    "BillingNote",
    "Discount",
    "IsDateProsthEst",
    "SecDateEntry",
)
"""The 40 stored keys of a procedure log (the API puts ``serverDateTime`` after them)."""

RECALL_FIELDS: tuple[str, ...] = (
    "RecallNum",
    "PatNum",
    "DateDue",
    "DatePrevious",
    "RecallInterval",
    "RecallStatus",
    "recallStatus",
    "Note",
    "IsDisabled",
    "DateTStamp",
    "RecallTypeNum",
    "DisableUntilBalance",
    "DisableUntilDate",
    "DateScheduled",
    "Priority",
    "TimePatternOverride",
)

RECALL_LIST_FIELDS: tuple[str, ...] = (
    "DueDate",
    "PatNum",
    "Patient",
    "Age",
    "Type",
    "Interval",
    "NumRemind",
    "LastRemind",
    "Contact",
    "Status",
    "ClinicNum",
    "Note",
)

RECALLTYPE_FIELDS: tuple[str, ...] = (
    "RecallTypeNum",
    "Description",
    "DefaultInterval",
    "TimePattern",
    "Procedures",
    "AppendToSpecial",
)

OPERATORY_FIELDS: tuple[str, ...] = (
    "OperatoryNum",
    "OpName",
    "Abbrev",
    "ItemOrder",
    "IsHidden",
    "ProvDentist",
    "ProvHygienist",
    "IsHygiene",
    "ClinicNum",
    "SetProspective",
    "IsWebSched",
    "OperatoryType",
    "operatoryType",
)

APPOINTMENTTYPE_FIELDS: tuple[str, ...] = (
    "AppointmentTypeNum",
    "AppointmentTypeName",
    "appointmentTypeColor",
    "IsHidden",
    "Pattern",
    "CodeStr",
    "CodeStrRequired",
    "RequiredProcCodesNeeded",
    "BlockoutTypes",
)

APT_STATUSES = (
    "Scheduled",
    "Complete",
    "UnschedList",
    "ASAP",
    "Broken",
    "Planned",
    "PtNote",
    "PtNoteCompleted",
)
"""``AptStatus`` as the API spells it (ASAP is deprecated but still a valid filter)."""

HIST_ACTIONS = ("Created", "Changed", "Missed", "Cancelled", "Deleted")
HIST_STATUSES = ("Scheduled", "Complete", "UnschedList", "Broken", "Planned")
PROC_STATUSES = ("TP", "C", "EC", "EO", "R", "D", "Cn", "TPi")

NO_DATETIME = "0001-01-01 00:00:00"
NO_COLOR = "0,0,0"


def column(fields: tuple[str, ...]) -> dict[str, int]:
    """Field name → position in a stored row."""
    return {name: index for index, name in enumerate(fields)}


APT = column(APPOINTMENT_FIELDS)
PROC = column(PROCEDURE_FIELDS)
RECALL = column(RECALL_FIELDS)


def money(value: float) -> str:
    """A fee as ``ProcFee`` is sent: a string with two decimals (``"130.00"``)."""
    return f"{value:.2f}"


def flag(value: bool) -> str:
    """A database boolean as the API sends it: ``"true"`` / ``"false"``."""
    return "true" if value else "false"


@dataclass(frozen=True)
class ProcCode:
    """A procedure code of the practice's fee schedule."""

    code_num: int
    code: str
    abbr: str
    descript: str
    fee: float
    area: str  # "mouth", "tooth", "surf", "quad"
    minutes: int
    fee_text: str
    """The fee as ``ProcFee`` is sent."""


_CODES: tuple[tuple[str, str, str, float, str, int], ...] = (
    ("D0120", "PerEx", "periodic oral evaluation", 65, "mouth", 10),
    ("D0140", "LimEx", "limited oral evaluation, problem focused", 85, "mouth", 15),
    ("D0150", "CompEx", "comprehensive oral evaluation", 110, "mouth", 20),
    ("D0180", "PerioEx", "comprehensive periodontal evaluation", 120, "mouth", 20),
    ("D0210", "FMX", "intraoral radiographs, complete series", 150, "mouth", 15),
    ("D0220", "PA", "intraoral periapical radiograph, first image", 35, "tooth", 5),
    ("D0274", "4BW", "bitewing radiographs, four images", 70, "mouth", 10),
    ("D0330", "Pano", "panoramic radiograph", 125, "mouth", 10),
    ("D1110", "Pro", "prophylaxis, adult", 105, "mouth", 40),
    ("D1120", "ProChild", "prophylaxis, child", 75, "mouth", 30),
    ("D1206", "Flo", "topical fluoride varnish", 40, "mouth", 5),
    ("D1351", "Seal", "sealant, per tooth", 55, "tooth", 10),
    ("D2140", "A1", "amalgam, one surface", 140, "surf", 30),
    ("D2150", "A2", "amalgam, two surfaces", 170, "surf", 40),
    ("D2330", "C1A", "resin composite, one surface, anterior", 160, "surf", 30),
    ("D2331", "C2A", "resin composite, two surfaces, anterior", 195, "surf", 40),
    ("D2391", "C1", "resin composite, one surface, posterior", 185, "surf", 30),
    ("D2392", "C2", "resin composite, two surfaces, posterior", 235, "surf", 40),
    ("D2740", "Crn", "crown, porcelain/ceramic", 1250, "tooth", 90),
    ("D2750", "PFM", "crown, porcelain fused to high noble metal", 1150, "tooth", 90),
    ("D2950", "BU", "core buildup", 290, "tooth", 30),
    ("D3310", "RCT-A", "root canal, anterior tooth", 850, "tooth", 60),
    ("D3330", "RCT-M", "root canal, molar tooth", 1150, "tooth", 90),
    ("D4341", "SRP", "scaling and root planing, per quadrant", 260, "quad", 45),
    ("D4910", "PMaint", "periodontal maintenance", 150, "mouth", 60),
    ("D6010", "Implant", "implant body placement", 2100, "tooth", 90),
    ("D7140", "Ext", "extraction, erupted tooth", 190, "tooth", 30),
    ("D7210", "SExt", "surgical extraction", 320, "tooth", 45),
    ("D7240", "ImpExt", "removal of impacted tooth, bony", 480, "tooth", 60),
    ("D9110", "Palliative", "palliative treatment of dental pain", 95, "mouth", 20),
    ("D9986", "Missed", "missed appointment", 0, "mouth", 0),
    ("D9987", "Cancelled", "cancelled appointment", 0, "mouth", 0),
)

PROC_CODES: dict[str, ProcCode] = {
    code: ProcCode(index * 3 + 1, code, abbr, descript, fee, area, minutes, money(fee))
    for index, (code, abbr, descript, fee, area, minutes) in enumerate(_CODES)
}
"""The practice's procedure codes by ADA code (CodeNums are sparse, as in a real database)."""

CODE_BY_NUM: dict[int, ProcCode] = {c.code_num: c for c in PROC_CODES.values()}

TRIGGER_CODES: dict[int, frozenset[str]] = {}
"""Recall type → the procedure codes whose completion moves that recall (filled below)."""


@dataclass(frozen=True)
class RecallType:
    """A recall type (``/recalltypes``) with its interval in months and days."""

    num: int
    description: str
    interval: str
    months: int
    days: int
    pattern: str
    procedures: str
    in_list: bool


RECALL_TYPES: tuple[RecallType, ...] = (
    RecallType(1, "Prophy", "6m1d", 6, 1, "/XXXX/", "D0120,D1110", True),
    RecallType(2, "Child Prophy", "6m1d", 6, 1, "/XXX/", "D0120,D1120,D1206", True),
    RecallType(3, "Perio", "3m1d", 3, 1, "/XXXXXX/", "D4910", True),
    RecallType(4, "4BW", "1y", 12, 0, "", "D0274", False),
    RecallType(5, "Pano", "5y", 60, 0, "", "D0330", False),
)
"""Open Dental's default recall types; Prophy, Child Prophy and Perio show in the list."""

for _type in RECALL_TYPES:
    TRIGGER_CODES[_type.num] = frozenset(_type.procedures.split(","))


def add_interval(start: date, months: int, days: int) -> date:
    """``start`` plus a recall interval (months clamp to the month's last day)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = start.day
    while True:
        try:
            return date(year, month, day) + timedelta(days=days)
        except ValueError:
            day -= 1


def row_dict(fields: tuple[str, ...], row: list[Any]) -> dict[str, Any]:
    """A stored row as the API object."""
    return dict(zip(fields, row, strict=True))
