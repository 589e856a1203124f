"""The visit tables of a simulated practice and the front-desk actions that change them.

``VisitBook`` holds appointments, histappointments, procedure logs and recalls as rows in the
API's field order (see ``visit_shape``), plus the reference tables they point to. Every
change stamps ``DateTStamp`` from the server clock, as MySQL's auto-updated column does, and
follows Open Dental's own rules (``../shared/opendental-visits.md``): deleting an appointment
is a hard delete that writes a histappointment "Deleted" row and unlinks its procedures;
deleting a procedure only sets ProcStatus "D"; completing an appointment completes its
procedures and moves the patient's recalls.
"""

from __future__ import annotations

import bisect
import functools
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypeVar

from odbridge.simulator.visit_shape import (
    APPOINTMENT_FIELDS,
    APT,
    HIST_FIELDS,
    NO_COLOR,
    NO_DATETIME,
    PROC,
    PROC_CODES,
    RECALL,
    RECALL_TYPES,
    TRIGGER_CODES,
    add_interval,
)

NO_DATE = "0001-01-01"
Row = list[Any]
T = TypeVar("T")
_AT, _NUM = APT["AptDateTime"], APT["AptNum"]


@functools.lru_cache(maxsize=8192)
def fmt_date(value: date) -> str:
    """``yyyy-MM-dd`` (cached: a history repeats its days many times)."""
    return value.isoformat()


def fmt_datetime(value: datetime) -> str:
    """``yyyy-MM-dd HH:mm:ss`` (server local time, no zone; whole seconds)."""
    return value.isoformat(" ", "seconds")


class FastRandom(random.Random):
    """``random.Random`` with cheaper ``randint``/``choice`` (same seed, same draws)."""

    def randint(self, a: int, b: int) -> int:
        return a + int(self.random() * (b - a + 1))

    def choice(self, seq: Sequence[T]) -> T:  # type: ignore[override]
        return seq[int(self.random() * len(seq))]

    def pick(self, population: Sequence[T], cum_weights: Sequence[float]) -> T:
        """One weighted draw; ``cum_weights`` as ``itertools.accumulate`` makes them."""
        return population[bisect.bisect(cum_weights, self.random() * cum_weights[-1])]


@dataclass(frozen=True)
class ProviderRef:
    """What visits need of a provider."""

    num: int
    abbr: str
    hygienist: bool
    hidden: bool


@dataclass
class Reference:
    """The reference tables visits point to: providers, clinics, operatories, definitions."""

    providers: list[ProviderRef]
    clinic_nums: list[int]
    operatories: list[dict[str, Any]] = field(default_factory=list)
    appointment_types: list[dict[str, Any]] = field(default_factory=list)
    confirmed: dict[str, int] = field(default_factory=dict)  # ItemName -> DefNum (cat 2)
    unsched: dict[str, int] = field(default_factory=dict)  # ItemName -> DefNum (cat 13)

    def prov_abbr(self, prov_num: int) -> str:
        for provider in self.providers:
            if provider.num == prov_num:
                return provider.abbr
        return ""

    def def_name(self, def_num: int) -> str:
        for table in (self.confirmed, self.unsched):
            for name, num in table.items():
                if num == def_num:
                    return name
        return ""

    def ops_for(self, clinic_num: int, hygiene: bool) -> list[dict[str, Any]]:
        """Visible operatories of a clinic for hygiene or dentist work (any if none match)."""
        ops = [o for o in self.operatories if o["IsHidden"] == "false"]
        matching = [
            o for o in ops if o["ClinicNum"] == clinic_num and (o["IsHygiene"] == "true") == hygiene
        ]
        return matching or [o for o in ops if o["ClinicNum"] == clinic_num] or ops


