"""The visits of each simulated office: reference additions made at once, history made lazily.

At startup (``PracticeVisits.attach``) the practice gains what visits need of its reference
tables: a retired (hidden) dentist, a provider merged away (ProvStatus "Deleted"), a closed
(hidden) clinic, and the definitions of categories 2, 13 and 35. The visit history itself
is generated on first use, in a worker thread started at startup, so a large practice
serves patients at once while its history is being built; the anchor time and the patient
fields it reads are taken at startup, so the history is the same for a seed whenever it is
built.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from odbridge.simulator.practice import Clinic, Practice, Provider
from odbridge.simulator.visit_history import generate_visits
from odbridge.simulator.visit_reference import CONFIRMED_DEFS, UNSCHED_DEFS, build_reference
from odbridge.simulator.visits import ProviderRef, Reference, VisitBook, fmt_datetime

SPECIALTY_DEFS = ("General", "Hygienist", "Endodontics", "Periodontics", "Oral Surgery")
"""Category 35 (ProviderSpecialties)."""

CATEGORY_NAMES = {
    1: "AdjTypes",
    2: "ApptConfirmed",
    4: "BillingTypes",
    10: "PaymentTypes",
    13: "RecallUnschedStatus",
    16: "Diagnosis",
    20: "TxPriorities",
    30: "Prognosis",
    35: "ProviderSpecialties",
}
"""DefCat names for the ``category`` text of ``/definitions``."""

_PATIENT_KEYS = (
    "PatNum",
    "PatStatus",
    "DateFirstVisit",
    "Birthdate",
    "PriProv",
    "SecProv",
    "ClinicNum",
)


@dataclass
class ProviderExtra:
    """Provider columns the practice's table does not carry (API record only)."""

    specialty: int = 0
    color: str = "0,0,0"
    status: str = "Active"
    clinic: int = 0  # restricted to this clinic; 0 = any
    license: str = ""
    npi: str = ""


@dataclass
class PracticeVisits:
    """One office's visits: its reference additions and (lazily) its ``VisitBook``."""

    practice: Practice
    seed: int
    anchor: datetime
    patients: list[dict[str, Any]]
    provider_extra: dict[int, ProviderExtra] = field(default_factory=dict)
    clinic_phones: dict[int, str] = field(default_factory=dict)
    reference: Reference = field(default_factory=lambda: Reference([], []))
    _book: VisitBook | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def attach(cls, practice: Practice, seed: int) -> PracticeVisits:
        """Add the visit reference data to ``practice`` and anchor its history now."""
        anchor = practice.clock().replace(microsecond=0)
        patients = [{k: row[k] for k in _PATIENT_KEYS} for row in practice.patients.values()]
        visits = cls(practice=practice, seed=seed, anchor=anchor, patients=patients)
        visits._add_reference(fmt_datetime(anchor.replace(hour=0, minute=0, second=0)))
        visits.reference = visits._build_reference()
        return visits

    @property
    def ready(self) -> bool:
        """Whether the history has been generated."""
        return self._book is not None

    def book(self) -> VisitBook:
        """The visit tables (generated on the first call; thread-safe)."""
        if self._book is None:
            with self._lock:
                if self._book is None:
                    self._book = generate_visits(
                        self.patients,
                        self.reference,
                        self.seed,
                        clock=self.practice.clock,
                        now=self.anchor,
                    )
        return self._book

    def warm(self) -> threading.Thread:
        """Generate the history in a daemon thread (the first request waits for it)."""
        thread = threading.Thread(target=self.book, name="simulator-visits", daemon=True)
        thread.start()
        return thread

    def _build_reference(self) -> Reference:
        """Providers, clinics and definitions as visits see them."""
        practice = self.practice
        providers = [
            ProviderRef(
                p.prov_num, p.abbr, p.is_secondary, p.is_hidden or self.status(p) != "Active"
            )
            for p in practice.providers
        ]
        definitions = [
            {"DefNum": d.def_num, "Category": d.category, "ItemName": d.item_name}
            | {"isHidden": "true" if d.is_hidden else "false"}
            for d in practice.definitions
        ]
        clinics = [c.clinic_num for c in practice.clinics if not c.is_hidden]
        return build_reference(providers, clinics, definitions)

    def status(self, provider: Provider) -> str:
        """A provider's ProvStatus ("Active", or "Deleted" once merged away)."""
        return self.provider_extra.get(provider.prov_num, ProviderExtra()).status

    # -- startup additions -----------------------------------------------------------------
    def _add_reference(self, stamp: str) -> None:
        practice = self.practice
        for category, table in ((2, CONFIRMED_DEFS), (13, UNSCHED_DEFS)):
            if any(d.category == category for d in practice.definitions):
                continue
            for name, value, hidden in table:
                practice.add_definition(category, name, value).is_hidden = hidden
        if not any(d.category == 35 for d in practice.definitions):
            for name in SPECIALTY_DEFS:
                practice.add_definition(35, name)
        specialties = {d.item_name: d.def_num for d in practice.definitions if d.category == 35}
        next_num = max((p.prov_num for p in practice.providers), default=0) + 1
        practice.providers.append(
            Provider(next_num, "DOC0", "Stone", "Edwin", is_hidden=True, date_t_stamp=stamp)
        )
        practice.providers.append(
            Provider(next_num + 1, "HYG0", "Pike", "Lena", is_secondary=True, date_t_stamp=stamp)
        )
        colors = ("164,255,164", "255,183,183", "203,151,255", "164,164,255", "255,255,160")
        for index, provider in enumerate(practice.providers):
            extra = ProviderExtra(
                specialty=specialties.get("Hygienist" if provider.is_secondary else "General", 0),
                color=colors[index % len(colors)],
                license=f"D{7600 + provider.prov_num}" if not provider.is_secondary else "",
                npi=str(1_679_608_700 + provider.prov_num * 37),
            )
            self.provider_extra[provider.prov_num] = extra
        self.provider_extra[next_num + 1].status = "Deleted"  # merged into another provider
        hygienists = [p for p in practice.providers if p.is_secondary and not p.is_hidden]
        if len(hygienists) > 1 and len(practice.clinics) > 1:
            self.provider_extra[hygienists[-2].prov_num].clinic = practice.clinics[1].clinic_num
        if practice.clinics and not any(c.is_hidden for c in practice.clinics):
            number = max(c.clinic_num for c in practice.clinics) + 1
            practice.clinics.append(Clinic(number, "Northgate", "Northgate (closed)", True))
        for clinic in practice.clinics:
            self.clinic_phones[clinic.clinic_num] = f"503555{1000 + clinic.clinic_num * 17:04d}"


def attach_all(practices: list[Practice], seed: int) -> list[PracticeVisits]:
    """Visits for each practice (office) of a simulator."""
    return [PracticeVisits.attach(p, seed + index) for index, p in enumerate(practices)]
