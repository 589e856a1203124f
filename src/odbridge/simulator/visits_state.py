"""The visits of each simulated office: reference additions when its practice is made, the
history on first use.

``add_visit_reference`` gives a freshly generated practice what visits need of its reference
tables: a retired (hidden) dentist, a hygienist merged away (ProvStatus "Deleted"), a closed
(hidden) clinic, and the definitions of categories 2, 13 and 35. ``VisitRegistry`` makes an
office's ``PracticeVisits`` and its history when a visit endpoint first asks for them (off
the event loop), so a simulator that only serves patients never pays for visits. The history
is anchored at that moment and reads the patients as they were then.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from odbridge.simulator.practice import Clinic, Practice, Provider
from odbridge.simulator.state import Office
from odbridge.simulator.visit_history import generate_visits
from odbridge.simulator.visit_reference import CONFIRMED_DEFS, UNSCHED_DEFS, build_reference
from odbridge.simulator.visits import ProviderRef, Reference, VisitBook

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
_COLORS = ("164,255,164", "255,183,183", "203,151,255", "164,164,255", "255,255,160")


def add_visit_reference(practice: Practice) -> None:
    """Add the reference rows visits need to a generated practice (once; idempotent)."""
    if any(d.category == 35 for d in practice.definitions):
        return
    for category, table in ((2, CONFIRMED_DEFS), (13, UNSCHED_DEFS)):
        if not any(d.category == category for d in practice.definitions):
            for name, value, hidden in table:
                practice.add_definition(category, name, value).is_hidden = hidden
    for name in SPECIALTY_DEFS:
        practice.add_definition(35, name)
    stamp = max((p.date_t_stamp for p in practice.providers), default="0001-01-01 00:00:00")
    number = max((p.prov_num for p in practice.providers), default=0) + 1
    practice.providers.append(
        Provider(number, "DOC0", "Stone", "Edwin", is_hidden=True, date_t_stamp=stamp)
    )
    practice.providers.append(
        Provider(
            number + 1,
            "HYG0",
            "Pike",
            "Lena",
            is_secondary=True,
            date_t_stamp=stamp,
            prov_status="Deleted",  # merged into another provider
        )
    )
    if practice.clinics and not any(c.is_hidden for c in practice.clinics):
        number = max(c.clinic_num for c in practice.clinics) + 1
        practice.clinics.append(Clinic(number, "Northgate", "Northgate (closed)", True))


@dataclass(frozen=True)
class ProviderExtra:
    """Provider columns the practice's table does not carry (API record only)."""

    specialty: int = 0
    color: str = "0,0,0"
    clinic: int = 0  # restricted to this clinic; 0 = any
    license: str = ""
    npi: str = ""


def provider_extras(practice: Practice) -> dict[int, ProviderExtra]:
    """Specialty, colour, license, NPI and clinic restriction of each provider (derived from
    the table, so the same for the same practice): the second-last working hygienist works
    at the second clinic only."""
    specialties = {d.item_name: d.def_num for d in practice.definitions if d.category == 35}
    working = [p for p in practice.providers if p.is_secondary and not p.is_hidden]
    restricted = working[-2].prov_num if len(working) > 1 else 0
    extras = {}
    for index, provider in enumerate(practice.providers):
        hygienist = provider.is_secondary
        clinic = 0
        if provider.prov_num == restricted and len(practice.clinics) > 1:
            clinic = practice.clinics[1].clinic_num
        extras[provider.prov_num] = ProviderExtra(
            specialty=specialties.get("Hygienist" if hygienist else "General", 0),
            color=_COLORS[index % len(_COLORS)],
            clinic=clinic,
            license="" if hygienist else f"D{7600 + provider.prov_num}",
            npi=str(1_679_608_700 + provider.prov_num * 37),
        )
    return extras


def clinic_phone(clinic_num: int) -> str:
    """A clinic's (made-up) phone number."""
    return f"503555{1000 + clinic_num * 17:04d}"


@dataclass
class PracticeVisits:
    """One office's visits: its reference view and (lazily) its ``VisitBook``."""

    practice: Practice
    seed: int
    anchor: datetime
    patients: list[dict[str, Any]]
    reference: Reference
    _book: VisitBook | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, practice: Practice, seed: int) -> PracticeVisits:
        """Visits for ``practice``, anchored now (the history itself is built later)."""
        add_visit_reference(practice)
        patients = [{k: row[k] for k in _PATIENT_KEYS} for row in practice.patients.values()]
        return cls(
            practice=practice,
            seed=seed,
            anchor=practice.clock().replace(microsecond=0),
            patients=patients,
            reference=reference_of(practice),
        )

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


def reference_of(practice: Practice) -> Reference:
    """Providers, clinics and definitions as visits see them."""
    providers = [
        ProviderRef(p.prov_num, p.abbr, p.is_secondary, p.is_hidden or p.prov_status != "Active")
        for p in practice.providers
    ]
    definitions = [
        {"DefNum": d.def_num, "Category": d.category, "ItemName": d.item_name}
        | {"isHidden": "true" if d.is_hidden else "false"}
        for d in practice.definitions
    ]
    clinics = [c.clinic_num for c in practice.clinics if not c.is_hidden]
    return build_reference(providers, clinics, definitions)


class VisitRegistry:
    """Every office's visits, made on first use; office ``i`` uses ``seed + i - 1``."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._visits: dict[int, PracticeVisits] = {}
        self._lock = threading.Lock()

    def of(self, office: Office) -> PracticeVisits:
        """The office's visits (its practice is made first if need be)."""
        found = self._visits.get(office.number)
        if found is None:
            practice = office.practice
            with self._lock:
                found = self._visits.get(office.number)
                if found is None:
                    found = PracticeVisits.start(practice, self.seed + office.number - 1)
                    self._visits[office.number] = found
        return found

    def made(self, office: Office) -> PracticeVisits | None:
        """The office's visits if they exist already, else None."""
        return self._visits.get(office.number)
