"""A seeded visit history written straight into the store (no HTTP), as a sync leaves it.

For the KPI tests and the visits benchmark: patients (the simulator's generator, via
``fill_store``), then reference tables, appointments in every status, procedures with fees in
every status, and recalls, all relative to ``now``. Regular patients come every six months and
most have their next visit booked; lapsed ones stopped coming; some never came.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, insert, select

from odbridge.store.schema import patients
from odbridge.store.schema_visits import (
    appointments,
    clinics,
    definitions,
    operatories,
    procedure_logs,
    providers,
    recall_types,
    recalls,
)
from tests.helpers import bulk_insert, fill_store

EXAM = ("D0120", Decimal("55.00"))
PROPHY = ("D1110", Decimal("95.00"))
BITEWINGS = ("D0274", Decimal("65.00"))
TREATMENT = (
    ("D2391", Decimal("180.00")),
    ("D2740", Decimal("1150.00")),
    ("D3330", Decimal("980.00")),
    ("D7140", Decimal("210.00")),
)
CONFIRMATIONS = (
    (19, "Not Called"),
    (20, "Unconfirmed"),
    (21, "Appointment Confirmed"),
    (22, "Left Msg"),
)
PROVIDERS = ((1, "DOC1", False), (2, "DOC2", False), (3, "HYG1", True), (4, "HYG2", True))
BATCH = 5000


def _bk(now: datetime) -> dict[str, Any]:
    return {"row_hash": "seed", "first_seen_at": now, "last_synced_at": now}


def _insert(engine: Engine, table: Any, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    batch: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                bulk_insert(connection, table, batch)
                count += len(batch)
                batch = []
        bulk_insert(connection, table, batch)
        count += len(batch)
    return count


def fill_reference(engine: Engine, practice: str, now: datetime) -> None:
    """Providers (two dentists, two hygienists), two clinics, confirmation statuses, four
    operatories, the Prophy and Perio recall types."""
    bk = {"practice": practice, **_bk(now)}
    with engine.begin() as connection:
        connection.execute(
            insert(providers),
            [
                {
                    **bk,
                    "prov_num": n,
                    "abbr": a,
                    "lname": f"Prov{n}",
                    "is_secondary": h,
                    "is_hidden": False,
                    "prov_status": "Active",
                }
                for n, a, h in PROVIDERS
            ],
        )
        connection.execute(
            insert(clinics),
            [
                {**bk, "clinic_num": n, "abbr": a, "description": a, "is_hidden": False}
                for n, a in ((1, "MAIN"), (2, "WEST"))
            ],
        )
        connection.execute(
            insert(definitions),
            [
                {
                    **bk,
                    "def_num": n,
                    "item_name": name,
                    "category": 2,
                    "category_name": "ApptConfirmed",
                    "is_hidden": False,
                }
                for n, name in CONFIRMATIONS
            ],
        )
        connection.execute(
            insert(operatories),
            [
                {
                    **bk,
                    "operatory_num": n,
                    "op_name": f"Op {n}",
                    "is_hygiene": n > 2,
                    "is_hidden": False,
                    "item_order": n,
                }
                for n in range(1, 5)
            ],
        )
        connection.execute(
            insert(recall_types),
            [
                {**bk, "recall_type_num": 1, "description": "Prophy", "default_interval": "6m"},
                {**bk, "recall_type_num": 2, "description": "Perio", "default_interval": "3m"},
            ],
        )


def fill_visits(
    engine: Engine,
    practice: str,
    count: int,
    *,
    now: datetime,
    seed: int = 1,
    visits_per_patient: int = 10,
    treatment_per_visit: float = 0.15,
) -> dict[str, int]:
    """Patients, reference tables, appointments, procedures and recalls for ``practice``;
    a completed hygiene visit has ``treatment_per_visit`` treatment procedures on average
    (beside the exam, prophy and half the time bitewings)."""
    fill_store(engine, practice, count, seed)
    fill_reference(engine, practice, now)
    with engine.connect() as connection:
        people = connection.execute(
            select(patients.c.pat_num, patients.c.pat_status).where(patients.c.practice == practice)
        ).all()
    rng = random.Random(seed)
    plans = [(int(n), status, rng.random(), rng.random()) for n, status in people]
    counters = {"appointments": 0, "procedures": 0, "recalls": 0}
    apt_rows: list[dict[str, Any]] = []
    proc_rows: list[dict[str, Any]] = []
    recall_rows: list[dict[str, Any]] = []
    apt_num = proc_num = 0
    bk = {"practice": practice, **_bk(now)}

    def appointment(pat: int, when: datetime, status: str, hyg: bool, **more: Any) -> int:
        nonlocal apt_num
        apt_num += 1
        confirm = CONFIRMATIONS[rng.randrange(len(CONFIRMATIONS))]
        prov = 3 if hyg and rng.random() < 0.5 else (4 if hyg else 1 + pat % 2)
        apt_rows.append(
            {
                **bk,
                "apt_num": apt_num,
                "pat_num": pat,
                "apt_status": status,
                "apt_date_time": when,
                "pattern": "/XX/" if hyg else "/XXXX/",
                "confirmed": confirm[0],
                "confirmed_name": confirm[1],
                "op": 3 if hyg else 1,
                "prov_num": prov,
                "prov_abbr": PROVIDERS[prov - 1][1],
                "prov_hyg": 3 if hyg else None,
                "is_hygiene": hyg,
                "is_new_patient": False,
                "clinic_num": 1 + pat % 2,
                "date_tstamp": min(when, now),
                "priority": "Normal",
                **more,
            }
        )
        return apt_num

    def procedure(
        pat: int,
        code: tuple[str, Decimal],
        day: date,
        status: str,
        apt: int | None,
        units: tuple[int, int] = (1, 0),
    ) -> None:
        nonlocal proc_num
        proc_num += 1
        prov = 1 + pat % 2
        proc_rows.append(
            {
                **bk,
                "proc_num": proc_num,
                "pat_num": pat,
                "apt_num": apt,
                "proc_date": day,
                "proc_fee": code[1],
                "proc_status": status,
                "prov_num": prov,
                "prov_abbr": PROVIDERS[prov - 1][1],
                "proc_code": code[0],
                "descript": code[0],
                "unit_qty": units[0],
                "base_units": units[1],
                "date_tp": day,
                "clinic_num": 1 + pat % 2,
                "date_tstamp": now,
            }
        )

    def flush(final: bool = False) -> None:
        for table, rows, name in (
            (appointments, apt_rows, "appointments"),
            (procedure_logs, proc_rows, "procedures"),
            (recalls, recall_rows, "recalls"),
        ):
            if rows and (final or len(rows) >= BATCH):
                counters[name] += _insert(engine, table, iter(rows))
                rows.clear()

    span_days = 182 * visits_per_patient
    tomorrow_share = min(0.1, 40 / max(count, 1))
    for pat, status, kind, extra in plans:
        if kind < 0.08:  # never came
            continue
        lapsed = kind > 0.82 or status not in ("Patient",)
        start = now - timedelta(days=int(span_days * (0.3 + 0.7 * extra)) + 30)
        stop = now - timedelta(days=400 + int(600 * extra)) if lapsed else now
        when = datetime.combine(start.date(), time(8 + pat % 9, 0))
        last_hyg: date | None = None
        first = True
        while when < stop:
            broken = rng.random() < 0.05
            apt_status = "Broken" if broken else "Complete"
            apt = appointment(pat, when, apt_status, True, is_new_patient=first)
            if not broken:
                for code in (EXAM, PROPHY) + ((BITEWINGS,) if rng.random() < 0.5 else ()):
                    procedure(pat, code, when.date(), "C", apt)
                extra_treatment = int(treatment_per_visit)
                if rng.random() < treatment_per_visit - extra_treatment:
                    extra_treatment += 1
                for _ in range(extra_treatment):
                    procedure(
                        pat,
                        TREATMENT[rng.randrange(4)],
                        when.date(),
                        "C",
                        apt,
                        (1, rng.choice((0, 1))),
                    )
                last_hyg = when.date()
                first = False
            when += timedelta(days=182 + rng.randrange(-20, 40))
        booked: datetime | None = None
        if not lapsed and rng.random() < 0.75:
            booked = datetime.combine(
                (now + timedelta(days=1 + rng.randrange(150))).date(), time(9 + pat % 8, 30)
            )
            if rng.random() < tomorrow_share:  # some are tomorrow (a day's worth)
                booked = datetime.combine(now.date() + timedelta(days=1), time(8 + pat % 9, 0))
            appointment(pat, booked, "Scheduled", True)
        if rng.random() < 0.03:
            appointment(
                pat, now - timedelta(days=rng.randrange(1, 60)), "UnschedList", False, op=None
            )
        if rng.random() < 0.03:
            appointment(pat, now + timedelta(days=rng.randrange(1, 60)), "Planned", False, op=None)
        if rng.random() < 0.25:  # treatment planned; a third of it booked
            for _ in range(1 + rng.randrange(3)):
                on = apt_num if booked is not None and rng.random() < 0.33 else None
                procedure(
                    pat,
                    TREATMENT[rng.randrange(4)],
                    now.date() - timedelta(days=rng.randrange(300)),
                    "TP",
                    on,
                )
            if rng.random() < 0.2:
                procedure(pat, TREATMENT[0], now.date(), "TPi", None)
            if rng.random() < 0.1:
                procedure(pat, TREATMENT[1], now.date(), "D", None)
        if last_hyg is not None:
            disabled = rng.random() < 0.05
            recall_rows.append(
                {
                    **bk,
                    "recall_num": pat,
                    "pat_num": pat,
                    "recall_type_num": 1,
                    "date_previous": last_hyg,
                    "date_due": None if disabled else last_hyg + timedelta(days=183),
                    "date_scheduled": booked.date() if booked is not None else None,
                    "is_disabled": disabled,
                    "recall_interval": "6m1d",
                    "disable_until_date": now.date() + timedelta(days=30)
                    if rng.random() < 0.02
                    else None,
                }
            )
        flush()
    flush(final=True)
    return counters
