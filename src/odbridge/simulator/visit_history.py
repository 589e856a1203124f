"""A seeded, reproducible visit history for the practice's patients.

Per patient, from its status and first visit: most active patients come for hygiene every six
months (every three for perio patients) and have their next one booked; some come irregularly
and some lapsed years ago. A first visit inside the history window is a new-patient exam
(``IsNewPatient``). Exams find treatment that is done, booked, planned, left unscheduled,
made inactive or deleted; appointments are sometimes broken, sent to the unscheduled list or
deleted. Recalls follow from the completed hygiene. Numbers are assigned at the end in the
order rows were entered, so AptNum and ProcNum grow with time as in a real database.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from odbridge.simulator.visit_recalls import make_recalls
from odbridge.simulator.visit_reference import APPOINTMENT_TYPE_NUMS
from odbridge.simulator.visit_shape import APT, PROC, PROC_CODES, RECALL
from odbridge.simulator.visits import (
    NO_DATE,
    FastRandom,
    Reference,
    Row,
    VisitBook,
    blank_appointment,
    fmt_date,
    fmt_datetime,
)

HISTORY_YEARS = 3
"""Years of past appointments generated (before that, patients' visits are not simulated)."""
FUTURE_DAYS = 200
RECENT_HISTORY_DAYS = 90
"""Created/Changed histappointment rows are generated for this many recent days only (the
Missed, Cancelled and Deleted ones for the whole window), which keeps startup fast."""

_POSTERIOR = (2, 3, 4, 5, 12, 13, 14, 15, 18, 19, 20, 21, 28, 29, 30, 31)
_ANTERIOR = (6, 7, 8, 9, 10, 11, 22, 23, 24, 25, 26, 27)
_TREATMENT = (
    ("D2391", 30),
    ("D2392", 22),
    ("D2331", 8),
    ("D2150", 4),
    ("D2740", 12),
    ("D2950", 5),
    ("D3330", 4),
    ("D3310", 2),
    ("D4341", 6),
    ("D7140", 4),
    ("D7210", 2),
    ("D7240", 1),
)
_TREATMENT_CODES = tuple(code for code, _ in _TREATMENT)
_TREATMENT_CUM = tuple(itertools.accumulate(weight for _, weight in _TREATMENT))
_PAST_CONFIRMED = ("Appointment Confirmed", "Texted", "Arrived", "Not Called")
_SOON_CONFIRMED = ("Appointment Confirmed", "Texted", "Left Msg", "Unconfirmed", "Not Called")
_NOTES = ("", "", "", "", "Pt prefers mornings", "Premed", "Call day before", "Bring x-rays")


class _Entry:
    """A row being generated, with the moment it was entered (for numbering)."""

    __slots__ = ("deleted_at", "entered", "row")

    def __init__(self, entered: str, row: Row, deleted_at: str | None = None) -> None:
        self.entered = entered
        self.row = row
        self.deleted_at = deleted_at


class HistoryBuilder:
    """Builds a ``VisitBook`` patient by patient; ``finish`` numbers the rows."""

    def __init__(
        self,
        reference: Reference,
        seed: int,
        now: datetime,
        clock: Callable[[], datetime],
        years: int = HISTORY_YEARS,
    ) -> None:
        self.ref = reference
        self.seed = seed
        self.rng = FastRandom(seed)  # nosec B311 - reproducible synthetic data
        self.now = now.replace(microsecond=0)
        self.today = self.now.date()
        self.window_start = self.today - timedelta(days=365 * years)
        self.book = VisitBook(clock=clock, reference=reference, rng=FastRandom(seed + 3))
        self.apts: list[_Entry] = []
        self.procs: list[_Entry] = []
        self.hist: list[tuple[str, str, int, Row]] = []  # stamp, action, apt index, snapshot
        self.dentists = [p for p in reference.providers if not p.hygienist and not p.hidden]
        self.hygienists = [p for p in reference.providers if p.hygienist and not p.hidden]
        self.retired = [p for p in reference.providers if not p.hygienist and p.hidden]
        self.dentist_nums = {p.num for p in self.dentists}
        self.hygienist_nums = {p.num for p in self.hygienists}
        self.patient_apts: list[int] = []
        self.patient_procs: list[Row] = []
        self._ops: dict[tuple[int, bool], list[dict[str, Any]]] = {}
        self.perio: set[int] = set()

    # -- patients ------------------------------------------------------------------------
    def add_patient(self, patient: dict[str, Any]) -> None:
        """Generate one patient's visits (nothing for Deleted or never-seen patients).

        Each patient draws from its own seeded stream, so a patient's history does not
        depend on the others' (nor on the exact second the simulator started).
        """
        self.rng = FastRandom(self.seed * 1_000_003 + patient["PatNum"])  # nosec B311
        rng = self.rng
        status = patient["PatStatus"]
        pat_num = patient["PatNum"]
        self.patient_apts = []
        self.patient_procs = []
        if status == "Deleted":
            return
        if patient["DateFirstVisit"] == NO_DATE:
            if status == "Prospective" and rng.random() < 0.5:
                when = self._slot(self.today + timedelta(days=rng.randint(1, 30)))
                self._appointment(patient, when, "new", booked=self._before(when, 30))
            return
        first = date.fromisoformat(patient["DateFirstVisit"])
        birth = patient["Birthdate"]
        born = date.fromisoformat(birth) if birth != NO_DATE else None
        perio = born is not None and (self.today - born).days > 30 * 365 and rng.random() < 0.12
        if perio:
            self.perio.add(pat_num)
        interval = 91 if perio else 182
        recent = (self.today - first).days < 550
        if status != "Patient":
            kind = "lapsed"
        else:
            draw = rng.random()
            kind = "regular" if draw < 0.6 else "irregular" if draw < 0.8 else "lapsed"
            if kind == "lapsed" and recent:
                kind = "irregular"
        stop = self.today + timedelta(days=FUTURE_DAYS)
        if kind == "lapsed":
            stop = max(first, self.today - timedelta(days=rng.randint(560, 1700)))
        last_visit = first
        if first >= self.window_start:
            when = datetime.combine(first, self._time())
            self._visit(patient, when, new=True, perio=perio)
            day = first + timedelta(days=interval + rng.randint(-12, 25))
        else:
            day = self.window_start + timedelta(days=rng.randint(0, interval))
            last_visit = day - timedelta(days=interval)
        while day <= stop:
            when = self._slot(day)
            if when > self.now:
                keep = rng.random() < (0.85 if kind == "regular" else 0.3)
                if keep and kind != "lapsed" and (day - self.today).days < FUTURE_DAYS:
                    booked = self._booked_after(last_visit, when)
                    self._appointment(patient, when, "hygiene", perio=perio, booked=booked)
                break
            outcome = self._visit(patient, when, new=False, perio=perio)
            if outcome == "rebook":
                day += timedelta(days=rng.randint(10, 35))
                continue
            last_visit = day
            gap = interval + rng.randint(-14, 21)
            if kind == "irregular":
                gap = int(interval * rng.uniform(1.3, 2.6))
            day += timedelta(days=gap)
        for recall, reminders in make_recalls(self, patient, born, perio, last_visit):
            number = len(self.book.recalls) + 1
            recall[RECALL["RecallNum"]] = number
            self.book.recalls[number] = recall
            if reminders is not None:
                self.book.reminders[number] = reminders

    # -- one visit -----------------------------------------------------------------------
    def _visit(self, patient: dict[str, Any], when: datetime, *, new: bool, perio: bool) -> str:
        """A past hygiene visit: completed mostly; sometimes broken (and rebooked)."""
        rng = self.rng
        booked = self._before(when, 30 if new else 170)
        draw = rng.random()
        if not new and draw < 0.05:
            outcome = "UnschedList" if draw < 0.015 else "Broken"
            self._appointment(patient, when, "hygiene", perio=perio, booked=booked, outcome=outcome)
            return "rebook" if outcome == "Broken" else "lost"
        index = self._appointment(
            patient, when, "new" if new else "hygiene", perio=perio, booked=booked
        )
        if rng.random() < 0.02:
            self._pt_note(patient, when)
        if rng.random() < (0.5 if new else 0.2):
            self._treatment(patient, when, index)
        return "complete"

    def _treatment(self, patient: dict[str, Any], exam: datetime, exam_index: int) -> None:
        """Findings at an exam: treatment done later, booked, planned or left as a plan."""
        rng = self.rng
        codes = [rng.pick(_TREATMENT_CODES, _TREATMENT_CUM) for _ in range(rng.randint(1, 3))]
        fate = rng.random()
        planned_on = exam.date()
        if fate < 0.55:
            when = self._slot(planned_on + timedelta(days=rng.randint(7, 45)))
            booked = min(exam + timedelta(minutes=50), self.now)
            delete = rng.random() < 0.03 and when <= self.now  # booked, then deleted
            self._appointment(
                patient, when, "treatment", codes=codes, booked=booked, dx=planned_on, delete=delete
            )
            return
        if fate < 0.67:  # a Planned appointment; half of them get scheduled from it
            when = datetime.combine(planned_on, time(0, 0))
            plan = self._appointment(
                patient, when, "planned", codes=codes, booked=exam, dx=planned_on
            )
            if rng.random() < 0.5:
                later = self._slot(planned_on + timedelta(days=rng.randint(10, 60)))
                booked = exam + timedelta(days=rng.randint(1, 9))
                self._appointment(
                    patient, later, "treatment", codes=codes, booked=booked, from_plan=plan
                )
            return
        for code in codes:
            status = "TP"
            if fate > 0.93:
                status = "TPi"
            if fate > 0.97:
                status = "D"
            if code == "D7240" and rng.random() < 0.5:
                status = "R"
            self._procedure(patient, code, status, planned_on, exam, dentist=True)

    # -- rows ----------------------------------------------------------------------------
    def _appointment(
        self,
        patient: dict[str, Any],
        when: datetime,
        kind: str,
        *,
        booked: datetime,
        perio: bool = False,
        codes: list[str] | None = None,
        dx: date | None = None,
        delete: bool = False,
        outcome: str | None = None,
        from_plan: int = 0,
    ) -> int:
        """Add an appointment of ``kind`` (new, hygiene, treatment, planned) with its procs;
        past ones are Complete, future ones Scheduled. Returns its index."""
        rng = self.rng
        row = blank_appointment()
        index = len(self.apts) + 1
        past = when <= self.now and not delete  # a deleted one never took place
        dentist = self._dentist(patient, when)
        hygiene = kind in ("new", "hygiene")
        hygienist = self._hygienist(patient) if hygiene else 0
        clinic = patient["ClinicNum"]
        if kind == "new":
            codes = ["D0150", "D0210", "D1110" if self._adult(patient, when) else "D1120"]
        elif kind == "hygiene":
            adult = self._adult(patient, when)
            codes = ["D0180" if perio and rng.random() < 0.3 else "D0120"]
            codes.append("D4910" if perio else "D1110" if adult else "D1120")
            if rng.random() < 0.5:
                codes.append("D0274")
            if not adult:
                codes.append("D1206")
            if perio:
                codes = codes[1:] if rng.random() < 0.5 else codes
        codes = codes or []  # every kind sets or receives its codes
        status = "Planned" if kind == "planned" else "Complete" if past else "Scheduled"
        minutes = max(30, sum(PROC_CODES[c].minutes for c in codes))
        minutes = (minutes + 9) // 10 * 10
        slots = minutes // 5
        pattern = "/" + "X" * (slots - 2) + "/"
        op = 0
        if status != "Planned":
            ops = self._ops.get((clinic, hygiene))
            if ops is None:
                ops = self._ops[(clinic, hygiene)] = self.ref.ops_for(clinic, hygiene)
            op = rng.choice(ops)["OperatoryNum"] if ops else 0
        type_name = {"new": "New Patient", "hygiene": "Perio Maintenance" if perio else "Recall"}
        type_num = APPOINTMENT_TYPE_NUMS.get(type_name.get(kind, "Restorative"), 0)
        if rng.random() < 0.35:
            type_num = 0
        entered = min(booked, when, self.now) if status != "Planned" else booked
        stamp = self._stamp_for(when, past, entered)
        if delete:
            stamp = fmt_datetime(entered + timedelta(minutes=rng.randint(1, 30)))
        confirmed = self._confirmation(when, past)
        values = {
            "AptNum": index,
            "PatNum": patient["PatNum"],
            "AptStatus": status,
            "Pattern": pattern,
            "Confirmed": self.ref.confirmed.get(confirmed, 0),
            "confirmed": confirmed if confirmed in self.ref.confirmed else "",
            "Op": op,
            "Note": rng.choice(_NOTES),
            "ProvNum": dentist,
            "provAbbr": self.ref.prov_abbr(dentist),
            "ProvHyg": hygienist,
            "AptDateTime": fmt_datetime(when),
            "IsNewPatient": "true" if kind == "new" else "false",
            "ProcDescript": ", ".join(PROC_CODES[c].abbr for c in codes),
            "ClinicNum": clinic,
            "IsHygiene": "true" if hygiene and rng.random() < 0.8 else "false",
            "DateTStamp": stamp,
            "AppointmentTypeNum": type_num,
            "SecUserNumEntry": rng.randint(1, 5),
            "SecDateTEntry": fmt_datetime(entered),
            "PatternSecondary": "/" * slots if rng.random() < 0.3 else "",
            "ItemOrderPlanned": 1 if status == "Planned" else 0,
            "NextAptNum": from_plan,
        }
        if status == "Complete":
            values["DateTimeArrived"] = fmt_datetime(when - timedelta(minutes=rng.randint(0, 15)))
            values["DateTimeSeated"] = fmt_datetime(when + timedelta(minutes=rng.randint(0, 10)))
            values["DateTimeDismissed"] = fmt_datetime(when + timedelta(minutes=minutes))
            values["DateTimeAskedToArrive"] = fmt_datetime(when - timedelta(minutes=10))
            if rng.random() < 0.65:
                values["InsPlan1"] = rng.randint(1, 400)
                if rng.random() < 0.12:
                    values["InsPlan2"] = rng.randint(1, 400)
        if outcome is not None:  # broken: no visit, no insurance; on the book or unscheduled
            for name in ("DateTimeArrived", "DateTimeSeated", "DateTimeDismissed", "InsPlan1"):
                values.pop(name, None)
            values.pop("InsPlan2", None)
            values["AptStatus"] = outcome
            if outcome == "UnschedList":
                name, num = rng.choice(list(self.ref.unsched.items()) or [("", 0)])
                values.update({"Op": 0, "UnschedStatus": num, "unschedStatus": name})
        for name, value in values.items():
            row[APT[name]] = value
        deleted_at = None
        if delete:
            deleted_at = fmt_datetime(min(entered + timedelta(days=rng.randint(1, 5)), self.now))
            row[APT["AptStatus"]] = "Scheduled"
        self.apts.append(_Entry(fmt_datetime(entered), row, deleted_at))
        self.patient_apts.append(index)
        if deleted_at is not None:
            self.hist.append((deleted_at, "Deleted", index, list(row)))
        elif (self.now - entered).days <= RECENT_HISTORY_DAYS:
            self.hist.append((fmt_datetime(entered), "Created", index, self._as_created(row)))
        if outcome is not None:
            missed = rng.random() < 0.6
            self.hist.append((stamp, "Missed" if missed else "Cancelled", index, list(row)))
            code = "D9986" if missed else "D9987"
            self._procedure(patient, code, "C", when.date(), when, dentist=True, prov=dentist)
            if outcome == "Broken":  # its procedures moved to the rebooked visit
                return index
        elif status == "Complete" and (self.now - when).days <= RECENT_HISTORY_DAYS:
            self.hist.append((stamp, "Changed", index, list(row)))
        proc_status = "C" if status == "Complete" and outcome is None else "TP"
        if from_plan:  # scheduled from a Planned appointment: its procedures move here
            for proc in self.patient_procs:
                if proc[PROC["PlannedAptNum"]] == from_plan and not proc[PROC["AptNum"]]:
                    proc[PROC["AptNum"]] = index
                    proc[PROC["ProcStatus"]] = proc_status
                    proc[PROC["ProcDate"]] = proc[PROC["DateEntryC"]] = fmt_date(when.date())
                    proc[PROC["DateTStamp"]] = max(proc[PROC["DateTStamp"]], stamp)
            return index
        for code in codes:
            hygiene_work = code in ("D1110", "D1120", "D4910", "D0274", "D1206", "D0210")
            self._procedure(
                patient,
                code,
                proc_status,
                when.date(),
                entered,
                dentist=not hygiene_work,
                prov=hygienist if hygiene_work and hygienist else dentist,
                apt=0 if status == "Planned" or delete else index,
                planned=index if status == "Planned" else 0,
                planned_on=dx,
                stamp=deleted_at or stamp,
            )
        if kind == "new" and past:
            self._existing_work(patient, when, dentist)
        return index

    def _procedure(
        self,
        patient: dict[str, Any],
        code: str,
        status: str,
        day: date,
        entered: datetime,
        *,
        dentist: bool,
        prov: int = 0,
        apt: int = 0,
        planned: int = 0,
        planned_on: date | None = None,
        stamp: str | None = None,
    ) -> None:
        rng = self.rng
        entered_text = fmt_datetime(entered)
        prov = prov or self._dentist(patient, entered)
        area = PROC_CODES[code].area
        tooth, surf = "", ""
        if area in ("tooth", "surf"):
            teeth = _ANTERIOR if code in ("D2330", "D2331", "D3310") else _POSTERIOR
            tooth = str(rng.choice(teeth))
        if area == "surf":
            two = code in ("D2150", "D2331", "D2392")
            surf = rng.choice(("MO", "DO", "OB", "OL")) if two else rng.choice("OMDBL")
        elif area == "quad":
            surf = rng.choice(("UR", "UL", "LR", "LL"))
        row = self.book.procedure_row(
            pat_num=patient["PatNum"],
            code=code,
            status=status,
            day=day,
            prov_num=prov,
            clinic_num=patient["ClinicNum"],
            stamp=stamp or self._stamp_for(datetime.combine(day, time(17)), True, entered),
            apt_num=apt,
            planned_apt_num=planned,
            date_tp=planned_on or (entered.date() if status != "C" else day),
            tooth=tooth,
            surf=surf,
            entry=entered_text,
        )
        self.procs.append(_Entry(entered_text, row))
        self.patient_procs.append(row)

    def _existing_work(self, patient: dict[str, Any], when: datetime, dentist: int) -> None:
        """Work charted at a first visit: done elsewhere (EO), here before (EC), conditions."""
        rng = self.rng
        for _ in range(rng.choice((0, 0, 0, 1, 1, 2, 3))):
            code = rng.choice(("D2740", "D2750", "D2391", "D2392", "D3330", "D6010"))
            status = rng.pick(("EO", "EC", "Cn"), (80, 90, 100))
            day = when.date() - timedelta(days=rng.randint(200, 4000))
            stamp = fmt_datetime(min(when + timedelta(minutes=rng.randint(20, 90)), self.now))
            self._procedure(
                patient, code, status, day, when, dentist=True, prov=dentist, stamp=stamp
            )

    def _pt_note(self, patient: dict[str, Any], when: datetime) -> None:
        """A note on the schedule (PtNote): not a visit."""
        row = blank_appointment()
        index = len(self.apts) + 1
        day = when + timedelta(days=self.rng.randint(1, 20))
        note_time = day.replace(hour=7, minute=30)
        done = note_time <= self.now
        values = {
            "AptNum": index,
            "PatNum": patient["PatNum"],
            "AptStatus": "PtNoteCompleted" if done and self.rng.random() < 0.5 else "PtNote",
            "Pattern": "//",
            "Note": self.rng.choice(("Call pt re: insurance", "Pt to bring new card")),
            "ProvNum": patient["PriProv"],
            "provAbbr": self.ref.prov_abbr(patient["PriProv"]),
            "AptDateTime": fmt_datetime(note_time),
            "ClinicNum": patient["ClinicNum"],
            "DateTStamp": fmt_datetime(min(when + timedelta(hours=1), self.now)),
            "SecDateTEntry": fmt_datetime(min(when + timedelta(hours=1), self.now)),
            "SecUserNumEntry": 2,
        }
        for name, value in values.items():
            row[APT[name]] = value
        ops = self.ref.ops_for(patient["ClinicNum"], False)
        row[APT["Op"]] = ops[0]["OperatoryNum"] if ops else 0
        self.apts.append(_Entry(values["SecDateTEntry"], row))

    # -- choices -------------------------------------------------------------------------
    def _adult(self, patient: dict[str, Any], when: datetime) -> bool:
        birth = patient["Birthdate"]
        return birth == NO_DATE or (when.date() - date.fromisoformat(birth)).days >= 14 * 365

    def _dentist(self, patient: dict[str, Any], when: datetime | date) -> int:
        day = when.date() if isinstance(when, datetime) else when
        if self.retired and (self.today - day).days > 700 and self.rng.random() < 0.3:
            return self.rng.choice(self.retired).num
        prov: int = patient["PriProv"]
        if prov in self.dentist_nums:
            return prov
        return self.dentists[0].num if self.dentists else 0

    def _hygienist(self, patient: dict[str, Any]) -> int:
        prov: int = patient["SecProv"]
        if prov in self.hygienist_nums:
            return prov
        return self.rng.choice(self.hygienists).num if self.hygienists else 0

    def _time(self) -> time:
        slot = self.rng.randint(0, 50)
        return time(8 + slot // 6, (slot % 6) * 10)

    def _slot(self, day: date) -> datetime:
        """A working-day time on ``day`` (weekends move to Monday)."""
        if day.weekday() >= 5:
            day += timedelta(days=7 - day.weekday())
        return datetime.combine(day, self._time())

    def _before(self, when: datetime, days: int) -> datetime:
        booked = when - timedelta(days=self.rng.randint(1, days), minutes=self.rng.randint(0, 600))
        return min(booked, self.now)

    def _booked_after(self, last_visit: date, when: datetime) -> datetime:
        """Booked at the end of the last visit (most) or by phone since."""
        if self.rng.random() < 0.7:
            booked = datetime.combine(last_visit, time(16, self.rng.randint(0, 59)))
        else:
            booked = when - timedelta(days=self.rng.randint(3, 60))
        return min(booked, self.now)

    def _stamp_for(self, when: datetime, past: bool, entered: datetime) -> str:
        """Last change: the visit's day for past ones, since booking for future ones."""
        if past:
            moment = when + timedelta(minutes=self.rng.randint(60, 600))
        else:
            span = max(1, int((self.now - entered).total_seconds()))
            moment = entered + timedelta(seconds=self.rng.randint(0, span))
        return fmt_datetime(min(moment, self.now))

    def _confirmation(self, when: datetime, past: bool) -> str:
        rng = self.rng
        if past:
            return rng.pick(_PAST_CONFIRMED, (70, 85, 95, 100))
        days = (when.date() - self.today).days
        if days <= 2:
            return rng.pick(_SOON_CONFIRMED, (40, 55, 70, 85, 100))
        return rng.pick(("Not Called", "Unconfirmed", "E-mailed"), (70, 90, 100))

    @staticmethod
    def _as_created(row: Row) -> Row:
        created = list(row)
        if created[APT["AptStatus"]] == "Complete":
            created[APT["AptStatus"]] = "Scheduled"
            for name in ("DateTimeArrived", "DateTimeSeated", "DateTimeDismissed"):
                created[APT[name]] = "0001-01-01 00:00:00"
        created[APT["DateTStamp"]] = created[APT["SecDateTEntry"]]
        return created

    # -- numbering -----------------------------------------------------------------------
    def finish(self) -> VisitBook:
        """Number rows in the order they were entered and load them into the book."""
        order = sorted(range(len(self.apts)), key=lambda i: (self.apts[i].entered, i))
        apt_nums = [0] * (len(self.apts) + 1)
        for number, i in enumerate(order, start=1):
            apt_nums[i + 1] = number
        book = self.book
        for i in order:
            entry = self.apts[i]
            entry.row[APT["AptNum"]] = apt_nums[i + 1]
            entry.row[APT["NextAptNum"]] = apt_nums[entry.row[APT["NextAptNum"]]]
            if entry.deleted_at is None:
                book.appointments[apt_nums[i + 1]] = entry.row
        proc_order = sorted(range(len(self.procs)), key=lambda i: (self.procs[i].entered, i))
        for number, i in enumerate(proc_order, start=1):
            row = self.procs[i].row
            row[PROC["ProcNum"]] = number
            row[PROC["AptNum"]] = apt_nums[row[PROC["AptNum"]]]
            row[PROC["PlannedAptNum"]] = apt_nums[row[PROC["PlannedAptNum"]]]
            book.procedures[number] = row
        events = sorted(self.hist, key=lambda h: (h[0], apt_nums[h[2]]))
        for number, (stamp, action, index, snapshot) in enumerate(events, start=1):
            snapshot[APT["AptNum"]] = apt_nums[index]
            snapshot[APT["NextAptNum"]] = apt_nums[snapshot[APT["NextAptNum"]]]
            source = "EConnector" if action == "Created" and index % 11 == 0 else "None"
            book.hist.append([number, 1 + index % 4, stamp, action, source, *snapshot])
        book.reindex()
        return book


def generate_visits(
    patients: Iterable[dict[str, Any]],
    reference: Reference,
    seed: int,
    clock: Callable[[], datetime] = datetime.now,
    now: datetime | None = None,
    years: int = HISTORY_YEARS,
) -> VisitBook:
    """The visit history of ``patients`` (API records), identical for the same seed and now."""
    builder = HistoryBuilder(reference, seed, now or clock(), clock, years)
    for patient in patients:
        builder.add_patient(patient)
    return builder.finish()
