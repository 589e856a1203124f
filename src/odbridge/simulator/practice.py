"""The state of one simulated practice: its patient table and its reference tables.

Patients are kept the way Open Dental's database keeps them (a *row*): foreign keys as
numbers, ``BillingType`` as a definition number, plus ``SiteNum`` and ``Country``, which the
API never sends. The API's record is built from a row when a response is made
(``render``): the derived text (``priProvAbbr``, ``secProvAbbr``, ``clinicAbbr``,
``siteDesc``, the BillingType name) is read from the reference tables at that moment, so
renaming a provider, clinic, billing type or site changes every answer without touching a
patient's ``DateTStamp`` (as in Open Dental, where those come from other tables).

``DateTStamp`` behaves like the MySQL auto-updated TIMESTAMP it is: it moves only when an
update really changes a value. Every table here has a stable primary key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from odbridge.simulator.shape import (
    DERIVED_FIELDS,
    PATIENT_FIELDS,
    SUMMARY_FIELDS,
    blank,
    format_date,
    format_datetime,
)

Row = dict[str, Any]
"""A patient as stored: the API's keys minus the derived ones, ``BillingType`` as a DefNum,
plus ``SiteNum`` and ``Country``."""

BILLING_TYPES_CATEGORY = 4
"""definition.Category of billing types (DefCat.BillingTypes)."""

ROW_FIELDS: tuple[str, ...] = (
    *(name for name in PATIENT_FIELDS if name not in DERIVED_FIELDS),
    "SiteNum",
    "Country",
)
"""The keys of a stored patient row."""


@dataclass
class Provider:
    """A dentist or hygienist (``provider`` table). ``is_secondary``: a hygienist."""

    prov_num: int
    abbr: str
    lname: str = ""
    fname: str = ""
    is_secondary: bool = False
    is_hidden: bool = False
    fee_sched: int = 0
    date_t_stamp: str = "0001-01-01 00:00:00"
    prov_status: str = "Active"
    """ProvStatus: "Active", or "Deleted" once merged into another provider."""


@dataclass
class Clinic:
    """One location of the practice (``clinic`` table; it has no DateTStamp)."""

    clinic_num: int
    abbr: str
    description: str = ""
    is_hidden: bool = False


@dataclass
class Definition:
    """One entry of the ``definition`` table; category 4 holds the billing types."""

    def_num: int
    category: int
    item_name: str
    item_value: str = ""
    item_order: int = 0
    is_hidden: bool = False


@dataclass
class Site:
    """A site (``site`` table: public-health locations, e.g. schools)."""

    site_num: int
    description: str


def money(value: Any) -> Decimal:
    """A balance as a two-place Decimal."""
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass
class Practice:
    """The patients and reference tables of one simulated practice.

    ``clock`` returns the server's local time; a change that alters a row stamps its
    ``DateTStamp`` from it.
    """

    clock: Callable[[], datetime]
    patients: dict[int, Row] = field(default_factory=dict)
    providers: list[Provider] = field(default_factory=list)
    clinics: list[Clinic] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    next_pat_num: int = 1

    # -- reference tables ----------------------------------------------------------------
    def provider(self, prov_num: int) -> Provider | None:
        """The provider with that ProvNum, or None."""
        return next((p for p in self.providers if p.prov_num == prov_num), None)

    def clinic(self, clinic_num: int) -> Clinic | None:
        """The clinic with that ClinicNum, or None."""
        return next((c for c in self.clinics if c.clinic_num == clinic_num), None)

    def definition(self, def_num: int) -> Definition | None:
        """The definition with that DefNum, or None."""
        return next((d for d in self.definitions if d.def_num == def_num), None)

    def site(self, site_num: int) -> Site | None:
        """The site with that SiteNum, or None."""
        return next((s for s in self.sites if s.site_num == site_num), None)

    def billing_types(self) -> list[Definition]:
        """The definitions of category 4 (billing types), hidden ones included."""
        return [d for d in self.definitions if d.category == BILLING_TYPES_CATEGORY]

    def billing_type_named(self, name: str) -> Definition | None:
        """The billing type whose ItemName is ``name`` (case-insensitive), or None."""
        wanted = name.strip().lower()
        return next((d for d in self.billing_types() if d.item_name.lower() == wanted), None)

    def add_definition(self, category: int, item_name: str, item_value: str = "") -> Definition:
        """A new definition with the next free DefNum, last in its category."""
        order = sum(1 for d in self.definitions if d.category == category)
        new = Definition(
            def_num=self._next(d.def_num for d in self.definitions),
            category=category,
            item_name=item_name,
            item_value=item_value,
            item_order=order,
        )
        self.definitions.append(new)
        return new

    def rename_provider(self, prov_num: int, abbr: str) -> None:
        """Change a provider's Abbr (bumps the provider's DateTStamp, not the patients')."""
        provider = self._found(self.provider(prov_num), "provider")
        if provider.abbr != abbr:
            provider.abbr = abbr
            provider.date_t_stamp = self.now_text()

    def rename_clinic(self, clinic_num: int, abbr: str, description: str | None = None) -> None:
        """Change a clinic's Abbr (and Description); patients keep their DateTStamp."""
        clinic = self._found(self.clinic(clinic_num), "clinic")
        clinic.abbr = abbr
        if description is not None:
            clinic.description = description

    def rename_definition(self, def_num: int, item_name: str) -> None:
        """Change a definition's ItemName (a billing type's name); patients keep DateTStamp."""
        self._found(self.definition(def_num), "definition").item_name = item_name

    def rename_site(self, site_num: int, description: str) -> None:
        """Change a site's Description; patients keep their DateTStamp."""
        self._found(self.site(site_num), "site").description = description

    # -- reading patients ----------------------------------------------------------------
    def row(self, pat_num: int) -> Row | None:
        """The stored row of a patient, or None."""
        return self.patients.get(pat_num)

    def rows(self) -> Iterator[Row]:
        """Every stored row, by PatNum (insertion order is PatNum order)."""
        return iter(self.patients.values())

    def get(self, pat_num: int) -> dict[str, Any] | None:
        """The patient's API record, or None."""
        row = self.patients.get(pat_num)
        return self.render(row) if row is not None else None

    def records(self) -> Iterator[dict[str, Any]]:
        """Every patient's API record, by PatNum."""
        return (self.render(row) for row in list(self.patients.values()))

    def render(self, row: Row) -> dict[str, Any]:
        """The API's full record of a row: 48 keys in order, derived text looked up now."""
        derived = self.derived(row)
        return {name: derived[name] if name in derived else row[name] for name in PATIENT_FIELDS}

    def render_summary(self, row: Row) -> dict[str, Any]:
        """The reduced row of the Patient Select search (``GET /patients``)."""
        derived = self.derived(row)
        return {name: derived[name] if name in derived else row[name] for name in SUMMARY_FIELDS}

    def derived(self, row: Row) -> dict[str, Any]:
        """The text Open Dental reads from other tables: abbreviations, site, billing type."""
        billing = row["BillingType"]
        if isinstance(billing, int) and not isinstance(billing, bool):
            definition = self.definition(billing)
            billing = definition.item_name if definition else ""
        return {
            "priProvAbbr": self._prov_abbr(row["PriProv"]),
            "secProvAbbr": self._prov_abbr(row["SecProv"]),
            "clinicAbbr": self.clinic_abbr(row["ClinicNum"]),
            "siteDesc": site.description if (site := self.site(row["SiteNum"])) else "",
            "BillingType": billing,
        }

    def clinic_abbr(self, clinic_num: Any) -> str:
        """A clinic's Abbr, "" for none."""
        found = self.clinic(clinic_num) if isinstance(clinic_num, int) else None
        return found.abbr if found else ""

    def now_text(self) -> str:
        """The server's current time in the API's DateTime form."""
        return format_datetime(self.clock())

    # -- changing patients ---------------------------------------------------------------
    def update(self, pat_num: int, changes: Row) -> bool:
        """Apply row changes (an UPDATE); True and a new DateTStamp only if a value changed.

        KeyError if there is no such patient.
        """
        row = self.patients[pat_num]
        changed = False
        for key, value in changes.items():
            if row.get(key) != value or type(row.get(key)) is not type(value):
                row[key] = value
                changed = True
        if changed:
            row["DateTStamp"] = self.now_text()
        return changed

    def create(self, values: Row) -> Row:
        """Add a patient (an INSERT): defaults for what is not given; answers the row."""
        pat_num = self.next_pat_num
        self.next_pat_num += 1
        today = self.clock().date()
        standard = self.billing_types()
        row: Row = {name: blank(name) for name in ROW_FIELDS[:-2]}
        row.update(
            {
                "PatNum": pat_num,
                "PatStatus": "Patient",
                "Gender": "Unknown",
                "Position": "Single",
                "Guarantor": pat_num,
                "PriProv": self.providers[0].prov_num if self.providers else 0,
                "BillingType": standard[0].def_num if standard else 0,
                "SecDateEntry": format_date(today),
                "PreferConfirmMethod": "None",
                "PreferContactMethod": "None",
                "PreferRecallMethod": "None",
                "TxtMsgOk": "Unknown",
                "SiteNum": 0,
                "Country": "",
            }
        )
        row.update(values)
        row["PatNum"] = pat_num
        if not row["Guarantor"]:
            row["Guarantor"] = pat_num
        if not row["ImageFolder"]:
            folder = f"{row['LName']}{row['FName']}{pat_num}"
            row["ImageFolder"] = folder.replace(" ", "").replace("'", "")
        row["DateTStamp"] = self.now_text()
        self.patients[pat_num] = row
        return row

    def delete(self, pat_num: int) -> None:
        """What deleting in Open Dental does (``Patients.Delete``): PatStatus becomes
        Deleted and Guarantor the patient's own PatNum; the row stays. KeyError if absent."""
        self.update(pat_num, {"PatStatus": "Deleted", "Guarantor": pat_num})

    def merge(self, from_pat: int, into_pat: int) -> None:
        """Merge ``from_pat`` into ``into_pat``: the merged-from patient becomes Archived."""
        if from_pat == into_pat or from_pat not in self.patients or into_pat not in self.patients:
            raise KeyError("both patients must exist and differ")
        into = self.patients[into_pat]
        balance = money(into["EstBalance"]) + money(self.patients[from_pat]["EstBalance"])
        self.update(into_pat, {"EstBalance": float(balance)})
        self.update(from_pat, {"PatStatus": "Archived", "EstBalance": 0.0, "BalTotal": 0.0})

    def purge(self, pat_num: int) -> None:
        """Remove a row outright, as only a database administrator could (the API cannot):
        the case a timestamp-polling sync never sees, which reconciliation must catch."""
        del self.patients[pat_num]

    def inject(self, pat_num: int, name: str, value: Any) -> None:
        """Store ``value`` in a field as is, bypassing every check (a row a careless import
        or a database tool left behind); bumps DateTStamp. KeyError/ValueError if not possible.
        """
        if name not in ROW_FIELDS or name in ("PatNum", "DateTStamp"):
            raise ValueError(f"'{name}' is not a stored patient field that can be injected")
        row = self.patients[pat_num]
        row[name] = value
        row["DateTStamp"] = self.now_text()

    # -- helpers -------------------------------------------------------------------------
    def _prov_abbr(self, prov_num: Any) -> str:
        found = self.provider(prov_num) if isinstance(prov_num, int) else None
        return found.abbr if found else ""

    @staticmethod
    def _next(numbers: Iterator[int]) -> int:
        return max(numbers, default=0) + 1

    @staticmethod
    def _found(item: Any, what: str) -> Any:
        if item is None:
            raise KeyError(f"no such {what}")
        return item