@dataclass
class VisitBook:
    """Appointments, histappointments, procedures and recalls of one practice."""

    clock: Callable[[], datetime]
    reference: Reference
    rng: FastRandom = field(default_factory=FastRandom)  # nosec B311
    appointments: dict[int, Row] = field(default_factory=dict)
    hist: list[Row] = field(default_factory=list)
    procedures: dict[int, Row] = field(default_factory=dict)
    recalls: dict[int, Row] = field(default_factory=dict)
    reminders: dict[int, tuple[int, str]] = field(default_factory=dict)
    """RecallNum → (reminders sent, date of the last one): what ``/recalls/List`` shows."""
    next_apt_num: int = 1
    next_proc_num: int = 1
    next_recall_num: int = 1
    _procs_by_apt: dict[int, list[int]] = field(default_factory=dict)
    _procs_by_pat: dict[int, list[int]] = field(default_factory=dict)
    _recall_keys: dict[tuple[int, int], int] = field(default_factory=dict)
    version: int = 0
    _order: tuple[int, list[Row]] | None = None
    """Bumped on every change (callers may cache sorted views per version)."""

    # -- indexes ---------------------------------------------------------------------------
    def reindex(self) -> None:
        """Rebuild the lookup indexes after bulk loading."""
        self._procs_by_apt = {}
        self._procs_by_pat = {}
        for proc in self.procedures.values():
            self._procs_by_pat.setdefault(proc[PROC["PatNum"]], []).append(proc[PROC["ProcNum"]])
            for key in (proc[PROC["AptNum"]], proc[PROC["PlannedAptNum"]]):
                if key:
                    self._procs_by_apt.setdefault(key, []).append(proc[PROC["ProcNum"]])
        self._recall_keys = {
            (r[RECALL["PatNum"]], r[RECALL["RecallTypeNum"]]): num
            for num, r in self.recalls.items()
        }
        self.next_apt_num = max(self.appointments, default=0) + 1
        for row in self.hist:
            self.next_apt_num = max(self.next_apt_num, row[len(HIST_FIELDS) + APT["AptNum"]] + 1)
        self.next_proc_num = max(self.procedures, default=0) + 1
        self.next_recall_num = max(self.recalls, default=0) + 1
        self.version += 1

    def appointments_in_order(self) -> list[Row]:
        """Every appointment by AptDateTime, AptNum (sorted once per version of the book)."""
        if self._order is None or self._order[0] != self.version:
            rows = sorted(self.appointments.values(), key=lambda r: (r[_AT], r[_NUM]))
            self._order = (self.version, rows)
        return self._order[1]

    def procs_of(self, apt_num: int) -> list[Row]:
        """The procedures attached to an appointment (as AptNum or PlannedAptNum)."""
        return [
            self.procedures[n] for n in self._procs_by_apt.get(apt_num, []) if n in self.procedures
        ]

    def recall_for(self, pat_num: int, type_num: int) -> Row | None:
        num = self._recall_keys.get((pat_num, type_num))
        return self.recalls.get(num) if num is not None else None

    def recalls_of(self, pat_num: int) -> Iterator[Row]:
        for recall_type in RECALL_TYPES:
            row = self.recall_for(pat_num, recall_type.num)
            if row is not None:
                yield row

    # -- building blocks -------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock().replace(microsecond=0)

    def _stamp(self, row: Row, index: int) -> None:
        row[index] = fmt_datetime(self.now())
        self.version += 1

    def add_hist(self, action: str, apt: Row, source: str = "None") -> None:
        """Append a histappointment row: a snapshot of ``apt`` as it is now."""
        num = len(self.hist) + 1
        user = self.rng.choice((1, 2, 3))
        self.hist.append([num, user, fmt_datetime(self.now()), action, source, *apt])

    def add_appointment(self, row: Row) -> Row:
        """Store a new appointment row (its AptNum is assigned here)."""
        row[APT["AptNum"]] = self.next_apt_num
        self.next_apt_num += 1
        self.appointments[row[APT["AptNum"]]] = row
        self.version += 1
        return row

    def add_procedure(self, row: Row) -> Row:
        """Store a new procedure row (its ProcNum is assigned here)."""
        row[PROC["ProcNum"]] = self.next_proc_num
        self.next_proc_num += 1
        self.procedures[row[PROC["ProcNum"]]] = row
        self._procs_by_pat.setdefault(row[PROC["PatNum"]], []).append(row[PROC["ProcNum"]])
        for key in (row[PROC["AptNum"]], row[PROC["PlannedAptNum"]]):
            if key:
                self._procs_by_apt.setdefault(key, []).append(row[PROC["ProcNum"]])
        self.version += 1
        return row

    def add_recall(self, row: Row) -> Row:
        row[RECALL["RecallNum"]] = self.next_recall_num
        self.next_recall_num += 1
        self.recalls[row[RECALL["RecallNum"]]] = row
        self._recall_keys[(row[RECALL["PatNum"]], row[RECALL["RecallTypeNum"]])] = row[
            RECALL["RecallNum"]
        ]
        self.version += 1
        return row

    # -- front-desk actions ----------------------------------------------------------------
    def complete_appointment(self, apt_num: int) -> Row:
        """Set Complete: its procedures become C on its date; recalls move (KeyError if none)."""
        apt = self.appointments[apt_num]
        if apt[APT["AptStatus"]] not in ("Scheduled", "Broken", "UnschedList"):
            raise ValueError(f"an appointment {apt[APT['AptStatus']]} cannot be completed")
        when = datetime.strptime(apt[APT["AptDateTime"]], "%Y-%m-%d %H:%M:%S")
        apt[APT["AptStatus"]] = "Complete"
        apt[APT["DateTimeArrived"]] = fmt_datetime(when - timedelta(minutes=8))
        apt[APT["DateTimeSeated"]] = fmt_datetime(when + timedelta(minutes=2))
        apt[APT["DateTimeDismissed"]] = fmt_datetime(
            when + timedelta(minutes=5 * max(2, len(apt[APT["Pattern"]])))
        )
        self._stamp(apt, APT["DateTStamp"])
        for proc in self.procs_of(apt_num):
            if proc[PROC["AptNum"]] == apt_num and proc[PROC["ProcStatus"]] == "TP":
                self._complete_proc(proc, when.date())
        self.add_hist("Changed", apt)
        self.sync_recalls(apt[APT["PatNum"]])
        return apt

    def break_appointment(self, apt_num: int, unscheduled: bool, missed: bool = True) -> Row:
        """Break a Scheduled appointment: Broken on the book, or UnschedList with Op 0.

        Adds a D9986 (missed) or D9987 (cancelled) procedure, as PUT Break does.
        """
        apt = self.appointments[apt_num]
        if apt[APT["AptStatus"]] != "Scheduled":
            raise ValueError("only Scheduled appointments can be broken")
        if unscheduled:
            apt[APT["AptStatus"]] = "UnschedList"
            apt[APT["Op"]] = 0
            status = self.rng.choice(list(self.reference.unsched.items()) or [("", 0)])
            apt[APT["UnschedStatus"]], apt[APT["unschedStatus"]] = status[1], status[0]
        else:
            apt[APT["AptStatus"]] = "Broken"
        self._stamp(apt, APT["DateTStamp"])
        day = apt[APT["AptDateTime"]][:10]
        code = PROC_CODES["D9986" if missed else "D9987"]
        self.add_procedure(
            self.procedure_row(
                pat_num=apt[APT["PatNum"]],
                code=code.code,
                status="C",
                day=date.fromisoformat(day),
                prov_num=apt[APT["ProvNum"]],
                clinic_num=apt[APT["ClinicNum"]],
                stamp=fmt_datetime(self.now()),
            )
        )
        self.add_hist("Missed" if missed else "Cancelled", apt)
        self.sync_recalls(apt[APT["PatNum"]])
        return apt

    def delete_appointment(self, apt_num: int) -> None:
        """Delete as Open Dental does: a "Deleted" history row, the row gone, procs unlinked."""
        apt = self.appointments[apt_num]
        self.add_hist("Deleted", apt)
        del self.appointments[apt_num]
        for proc in self.procs_of(apt_num):
            if proc[PROC["AptNum"]] == apt_num:
                proc[PROC["AptNum"]] = 0
            if proc[PROC["PlannedAptNum"]] == apt_num:
                proc[PROC["PlannedAptNum"]] = 0
            self._stamp(proc, PROC["DateTStamp"])
        self._procs_by_apt.pop(apt_num, None)
        self.version += 1
        self.sync_recalls(apt[APT["PatNum"]])

    def confirm_appointment(self, apt_num: int, name: str) -> Row:
        """Set the confirmation status (a definition of category 2) by its name."""
        apt = self.appointments[apt_num]
        apt[APT["Confirmed"]] = self.reference.confirmed[name]
        apt[APT["confirmed"]] = name
        self._stamp(apt, APT["DateTStamp"])
        self.add_hist("Changed", apt)
        return apt

    def complete_procedure(self, proc_num: int) -> Row:
        """Set a treatment-planned procedure complete today."""
        proc = self.procedures[proc_num]
        if proc[PROC["ProcStatus"]] not in ("TP", "TPi"):
            raise ValueError("only treatment-planned procedures can be completed")
        self._complete_proc(proc, self.now().date())
        self.sync_recalls(proc[PROC["PatNum"]])
        return proc

    def delete_procedure(self, proc_num: int) -> Row:
        """Delete as Open Dental does: ProcStatus D, AptNum and PlannedAptNum 0; the row stays."""
        proc = self.procedures[proc_num]
        if proc[PROC["ProcStatus"]] == "D":
            raise ValueError("the procedure is already deleted")
        proc[PROC["ProcStatus"]] = "D"
        proc[PROC["AptNum"]] = 0
        proc[PROC["PlannedAptNum"]] = 0
        self._stamp(proc, PROC["DateTStamp"])
        return proc

    def update_recall(self, recall_num: int, status_name: str | None, note: str | None) -> Row:
        """Set a recall's status (category 13 name, "" for none) and note; counts a reminder."""
        recall = self.recalls[recall_num]
        if status_name is not None:
            recall[RECALL["RecallStatus"]] = self.reference.unsched.get(status_name, 0)
            recall[RECALL["recallStatus"]] = status_name if recall[RECALL["RecallStatus"]] else ""
            count, _ = self.reminders.get(recall_num, (0, ""))
            self.reminders[recall_num] = (count + 1, fmt_date(self.now().date()))
        if note is not None:
            recall[RECALL["Note"]] = note
        self._stamp(recall, RECALL["DateTStamp"])
        return recall

    def delete_recall(self, recall_num: int) -> None:
        """Hard delete, as Open Dental's recall synch does: the row vanishes."""
        recall = self.recalls.pop(recall_num)
        self._recall_keys.pop((recall[RECALL["PatNum"]], recall[RECALL["RecallTypeNum"]]), None)
        self.reminders.pop(recall_num, None)
        self.version += 1

    # -- rows ------------------------------------------------------------------------------
    def procedure_row(
        self,
        *,
        pat_num: int,
        code: str,
        status: str,
        day: date,
        prov_num: int,
        clinic_num: int,
        stamp: str,
        apt_num: int = 0,
        planned_apt_num: int = 0,
        date_tp: date | None = None,
        tooth: str = "",
        surf: str = "",
        entry: str | None = None,
    ) -> Row:
        """A procedure row in API order (ProcNum 0 until stored)."""
        proc_code = PROC_CODES[code]
        day_text = fmt_date(day)
        discount = 0.0
        if status == "C" and proc_code.fee and self.rng.random() < 0.03:
            discount = float(round(proc_code.fee * 0.1))
        return [
            0,
            pat_num,
            apt_num,
            day_text,
            proc_code.fee_text,
            surf,
            tooth,
            "",
            0,
            "",
            status,
            prov_num,
            self.reference.prov_abbr(prov_num),
            0,
            "",
            planned_apt_num,
            "Office",
            "",
            NO_DATE,
            "",
            day_text,
            clinic_num,
            proc_code.code_num,
            proc_code.code,
            proc_code.descript,
            1,
            0,
            fmt_date(date_tp or day),
            0,
            "false",
            "",
            "00:00:00",
            "00:00:00",
            stamp,
            0,
            "false",
            "",
            discount,
            "false",
            entry or stamp,
        ]

    def _complete_proc(self, proc: Row, day: date) -> None:
        proc[PROC["ProcStatus"]] = "C"
        proc[PROC["ProcDate"]] = fmt_date(day)
        proc[PROC["DateEntryC"]] = fmt_date(self.now().date())
        self._stamp(proc, PROC["DateTStamp"])

    # -- recalls ---------------------------------------------------------------------------
    def sync_recalls(self, pat_num: int) -> None:
        """Recompute DatePrevious, DateDue and DateScheduled of a patient's recalls.

        DatePrevious: last date a trigger procedure was done (C, EC, EO). DateDue: that plus
        the interval (left alone when disabled). DateScheduled: the earliest future Scheduled
        appointment with a trigger procedure attached, else 0001-01-01.
        """
        today = fmt_date(self.now().date())
        procs = [self.procedures[n] for n in self._procs_by_pat.get(pat_num, [])]
        for recall_type in RECALL_TYPES:
            recall = self.recall_for(pat_num, recall_type.num)
            if recall is None:
                continue
            triggers = TRIGGER_CODES[recall_type.num]
            done = [
                p[PROC["ProcDate"]]
                for p in procs
                if p[PROC["procCode"]] in triggers and p[PROC["ProcStatus"]] in ("C", "EC", "EO")
            ]
            scheduled = [
                self.appointments[p[PROC["AptNum"]]][APT["AptDateTime"]][:10]
                for p in procs
                if p[PROC["procCode"]] in triggers
                and p[PROC["AptNum"]] in self.appointments
                and self.appointments[p[PROC["AptNum"]]][APT["AptStatus"]] == "Scheduled"
                and self.appointments[p[PROC["AptNum"]]][APT["AptDateTime"]][:10] >= today
            ]
            # DatePrevious only moves forward: older visits may predate the simulated history.
            previous = max([*done, recall[RECALL["DatePrevious"]]])
            due = recall[RECALL["DateDue"]]
            moved = previous != recall[RECALL["DatePrevious"]]
            if moved and recall[RECALL["IsDisabled"]] == "false":
                due = fmt_date(
                    add_interval(date.fromisoformat(previous), recall_type.months, recall_type.days)
                )
            values = (previous, due, min(scheduled, default=NO_DATE))
            keys = (RECALL["DatePrevious"], RECALL["DateDue"], RECALL["DateScheduled"])
            if tuple(recall[k] for k in keys) != values:
                if moved:  # seen again: reminders start over
                    self.reminders.pop(recall[RECALL["RecallNum"]], None)
                for key, value in zip(keys, values, strict=True):
                    recall[key] = value
                self._stamp(recall, RECALL["DateTStamp"])


def _blank_template() -> tuple[Any, ...]:
    defaults: dict[str, Any] = {
        "TimeLocked": "false",
        "IsNewPatient": "false",
        "IsHygiene": "false",
        "DateTimeArrived": NO_DATETIME,
        "DateTimeSeated": NO_DATETIME,
        "DateTimeDismissed": NO_DATETIME,
        "DateTimeAskedToArrive": NO_DATETIME,
        "colorOverride": NO_COLOR,
        "Priority": "Normal",
    }
    text = {"AptStatus", "Pattern", "confirmed", "Note", "provAbbr", "unschedStatus"}
    text |= {"ProcDescript", "PatternSecondary", "AptDateTime", "DateTStamp", "SecDateTEntry"}
    return tuple(defaults.get(name, "" if name in text else 0) for name in APPOINTMENT_FIELDS)


_BLANK_APPOINTMENT = _blank_template()


def blank_appointment() -> Row:
    """An appointment row holding Open Dental's "no value" forms."""
    return list(_BLANK_APPOINTMENT)
