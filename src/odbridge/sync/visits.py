"""The visit resources, one :class:`~odbridge.sync.resources.Resource` each, and their order.

Strategy per resource (Open Dental's documentation and source):

=====================  ==========================================  =====================
resource               reads                                       rows it stops listing
=====================  ==========================================  =====================
providers              DateTStamp changes (hidden, merged incl.)   marked missing
clinics                everything each run (non-hidden only)       marked missing
definitions            everything, ``includeHidden=true``          marked missing
operatories            everything each run                         marked missing
appointment_types      everything each run                         marked missing
recall_types           everything each run                         marked missing
recalls                everything each run (no change filter)      marked missing
appointments           DateTStamp changes; full = the history      left (the listing is
                       window (``dateStart``)                      a window); deletions
                                                                   from histappointments
procedure_logs         DateTStamp changes; full = rows changed     left (never deleted:
                       within the window                           ProcStatus becomes D)
deleted_appointments   histappointments?HistApptAction=Deleted     left
=====================  ==========================================  =====================

Reference tables come first (so names resolve), then recalls, appointments, procedures, and
the deletions feed, which marks the deleted appointments ``missing_since``.

Patients' derived text follows the reference tables: provider and clinic abbreviations by
number (:func:`refresh_patient_names`), billing type names by rename, since the patient
record has the name and no DefNum (:func:`refresh_billing_types`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import Engine, Table, and_, case, func, select, update

from odbridge.api import models_visits as mv
from odbridge.api.client import Client
from odbridge.api.listing import Listing, PageParser, QueryValue
from odbridge.api.models import ApiModel
from odbridge.api.paging import Page
from odbridge.config import PracticeProfile
from odbridge.store import schema_visits as sv
from odbridge.store.runlog import RunLog, RunMode, RunOutcome, utcnow
from odbridge.store.schema import patients
from odbridge.sync.decode import PageDecoder
from odbridge.sync.engine import ResourceSync, RunSummary
from odbridge.sync.lock import practice_lock
from odbridge.sync.resources import Deletions, Resource
from odbridge.sync.rowform import RowForm, StoreRow
from odbridge.sync.state import StateRepository

__all__ = [
    "DEFAULT_HISTORY_YEARS",
    "DEFAULT_RELOAD_EVERY",
    "VisitOptions",
    "apply_deletions",
    "billing_type_names",
    "first_sync_estimate",
    "is_first_sync",
    "patient_count",
    "refresh_billing_types",
    "refresh_patient_names",
    "sync_practice_visits",
    "sync_visits",
    "visit_resources",
]

DEFAULT_HISTORY_YEARS = 3
"""Appointments (and procedures changed) this far back are read by a first sync."""


@dataclass(frozen=True)
class VisitOptions:
    """How far back a first visits sync reads."""

    history_years: int = DEFAULT_HISTORY_YEARS
    today: date | None = None

    @property
    def window_start(self) -> date:
        day = self.today or date.today()
        try:
            return day.replace(year=day.year - self.history_years)
        except ValueError:  # 29 February
            return day.replace(year=day.year - self.history_years, day=28)


FetchRows = Callable[[Client, int, int], Page[StoreRow]]
FetchChangedRows = Callable[[Client, str, int, int], Page[StoreRow]]


@dataclass(frozen=True)
class _Rows:
    """How one visit resource reads pages of store rows: each answer decoded straight into
    rows (:class:`~odbridge.sync.decode.PageDecoder`), through the models when a page has an
    unusual value."""

    form: RowForm
    model: type[ApiModel]
    listing: Callable[[Client], Listing[Any]]

    @cached_property
    def parse(self) -> PageParser[StoreRow]:
        """The page parser."""
        return PageDecoder(self.model, self.form).parse

    def pages(
        self, filters: Mapping[str, QueryValue] | None = None, *, since: datetime | None = None
    ) -> FetchRows:
        """Pages of the listing (``filters`` by the API's names; ``since``: changed since)."""
        return lambda client, offset, limit: self.listing(client).list_rows(
            self.parse, filters, changed_since=since, offset=offset, limit=limit
        )

    def changes(self) -> FetchChangedRows:
        """Pages of the rows changed since a cursor."""
        return lambda client, since, offset, limit: self.listing(client).list_rows(
            self.parse, changed_since=since, offset=offset, limit=limit
        )


def _full(rows: _Rows, name: str) -> Resource:
    return Resource(
        name=name,
        form=rows.form,
        fetch_page=rows.pages(),
        ordered_by_key=True,
        deletions=Deletions.MARK_MISSING,
    )


def visit_resources(options: VisitOptions | None = None) -> tuple[Resource, ...]:
    """Every visit resource, in the order a sync runs them."""
    options = options or VisitOptions()
    window = options.window_start
    window_stamp = datetime.combine(window, datetime.min.time())
    providers = _Rows(RowForm(sv.providers, "prov_num"), mv.Provider, lambda c: c.providers)
    appointments = _Rows(
        RowForm(sv.appointments, "apt_num"), mv.Appointment, lambda c: c.appointments
    )
    procedure_logs = _Rows(
        RowForm(sv.procedure_logs, "proc_num"), mv.ProcedureLog, lambda c: c.procedure_logs
    )
    definitions = _Rows(RowForm(sv.definitions, "def_num"), mv.Definition, lambda c: c.definitions)
    deleted = _Rows(
        RowForm(sv.deleted_appointments, "hist_appt_num"),
        mv.HistAppointment,
        lambda c: c.hist_appointments,
    )
    return (
        Resource(
            name="providers",
            form=providers.form,
            fetch_page=providers.pages(),
            fetch_changed=providers.changes(),
            ordered_by_key=True,  # GetChangedSinceForApi: ORDER BY ProvNum
            deletions=Deletions.MARK_MISSING,
        ),
        _full(_Rows(RowForm(sv.clinics, "clinic_num"), mv.Clinic, lambda c: c.clinics), "clinics"),
        Resource(
            name="definitions",
            form=definitions.form,
            fetch_page=definitions.pages({"includeHidden": True}),
            ordered_by_key=True,
            deletions=Deletions.MARK_MISSING,
        ),
        _full(
            _Rows(RowForm(sv.operatories, "operatory_num"), mv.Operatory, lambda c: c.operatories),
            "operatories",
        ),
        _full(
            _Rows(
                RowForm(sv.appointment_types, "appointment_type_num"),
                mv.AppointmentType,
                lambda c: c.appointment_types,
            ),
            "appointment_types",
        ),
        _full(
            _Rows(
                RowForm(sv.recall_types, "recall_type_num"), mv.RecallType, lambda c: c.recall_types
            ),
            "recall_types",
        ),
        _full(_Rows(RowForm(sv.recalls, "recall_num"), mv.Recall, lambda c: c.recalls), "recalls"),
        Resource(
            name="appointments",
            form=appointments.form,
            fetch_page=appointments.pages({"dateStart": window}),
            fetch_changed=appointments.changes(),
            ordered_by_key=False,  # ORDER BY AptDateTime, AptNum
            deletions=Deletions.IGNORE,  # a window; deletions come from histappointments
        ),
        Resource(
            name="procedure_logs",
            form=procedure_logs.form,
            fetch_page=procedure_logs.pages(since=window_stamp),
            fetch_changed=procedure_logs.changes(),
            ordered_by_key=False,  # ORDER BY ProcNum DESC
            deletions=Deletions.IGNORE,  # never deleted: ProcStatus D comes as a change
        ),
        Resource(
            name="deleted_appointments",
            form=deleted.form,
            fetch_page=deleted.pages({"HistApptAction": mv.HistApptAction.DELETED}),
            ordered_by_key=True,  # ORDER BY HistApptNum
            deletions=Deletions.IGNORE,
        ),
    )


def apply_deletions(store: Engine, practice: str, now: datetime) -> int:
    """Appointments deleted in Open Dental (histappointments "Deleted") get
    ``missing_since``; returns how many were newly marked."""
    a, d = sv.appointments, sv.deleted_appointments
    deleted = select(d.c.apt_num).where(d.c.practice == practice)
    with store.begin() as connection:
        result = connection.execute(
            update(a)
            .where(a.c.practice == practice, a.c.missing_since.is_(None), a.c.apt_num.in_(deleted))
            .values(missing_since=now)
        )
    return int(result.rowcount or 0)


DERIVED: tuple[tuple[str, str, Table, str, str], ...] = (
    ("pri_prov", "pri_prov_abbr", sv.providers, "prov_num", "abbr"),
    ("sec_prov", "sec_prov_abbr", sv.providers, "prov_num", "abbr"),
    ("clinic_num", "clinic_abbr", sv.clinics, "clinic_num", "abbr"),
)
"""Patients' derived text: (number column, text column, table, its key, its text)."""


def refresh_patient_names(store: Engine, practice: str) -> int:
    """Patients' provider and clinic abbreviations from the synced reference tables, where
    they differ (a provider renamed in Open Dental changes no patient's DateTStamp).
    Returns the patient rows changed."""
    p = patients.c
    changed = 0
    with store.begin() as connection:
        for number, text, table, key, name in DERIVED:
            names = dict(
                connection.execute(
                    select(table.c[key], table.c[name]).where(
                        table.c.practice == practice, table.c[name].is_not(None)
                    )
                ).all()
            )
            for num, abbr in names.items():
                result = connection.execute(
                    update(patients)
                    .where(
                        and_(
                            p.practice == practice,
                            p[number] == num,
                            (p[text].is_(None)) | (p[text] != abbr),
                        )
                    )
                    .values({text: abbr})
                )
                changed += int(result.rowcount or 0)
    return changed


BILLING_TYPES_CATEGORY = 4
"""Open Dental's definition category of billing types (``patient.BillingType``)."""


def billing_type_names(store: Engine, practice: str) -> dict[int, str]:
    """DefNum → name of the practice's billing types as the store has them."""
    d = sv.definitions.c
    with store.connect() as connection:
        found = connection.execute(
            select(d.def_num, d.item_name).where(
                d.practice == practice,
                d.category == BILLING_TYPES_CATEGORY,
                d.missing_since.is_(None),
                d.item_name.is_not(None),
            )
        ).all()
    return {int(num): str(name) for num, name in found}


def refresh_billing_types(store: Engine, practice: str, before: Mapping[int, str]) -> int:
    """Patients' BillingType text after billing types were renamed in Open Dental.

    The patient record carries the billing type's *name* only (no DefNum), and a rename
    moves no patient's DateTStamp. So the renames are read from the definitions: ``before``
    (DefNum → name, :func:`billing_type_names` taken before the definitions were re-read)
    against the names now; each patient holding an old name gets the new one, all in one
    statement (names swapped between two types stay right). An old name two billing types
    shared cannot say whose it was: it is left for the next full patient read, which brings
    every patient's current text anyway. Returns the patient rows changed."""
    after = billing_type_names(store, practice)
    holders = Counter(before.values())
    renamed = {
        old: after[num]
        for num, old in before.items()
        if num in after and after[num] != old and holders[old] == 1
    }
    if not renamed:
        return 0
    p = patients.c
    with store.begin() as connection:
        result = connection.execute(
            update(patients)
            .where(p.practice == practice, p.billing_type.in_(list(renamed)))
            .values(billing_type=case(renamed, value=p.billing_type, else_=p.billing_type))
        )
    return int(result.rowcount or 0)


def is_first_sync(store: Engine, practice: str) -> bool:
    """True when no visits pass has completed for the practice yet (appointments have no
    cursor and no unfinished pass)."""
    state = StateRepository(store).load(practice, "appointments")
    return state.cursor is None and state.unfinished is None


def patient_count(store: Engine, practice: str) -> int:
    """Patients stored for the practice (the basis of the first-sync estimate)."""
    with store.connect() as connection:
        found = connection.execute(
            select(func.count()).where(
                patients.c.practice == practice, patients.c.missing_since.is_(None)
            )
        ).scalar_one()
    return int(found)


def sync_practice_visits(
    store: Engine,
    profile: PracticeProfile,
    *,
    options: VisitOptions | None = None,
    **engine_options: Any,
) -> list[RunSummary]:
    """:func:`sync_visits` for one practice, with its own client, holding the practice's
    sync lock (:class:`~odbridge.sync.lock.PracticeBusy` when another process has it)."""
    with (
        practice_lock(store, profile.name, stop=engine_options.get("stop")),
        Client(profile=profile) as client,
    ):
        return sync_visits(store, client, profile.name, options=options, **engine_options)


def first_sync_estimate(
    patients_count: int, *, history_years: int, page_size: int, interval: float
) -> tuple[int, float, dict[str, int]]:
    """(requests, seconds, rows by resource) a first visits sync should take, from the
    number of patients: about 2.2 appointments per patient per year of window (hygiene
    twice a year for most, treatment visits, broken ones) and 3 procedures per appointment,
    plus one request per reference table. An estimate: the real counts are unknown until read.
    """
    appointments = int(patients_count * 2.2 * history_years)
    rows = {
        "appointments": appointments,
        "procedure_logs": appointments * 3,
        "recalls": int(patients_count * 0.9),
        "reference tables": 0,
    }
    requests = sum(n // page_size + 1 for n in rows.values()) + 6 + 1  # + the deletions feed
    return requests, requests * interval, rows


DEFAULT_RELOAD_EVERY = timedelta(hours=24)
"""Resources without a change filter (reference tables, recalls, the deletions feed) are
read whole when their last complete read is this old: an incremental round then costs the
pages of what changed plus one request per incremental resource."""


def _due(store: Engine, practice: str, resource: Resource, every: timedelta, now: datetime) -> bool:
    if resource.incremental:
        return True
    state = StateRepository(store).load(practice, resource.name)
    if state.unfinished is not None:
        return True  # finish what was started
    last = RunLog(store, practice, resource.name).last_completed_pass()
    return last is None or now - last >= every


def sync_visits(
    store: Engine,
    client: Client,
    practice: str,
    *,
    options: VisitOptions | None = None,
    mode: RunMode | str = RunMode.AUTO,
    reload_every: timedelta = DEFAULT_RELOAD_EVERY,
    **engine_options: Any,
) -> list[RunSummary]:
    """One run of every visit resource (reference tables first), then the deletions and
    the patients' derived names. Resources read whole are read when due (``reload_every``)
    or when ``mode`` asks for a full pass. Stops at the first run that does not end ok
    (interrupted or failed): the next sync resumes there, as each resource keeps its state."""
    summaries: list[RunSummary] = []
    now = utcnow()
    billing_types: dict[int, str] = {}
    for resource in visit_resources(options):
        if RunMode(mode) == RunMode.AUTO and not _due(store, practice, resource, reload_every, now):
            continue
        if resource.name == "definitions":
            billing_types = billing_type_names(store, practice)
        run = ResourceSync(store, client, practice, resource=resource, **engine_options)
        summary = run.run(mode)
        summaries.append(summary)
        if summary.outcome != RunOutcome.OK:
            return summaries
        if resource.name == "definitions":
            renamed = refresh_billing_types(store, practice, billing_types)
            summary.extra["patients_billing_type_renamed"] = renamed
        if resource.name == "deleted_appointments":
            marked = apply_deletions(store, practice, utcnow())
            summary.extra["appointments_deleted"] = marked
        if resource.name == "clinics":
            summary.extra["patients_renamed"] = refresh_patient_names(store, practice)
    return summaries
