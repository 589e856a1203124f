"""The moving front desk for visits: what staff do all day to appointments, procedures and
recalls. Used by ``--changes-per-minute`` (the demo) and ``POST /_simulator/visits/changes``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any

from odbridge.simulator.visit_shape import APT, PROC, RECALL
from odbridge.simulator.visits import (
    NO_DATE,
    Row,
    VisitBook,
    blank_appointment,
    fmt_date,
    fmt_datetime,
)

ACTIONS = (
    "schedule",
    "complete",
    "break",
    "delete",
    "confirm",
    "complete-procedure",
    "delete-procedure",
    "recall",
)
_CUMULATIVE = tuple(itertools.accumulate((30, 20, 8, 3, 20, 8, 3, 8)))


def schedule(book: VisitBook, patient: Mapping[str, Any], when: datetime | None = None) -> Row:
    """Book a hygiene visit (exam and cleaning, planned as TP procedures) for a patient."""
    rng = book.rng
    ref = book.reference
    if when is None:
        day = book.now().date() + timedelta(days=rng.randint(1, 60))
        if day.weekday() >= 5:
            day += timedelta(days=7 - day.weekday())
        when = datetime.combine(day, time(8 + rng.randint(0, 8), rng.choice((0, 20, 40))))
    dentists = [p.num for p in ref.providers if not p.hygienist and not p.hidden]
    hygienists = [p.num for p in ref.providers if p.hygienist and not p.hidden]
    dentist = patient["PriProv"] if patient["PriProv"] in dentists else (dentists or [0])[0]
    hygienist = patient["SecProv"] if patient["SecProv"] in hygienists else 0
    if not hygienist and hygienists:
        hygienist = rng.choice(hygienists)
    clinic = patient["ClinicNum"]
    ops = ref.ops_for(clinic, True)
    now = fmt_datetime(book.now())
    row = blank_appointment()
    values = {
        "PatNum": patient["PatNum"],
        "AptStatus": "Scheduled",
        "Pattern": "/XXXXXXXXXX/",
        "Confirmed": ref.confirmed.get("Not Called", 0),
        "confirmed": "Not Called" if "Not Called" in ref.confirmed else "",
        "Op": ops[0]["OperatoryNum"] if ops else 0,
        "ProvNum": dentist,
        "provAbbr": ref.prov_abbr(dentist),
        "ProvHyg": hygienist,
        "AptDateTime": fmt_datetime(when),
        "IsNewPatient": "true" if patient["DateFirstVisit"] == NO_DATE else "false",
        "ProcDescript": "PerEx, Pro",
        "ClinicNum": clinic,
        "IsHygiene": "true",
        "DateTStamp": now,
        "SecUserNumEntry": rng.randint(1, 5),
        "SecDateTEntry": now,
    }
    for name, value in values.items():
        row[APT[name]] = value
    book.add_appointment(row)
    for code, prov in (("D0120", dentist), ("D1110", hygienist or dentist)):
        book.add_procedure(
            book.procedure_row(
                pat_num=patient["PatNum"],
                code=code,
                status="TP",
                day=when.date(),
                prov_num=prov,
                clinic_num=clinic,
                stamp=now,
                apt_num=row[APT["AptNum"]],
                date_tp=book.now().date(),
            )
        )
    book.add_hist("Created", row)
    book.sync_recalls(patient["PatNum"])
    return row


def _scheduled(book: VisitBook, before: date | None = None) -> list[int]:
    """Scheduled appointments (only those up to ``before`` when given)."""
    limit = fmt_date(before) if before else "9999"
    return [
        num
        for num, row in book.appointments.items()
        if row[APT["AptStatus"]] == "Scheduled" and row[APT["AptDateTime"]][:10] <= limit
    ]


def random_action(
    book: VisitBook, patients: Mapping[int, Mapping[str, Any]], action: str | None = None
) -> dict[str, Any]:
    """Do one front-desk action (random unless named); answers what was done."""
    rng = book.rng
    action = action or rng.pick(ACTIONS, _CUMULATIVE)
    today = book.now().date()
    if action == "schedule":
        active = [p for p in patients.values() if p["PatStatus"] == "Patient"]
        if active:
            row = schedule(book, rng.choice(active))
            return {"action": action, "AptNum": row[APT["AptNum"]]}
    elif action in ("complete", "break", "delete", "confirm"):
        # only today's and overdue visits get completed; the others can be anything
        due = _scheduled(book, today if action == "complete" else None)
        if due:
            apt_num = rng.choice(due)
            if action == "complete":
                book.complete_appointment(apt_num)
            elif action == "break":
                book.break_appointment(apt_num, unscheduled=rng.random() < 0.4)
            elif action == "delete":
                book.delete_appointment(apt_num)
            else:
                names = [n for n in book.reference.confirmed if n != "Not Called"]
                book.confirm_appointment(apt_num, rng.choice(names))
            return {"action": action, "AptNum": apt_num}
    elif action in ("complete-procedure", "delete-procedure"):
        # treatment planned and not on an appointment: done as a walk-in, or dropped
        planned = [
            num
            for num, row in book.procedures.items()
            if row[PROC["ProcStatus"]] == "TP" and not row[PROC["AptNum"]]
        ]
        if planned:
            proc_num = rng.choice(planned[-2000:])
            if action == "complete-procedure":
                book.complete_procedure(proc_num)
            else:
                book.delete_procedure(proc_num)
            return {"action": action, "ProcNum": proc_num}
    elif action == "recall" and book.recalls:
        recall_num = rng.choice(list(book.recalls))
        names = list(book.reference.unsched)
        book.update_recall(recall_num, rng.choice(names) if names else "", None)
        return {"action": action, "RecallNum": book.recalls[recall_num][RECALL["RecallNum"]]}
    return {"action": action, "skipped": True}
