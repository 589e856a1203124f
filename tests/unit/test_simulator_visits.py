"""The simulated visit history: reproducible, realistic, and kept consistent by the front desk."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta

import pytest

from odbridge.simulator.generate import generate_practice
from odbridge.simulator.visit_shape import APT, PROC, RECALL, RECALL_TYPES, add_interval
from odbridge.simulator.visits import VisitBook
from odbridge.simulator.visits_state import PracticeVisits

pytestmark = pytest.mark.unit

NOW = datetime(2026, 6, 15, 11, 30, 0)


def make(
    patients: int = 600, seed: int = 5, visit_seed: int | None = None
) -> tuple[PracticeVisits, VisitBook]:
    practice = generate_practice(patients, seed, clock=lambda: NOW)
    visits = PracticeVisits.start(practice, seed if visit_seed is None else visit_seed)
    return visits, visits.book()


@pytest.fixture(scope="module")
def world() -> tuple[PracticeVisits, VisitBook]:
    return make()


def test_same_seed_and_time_give_the_same_history() -> None:
    _, first = make(150, 5)
    _, second = make(150, 5)
    _, other = make(150, 5, visit_seed=6)
    assert first.appointments == second.appointments
    assert first.procedures == second.procedures
    assert first.recalls == second.recalls
    assert first.hist == second.hist
    assert first.appointments != other.appointments


def test_every_status_is_present(world: tuple[PracticeVisits, VisitBook]) -> None:
    _, book = world
    statuses = Counter(a[APT["AptStatus"]] for a in book.appointments.values())
    for status in ("Complete", "Scheduled", "Planned", "Broken", "UnschedList", "PtNote"):
        assert statuses[status] > 0, status
    assert statuses["Complete"] > statuses["Scheduled"] > statuses["Broken"]
    procs = Counter(p[PROC["ProcStatus"]] for p in book.procedures.values())
    for status in ("TP", "C", "EC", "EO", "D", "TPi", "Cn"):
        assert procs[status] > 0, status
    actions = Counter(h[3] for h in book.hist)
    for action in ("Created", "Changed", "Missed", "Cancelled", "Deleted"):
        assert actions[action] > 0, action


def test_most_active_patients_come_every_six_months(
    world: tuple[PracticeVisits, VisitBook],
) -> None:
    visits, book = world
    since = (NOW - timedelta(days=730)).strftime("%Y-%m-%d")
    hygiene = Counter(
        a[APT["PatNum"]]
        for a in book.appointments.values()
        if a[APT["AptStatus"]] == "Complete"
        and a[APT["AptDateTime"]] >= since
        and ("Pro" in a[APT["ProcDescript"]] or "PMaint" in a[APT["ProcDescript"]])
    )
    long_standing = [
        p["PatNum"]
        for p in visits.patients
        if p["PatStatus"] == "Patient" and "0001" < p["DateFirstVisit"] < "2024-01-01"
    ]
    regular = [n for n in long_standing if hygiene[n] >= 3]
    lapsed = [n for n in long_standing if hygiene[n] == 0]
    assert len(regular) > len(long_standing) / 2
    assert lapsed, "some patients stopped coming"


def test_new_patients_every_month_on_their_first_visit(
    world: tuple[PracticeVisits, VisitBook],
) -> None:
    visits, book = world
    first_visit = {p["PatNum"]: p["DateFirstVisit"] for p in visits.patients}
    new = [a for a in book.appointments.values() if a[APT["IsNewPatient"]] == "true"]
    past_new = [a for a in new if a[APT["AptStatus"]] == "Complete"]
    for apt in past_new:
        assert apt[APT["AptDateTime"]][:10] == first_visit[apt[APT["PatNum"]]]
    months = {a[APT["AptDateTime"]][:7] for a in past_new}
    day = NOW.date().replace(day=1)
    for _ in range(12):
        day = (day - timedelta(days=1)).replace(day=1)
        assert day.strftime("%Y-%m") in months


def test_procedures_point_to_their_appointments(world: tuple[PracticeVisits, VisitBook]) -> None:
    _, book = world
    deleted_apts = {h[5] for h in book.hist if h[3] == "Deleted"}
    for proc in book.procedures.values():
        apt_num, planned = proc[PROC["AptNum"]], proc[PROC["PlannedAptNum"]]
        if apt_num:
            apt = book.appointments[apt_num]
            assert apt[APT["PatNum"]] == proc[PROC["PatNum"]]
            assert apt[APT["AptStatus"]] != "Planned"
        if planned:
            assert book.appointments[planned][APT["AptStatus"]] == "Planned"
        if proc[PROC["ProcStatus"]] == "D":
            assert apt_num == 0
            assert planned == 0
        if proc[PROC["ProcStatus"]] == "C":
            assert proc[PROC["ProcDate"]] <= NOW.strftime("%Y-%m-%d")
        assert apt_num not in deleted_apts
        assert float(proc[PROC["ProcFee"]]) >= 0
        assert proc[PROC["ProcFee"]].count(".") == 1


def test_numbers_grow_with_time_and_no_stamp_is_in_the_future(
    world: tuple[PracticeVisits, VisitBook],
) -> None:
    _, book = world
    now = NOW.strftime("%Y-%m-%d %H:%M:%S")
    entries = [book.appointments[n][APT["SecDateTEntry"]] for n in sorted(book.appointments)]
    assert entries == sorted(entries)
    for table, index in (
        (book.appointments, APT["DateTStamp"]),
        (book.procedures, PROC["DateTStamp"]),
        (book.recalls, RECALL["DateTStamp"]),
    ):
        assert all(row[index] <= now for row in table.values())
    assert [h[0] for h in book.hist] == list(range(1, len(book.hist) + 1))
    assert [h[2] for h in book.hist] == sorted(h[2] for h in book.hist)


def test_recalls_follow_the_hygiene(world: tuple[PracticeVisits, VisitBook]) -> None:
    _, book = world
    types = {t.num: t for t in RECALL_TYPES}
    today = NOW.strftime("%Y-%m-%d")
    disabled = 0
    for recall in book.recalls.values():
        kind = types[recall[RECALL["RecallTypeNum"]]]
        if recall[RECALL["IsDisabled"]] == "true":
            disabled += 1
            assert recall[RECALL["DateDue"]] == "0001-01-01"
            continue
        previous = recall[RECALL["DatePrevious"]]
        if previous != "0001-01-01":
            due = add_interval(date.fromisoformat(previous), kind.months, kind.days)
            assert recall[RECALL["DateDue"]] == due.isoformat()
        scheduled = recall[RECALL["DateScheduled"]]
        if scheduled != "0001-01-01":
            assert scheduled >= today
    assert disabled > 0
    assert {r[RECALL["RecallTypeNum"]] for r in book.recalls.values()} >= {1, 3, 4}


def test_deleting_an_appointment_leaves_a_history_row_and_unlinks_procedures() -> None:
    _, book = make(120, 5)
    apt_num = next(n for n, a in book.appointments.items() if a[APT["AptStatus"]] == "Scheduled")
    procs = book.procs_of(apt_num)
    assert procs
    later = NOW + timedelta(minutes=5)
    book.clock = lambda: later
    book.delete_appointment(apt_num)
    assert apt_num not in book.appointments
    last = book.hist[-1]
    assert last[3] == "Deleted"
    assert last[5] == apt_num
    assert last[2] == "2026-06-15 11:35:00"
    for proc in procs:
        assert proc[PROC["AptNum"]] == 0
        assert proc[PROC["DateTStamp"]] == "2026-06-15 11:35:00"
        assert proc[PROC["ProcStatus"]] == "TP"


def test_completing_moves_procedures_and_recalls() -> None:
    _, book = make(200, 5)
    apt_num, apt = next(
        (n, a)
        for n, a in book.appointments.items()
        if a[APT["AptStatus"]] == "Scheduled" and "Pro" in a[APT["ProcDescript"]]
    )
    pat_num = apt[APT["PatNum"]]
    book.clock = lambda: NOW + timedelta(minutes=1)
    book.complete_appointment(apt_num)
    assert apt[APT["AptStatus"]] == "Complete"
    assert all(p[PROC["ProcStatus"]] == "C" for p in book.procs_of(apt_num))
    recalls = [r for r in book.recalls_of(pat_num) if r[RECALL["RecallTypeNum"]] in (1, 2, 3)]
    assert recalls[0][RECALL["DatePrevious"]] == apt[APT["AptDateTime"]][:10]
    assert recalls[0][RECALL["DateScheduled"]] == "0001-01-01" or (
        recalls[0][RECALL["DateScheduled"]] > apt[APT["AptDateTime"]][:10]
    )
    assert book.hist[-1][3] == "Changed"


def test_breaking_and_deleting_a_procedure() -> None:
    _, book = make(120, 5)
    scheduled = [n for n, a in book.appointments.items() if a[APT["AptStatus"]] == "Scheduled"]
    book.break_appointment(scheduled[0], unscheduled=False)
    book.break_appointment(scheduled[1], unscheduled=True, missed=False)
    assert book.appointments[scheduled[0]][APT["AptStatus"]] == "Broken"
    moved = book.appointments[scheduled[1]]
    assert moved[APT["AptStatus"]] == "UnschedList"
    assert moved[APT["Op"]] == 0
    assert moved[APT["unschedStatus"]] != ""
    assert [h[3] for h in book.hist[-2:]] == ["Missed", "Cancelled"]
    codes = [p[PROC["procCode"]] for p in list(book.procedures.values())[-2:]]
    assert codes == ["D9986", "D9987"]
    with pytest.raises(ValueError, match="Scheduled"):
        book.break_appointment(scheduled[0], unscheduled=False)
    proc_num = book.procs_of(scheduled[2])[0][PROC["ProcNum"]]
    proc = book.delete_procedure(proc_num)
    assert proc[PROC["ProcStatus"]] == "D"
    assert proc[PROC["AptNum"]] == 0
    assert proc_num in book.procedures


def test_appointments_scheduled_from_a_plan_point_back_to_it(
    world: tuple[PracticeVisits, VisitBook],
) -> None:
    _, book = world
    from_plan = [a for a in book.appointments.values() if a[APT["NextAptNum"]]]
    assert from_plan
    for apt in from_plan:
        plan = book.appointments[apt[APT["NextAptNum"]]]
        assert plan[APT["AptStatus"]] == "Planned"
        assert plan[APT["PatNum"]] == apt[APT["PatNum"]]
        procs = [p for p in book.procs_of(apt[APT["AptNum"]]) if p[PROC["AptNum"]]]
        assert procs
        assert {p[PROC["PlannedAptNum"]] for p in procs} == {plan[APT["AptNum"]]}
