"""Recalls: generating a patient's recalls from its visits, and the computed Recall List.

A recall's DatePrevious is the last date one of its trigger procedures was done, DateDue that
plus the interval (cleared when disabled), DateScheduled the earliest future Scheduled
appointment carrying a trigger procedure (``../shared/opendental-visits.md`` §4).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from odbridge.simulator.visit_shape import (
    APT,
    PROC,
    RECALL,
    RECALL_LIST_FIELDS,
    RECALL_TYPES,
    TRIGGER_CODES,
    RecallType,
    add_interval,
)
from odbridge.simulator.visits import NO_DATE, Row, VisitBook, fmt_date, fmt_datetime

if TYPE_CHECKING:
    from odbridge.simulator.visit_history import HistoryBuilder

_TYPES = {t.num: t for t in RECALL_TYPES}
RECALL_NOTES = ("", "", "", "", "", "", "Pt prefers mornings", "Call cell only", "Snowbird Nov-Mar")


def make_recalls(
    builder: HistoryBuilder,
    patient: dict[str, Any],
    born: date | None,
    perio: bool,
    last_visit: date,
) -> list[tuple[Row, tuple[int, str] | None]]:
    """The patient's recalls (RecallNum 0 until stored) and their reminders sent, if any."""
    rng = builder.rng
    today = builder.today
    child = born is not None and (today - born).days < 12 * 365
    types = [2 if child else 3 if perio else 1]
    if not child and rng.random() < 0.5:
        types.append(4)
    scheduled_apts = [
        builder.apts[i - 1].row
        for i in builder.patient_apts
        if builder.apts[i - 1].row[APT["AptStatus"]] == "Scheduled"
        and builder.apts[i - 1].deleted_at is None
        and builder.apts[i - 1].row[APT["AptDateTime"]][:10] >= fmt_date(today)
    ]
    active = patient["PatStatus"] == "Patient"
    results: list[tuple[Row, tuple[int, str] | None]] = []
    for type_num in types:
        recall_type = _TYPES[type_num]
        triggers = TRIGGER_CODES[type_num]
        done = [
            p[PROC["ProcDate"]]
            for p in builder.patient_procs
            if p[PROC["procCode"]] in triggers and p[PROC["ProcStatus"]] in ("C", "EC", "EO")
        ]
        previous = max(done, default=NO_DATE)
        if previous == NO_DATE and type_num != 4 and last_visit < builder.window_start:
            previous = fmt_date(last_visit)  # seen before the simulated history began
        booked = [
            a
            for a in scheduled_apts
            if any(
                p[PROC["AptNum"]] == a[APT["AptNum"]] and p[PROC["procCode"]] in triggers
                for p in builder.patient_procs
            )
        ]
        scheduled = [a[APT["AptDateTime"]][:10] for a in booked]
        due = _due(previous, recall_type)
        disabled = rng.random() < (0.03 if active else 0.4)
        status_num, status_name, reminders = 0, "", None
        overdue = due != NO_DATE and due < fmt_date(today) and not scheduled
        if overdue and not disabled and rng.random() < 0.45 and builder.ref.unsched:
            status_name, status_num = rng.choice(list(builder.ref.unsched.items()))
            sent = today - timedelta(days=rng.randint(1, 60))
            reminders = (rng.randint(1, 3), fmt_date(sent))
        # last change: the visit that set DatePrevious, the booking, or the last reminder
        seen = previous if previous != NO_DATE else patient["DateFirstVisit"]
        moments = [f"{seen} 17:{rng.randint(10, 59)}:00"]
        moments += [a[APT["SecDateTEntry"]] for a in booked]
        if reminders is not None:
            moments.append(f"{reminders[1]} 10:05:00")
        stamp = min(max(moments), fmt_datetime(builder.now))
        disable_until = NO_DATE
        if not disabled and rng.random() < 0.01:
            disable_until = fmt_date(today + timedelta(days=rng.randint(10, 120)))
        row: Row = [
            0,
            patient["PatNum"],
            NO_DATE if disabled else due,
            previous,
            recall_type.interval,
            status_num,
            status_name,
            rng.choice(RECALL_NOTES),
            "true" if disabled else "false",
            stamp,
            type_num,
            50.0 if rng.random() < 0.01 else 0.0,
            disable_until,
            min(scheduled, default=NO_DATE),
            "ASAP" if rng.random() < 0.02 else "Normal",
            "",
        ]
        results.append((row, reminders))
    return results


def _due(previous: str, recall_type: RecallType) -> str:
    if previous == NO_DATE:
        return NO_DATE
    return fmt_date(
        add_interval(date.fromisoformat(previous), recall_type.months, recall_type.days)
    )


