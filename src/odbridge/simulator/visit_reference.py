"""Reference tables that visits point to: operatories, appointment types, confirmation and
unscheduled-status definitions (categories 2 and 13).

Providers and clinics belong to the practice; this module only reads what visits need of
them (``ProviderRef``) and builds the tables the practice does not have.
"""

from __future__ import annotations

from typing import Any

from odbridge.simulator.visit_shape import APPOINTMENTTYPE_FIELDS, OPERATORY_FIELDS, flag
from odbridge.simulator.visits import ProviderRef, Reference

CONFIRMED_DEFS: tuple[tuple[str, str, bool], ...] = (
    ("Not Called", "", False),
    ("Unconfirmed", "", False),
    ("Left Msg", "LM", False),
    ("Appointment Confirmed", "C", False),
    ("Texted", "TXT", False),
    ("E-mailed", "EM", False),
    ("Arrived", "A", False),
    ("Called - Old", "", True),
)
"""Category 2 (ApptConfirmed): ItemName, ItemValue, hidden."""

UNSCHED_DEFS: tuple[tuple[str, str, bool], ...] = (
    ("Left Msg", "", False),
    ("Mailed Postcard", "", False),
    ("Texted", "", False),
    ("E-mailed", "", False),
    ("Called - No Answer", "", False),
    ("Scheduled Elsewhere", "", False),
    ("Pt Will Call Back", "", False),
    ("Old Postcard", "", True),
)
"""Category 13 (RecallUnschedStatus): ItemName, ItemValue, hidden."""

_APPOINTMENT_TYPES: tuple[tuple[str, str, str, str, bool], ...] = (
    ("New Patient", "0,128,255", "/XXXXXXXX/", "D0150,D0210,D1110", False),
    ("Recall", "128,255,128", "/XXXXXX/", "D0120,D1110", False),
    ("Perio Maintenance", "255,200,120", "/XXXXXXXXXX/", "D4910", False),
    ("Restorative", "255,128,128", "/XXXXXX/", "", False),
    ("Crown Prep", "200,100,255", "/XXXXXXXXXXXXXXXX/", "D2740", False),
    ("Emergency", "255,0,0", "/XXX/", "D0140,D0220", False),
    ("Consult (old)", "160,160,160", "/XX/", "", True),
)

APPOINTMENT_TYPE_NUMS = {name: index + 1 for index, (name, *_rest) in enumerate(_APPOINTMENT_TYPES)}


def definition_rows(first_def_num: int) -> list[dict[str, Any]]:
    """Categories 2 and 13 as ``/definitions`` rows, numbered from ``first_def_num``."""
    rows: list[dict[str, Any]] = []
    for category, name, table in (
        (2, "ApptConfirmed", CONFIRMED_DEFS),
        (13, "RecallUnschedStatus", UNSCHED_DEFS),
    ):
        for item, value, hidden in table:
            rows.append(
                {
                    "DefNum": first_def_num + len(rows),
                    "ItemName": item,
                    "ItemValue": value,
                    "Category": category,
                    "category": name,
                    "isHidden": flag(hidden),
                }
            )
    return rows


def build_reference(
    providers: list[ProviderRef], clinic_nums: list[int], definitions: list[dict[str, Any]]
) -> Reference:
    """The reference tables visits use, given the practice's providers, clinics and the
    category 2 and 13 definitions (see ``definition_rows``)."""
    reference = Reference(providers=providers, clinic_nums=clinic_nums)
    for row in definitions:
        if row["isHidden"] == "true":
            continue
        if row["Category"] == 2:
            reference.confirmed[row["ItemName"]] = row["DefNum"]
        elif row["Category"] == 13:
            reference.unsched[row["ItemName"]] = row["DefNum"]
    reference.operatories = _operatories(providers, clinic_nums or [0])
    reference.appointment_types = [
        dict(
            zip(
                APPOINTMENTTYPE_FIELDS,
                (index + 1, name, color, flag(hidden), pattern, codes, "", "None", ""),
                strict=True,
            )
        )
        for index, (name, color, pattern, codes, hidden) in enumerate(_APPOINTMENT_TYPES)
    ]
    return reference


def _operatories(providers: list[ProviderRef], clinic_nums: list[int]) -> list[dict[str, Any]]:
    """Two dentist and two hygiene chairs per clinic, and one retired (hidden) chair."""
    dentists = [p.num for p in providers if not p.hygienist and not p.hidden] or [0]
    hygienists = [p.num for p in providers if p.hygienist and not p.hidden] or [0]
    rows: list[dict[str, Any]] = []
    for clinic_index, clinic_num in enumerate(clinic_nums):
        chairs = [("Op", False), ("Op", False), ("Hyg", True), ("Hyg", True)]
        if clinic_index == 0:
            chairs.append(("Old Op", False))
        for order, (kind, hygiene) in enumerate(chairs):
            number = sum(1 for k, _ in chairs[: order + 1] if k == kind)
            hidden = kind == "Old Op"
            rows.append(
                dict(
                    zip(
                        OPERATORY_FIELDS,
                        (
                            len(rows) + 1,
                            f"{kind} {number}" + (f" ({clinic_num})" if clinic_num else ""),
                            f"{kind[0]}{number}-{clinic_num}",
                            order,
                            flag(hidden),
                            0 if hygiene else dentists[(clinic_index + order) % len(dentists)],
                            hygienists[(clinic_index + order) % len(hygienists)] if hygiene else 0,
                            flag(hygiene),
                            clinic_num,
                            flag(order == 0),
                            flag(hygiene and order == 2),
                            0,
                            "",
                        ),
                        strict=True,
                    )
                )
            )
    return rows
