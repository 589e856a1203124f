"""The headline visit figures: each with its definition (shown beside it and in the JSON)
and its trend (last month, a year earlier)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from odbridge.dashboard.queries.visit_kpis import VisitKpis

__all__ = ["Figure", "build_figures"]


@dataclass(frozen=True)
class Figure:
    """One headline number, how it is defined, and its trend when it has one."""

    key: str
    label: str
    value: int | Decimal | float | None
    kind: str
    """count | money | percent"""
    definition: str
    previous_month: int | Decimal | float | None = None
    last_year: int | Decimal | float | None = None
    worklist: str | None = None
    """The worklist listing the patients behind it, if any."""

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "value": _json_value(self.value),
            "kind": self.kind,
            "definition": self.definition,
            "previous_month": _json_value(self.previous_month),
            "last_year": _json_value(self.last_year),
            "patients": f"/worklists/{self.worklist}" if self.worklist else None,
        }


def _json_value(value: int | Decimal | float | None) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float):
        return round(value, 1)
    return value


# -- definitions -------------------------------------------------------------------------
def build_figures(k: VisitKpis) -> list[Figure]:
    """The headline figures, each with its definition and trend."""
    s = k.settings
    month = k.months[-1].strftime("%B %Y")
    prev, year = -2, -13
    return [
        Figure(
            "active_patients",
            "Active patients",
            k.active_patients,
            "count",
            f"Patients whose PatStatus is “Patient” and who had a Complete appointment in the "
            f"last {s.active_months} months (up to now). {k.status_active:,} patients have the "
            "status alone. The trend compares the same count at the end of last month and a "
            "year earlier (status as of today).",
            previous_month=k.active_last_month,
            last_year=k.active_last_year,
            worklist="active",
        ),
        Figure(
            "new_patients",
            "New patients this month",
            k.new_patients[-1],
            "count",
            f"Patients whose DateFirstVisit falls in {month} (Open Dental sets it at the first "
            "appointment). Trend: the same count for last month and a year ago.",
            previous_month=k.new_patients[prev],
            last_year=k.new_patients[year],
            worklist="new",
        ),
        Figure(
            "no_future_appointment",
            "Active, no future appointment",
            k.no_future_appointment,
            "count",
            "Active patients (as above) with no Scheduled appointment from now on. Planned, "
            "Unscheduled-list and Broken appointments do not count as booked.",
            worklist="reactivation",
        ),
        Figure(
            "recall_overdue",
            "Recall overdue",
            k.recall_overdue,
            "count",
            "Patients (status Patient) with an enabled recall whose DateDue is before today and "
            "no recall appointment scheduled (DateScheduled empty). Recalls disabled until a "
            "later date are left out, as in Open Dental's recall list.",
            worklist="recall",
        ),
        Figure(
            "recall_due_this_month",
            "Recall due this month",
            k.recall_due_this_month,
            "count",
            f"Patients (status Patient) with an enabled recall whose DateDue falls in {month}.",
            worklist="recall_due",
        ),
        Figure(
            "recall_scheduled",
            "Recall scheduled",
            k.recall_scheduled_pct,
            "percent",
            f"Share of enabled recalls of patients with status Patient that have a recall "
            f"appointment scheduled (DateScheduled set): {k.recall_scheduled:,} of "
            f"{k.recall_enabled:,}.",
            worklist="recall_scheduled",
        ),
        Figure(
            "hygiene_reappointment",
            "Hygiene reappointment",
            k.hygiene_reappointment_pct,
            "percent",
            f"Of the {k.hygiene_seen:,} patients with a Complete hygiene appointment "
            f"(IsHygiene, or a hygienist set) in the last {s.hygiene_days} days, the share "
            f"that now have a Scheduled appointment from now on ({k.hygiene_reappointed:,}).",
            worklist="hygiene",
        ),
        Figure(
            "production",
            "Production this month",
            k.production[-1],
            "money",
            f"Gross production: the sum of ProcFee × (UnitQty + BaseUnits) of Complete (C) "
            f"procedures whose ProcDate falls in {month}, to today, as Open Dental's own "
            "dashboard computes it. Write-offs and adjustments are not in the API data "
            "synced, so this is not net production. Trend: last month and a year ago.",
            previous_month=k.production[prev],
            last_year=k.production[year],
            worklist="production",
        ),
        Figure(
            "treatment_planned_unscheduled",
            "Treatment planned, unscheduled",
            k.tp_unscheduled_value,
            "money",
            f"Treatment-planned (TP) procedures not on any appointment (AptNum 0) of patients "
            f"with status Patient: {k.tp_unscheduled_count:,} procedures for "
            f"{k.tp_unscheduled_patients:,} patients; value = ProcFee × (UnitQty + BaseUnits). "
            "Inactive plans (TPi) are left out.",
            worklist="unscheduled",
        ),
        Figure(
            "broken_rate",
            "Broken appointment rate",
            k.broken_rate(),
            "percent",
            f"Broken ÷ (Broken + Complete) among appointments dated in {month} up to now. "
            "Appointments broken and then sent to the Unscheduled list are not counted "
            "(Open Dental no longer marks them Broken). Trend: last month and a year ago.",
            previous_month=k.broken_rate(prev),
            last_year=k.broken_rate(year),
            worklist="broken",
        ),
    ]