# -- GET /recalls/List -----------------------------------------------------------------------
LIST_DAYS_PAST = 500
LIST_DAYS_FUTURE = 45
"""Default due range of the list (guess: Open Dental reads the RecallDaysPast/Future prefs)."""


def us_date(iso: str) -> str:
    """``2022-03-16`` → ``3/16/2022``, the Recall List's form."""
    day = date.fromisoformat(iso)
    return f"{day.month}/{day.day}/{day.year}"


def recall_type_named(name: str) -> RecallType | None:
    return next((t for t in RECALL_TYPES if t.description.lower() == name.lower()), None)


_PHONES = {"WirelessPh": ("Cell", "WirelessPhone"), "HmPhone": ("Hm", "HmPhone")}
_PHONES["WkPhone"] = ("Wk", "WkPhone")


def contact(patient: Mapping[str, Any]) -> str:
    """The patient's preferred recall contact, as the list shows it (guess at the labels)."""
    method = patient.get("PreferRecallMethod", "None")
    if method == "TextMessage" and patient["WirelessPhone"]:
        return f"Text:{patient['WirelessPhone']}"
    if method == "Email" and patient["Email"]:
        return str(patient["Email"])
    if method == "Mail":
        return "Mail"
    if method in _PHONES and patient[_PHONES[method][1]]:
        label, key = _PHONES[method]
        return f"{label}:{patient[key]}"
    for label, key in (("Hm", "HmPhone"), ("Cell", "WirelessPhone"), ("Wk", "WkPhone")):
        if patient[key]:
            return f"{label}:{patient[key]}"
    return str(patient["Email"])


def _age(birth: str, today: date) -> str:
    if birth == NO_DATE:
        return ""
    born = date.fromisoformat(birth)
    years = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    return str(years)


def _name(patient: Mapping[str, Any]) -> str:
    preferred = f"'{patient['Preferred']}' " if patient["Preferred"] else ""
    return f"{patient['LName']}, {preferred}{patient['FName']}"


def recall_list(
    book: VisitBook,
    patients: Mapping[int, Mapping[str, Any]],
    *,
    today: date,
    start: date | None,
    end: date | None,
    prov_num: int | None,
    clinic_num: int | None,
    types: Iterable[RecallType],
    include_reminded: bool,
) -> list[dict[str, Any]]:
    """The Recall List: due recalls of patients (PatStatus Patient) not disabled and not
    scheduled, ordered by due date then name (guess at the order)."""
    first = fmt_date(start or today - timedelta(days=LIST_DAYS_PAST))
    last = fmt_date(end or today + timedelta(days=LIST_DAYS_FUTURE))
    wanted = {t.num: t for t in types}
    today_text = fmt_date(today)
    rows: list[tuple[str, str, dict[str, Any]]] = []
    for recall in book.recalls.values():
        due = recall[RECALL["DateDue"]]
        recall_type = wanted.get(recall[RECALL["RecallTypeNum"]])
        if recall_type is None or due == NO_DATE or not first <= due <= last:
            continue
        if recall[RECALL["IsDisabled"]] == "true" or recall[RECALL["DateScheduled"]] != NO_DATE:
            continue
        if recall[RECALL["DisableUntilDate"]] > today_text:
            continue
        patient = patients.get(recall[RECALL["PatNum"]])
        if patient is None or patient["PatStatus"] != "Patient":
            continue
        if prov_num is not None and prov_num not in (patient["PriProv"], patient["SecProv"]):
            continue
        if clinic_num is not None and patient["ClinicNum"] != clinic_num:
            continue
        limit = recall[RECALL["DisableUntilBalance"]]
        if limit and float(patient["EstBalance"]) >= limit:
            continue
        count, last_sent = book.reminders.get(recall[RECALL["RecallNum"]], (0, ""))
        if count and not include_reminded:
            continue
        values = (
            us_date(due),
            patient["PatNum"],
            _name(patient),
            _age(patient["Birthdate"], today),
            recall_type.description,
            recall[RECALL["RecallInterval"]],
            str(count) if count else "",
            us_date(last_sent) if last_sent else "",
            contact(patient),
            recall[RECALL["recallStatus"]],
            patient["ClinicNum"],
            recall[RECALL["Note"]],
        )
        sort_name = f"{patient['LName']}\t{patient['FName']}".lower()
        rows.append((due, sort_name, dict(zip(RECALL_LIST_FIELDS, values, strict=True))))
    rows.sort(key=lambda r: (r[0], r[1], r[2]["PatNum"]))
    return [r[2] for r in rows]
