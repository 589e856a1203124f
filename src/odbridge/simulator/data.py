"""A synthetic dental practice: seeded, reproducible patients in Open Dental's API shape.

Each patient is kept as the dict the real API would send (its 48 documented keys, in order,
with Open Dental's own "no value" forms: empty strings, ``0001-01-01``, 0 ids). Faker supplies
pools of names and places once; a seeded ``random.Random`` then draws from them, which keeps
startup fast (10,000 patients well under a second) and the data identical for a seed and day.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from faker import Faker

PATIENT_FIELDS: tuple[str, ...] = (
    "PatNum",
    "LName",
    "FName",
    "MiddleI",
    "Preferred",
    "PatStatus",
    "Gender",
    "Position",
    "Birthdate",
    "SSN",
    "Address",
    "Address2",
    "City",
    "State",
    "Zip",
    "HmPhone",
    "WkPhone",
    "WirelessPhone",
    "Guarantor",
    "Email",
    "EstBalance",
    "PriProv",
    "priProvAbbr",
    "SecProv",
    "secProvAbbr",
    "FeeSched",
    "BillingType",
    "ImageFolder",
    "FamFinUrgNote",
    "ChartNumber",
    "MedicaidID",
    "BalTotal",
    "EmployerNum",
    "DateFirstVisit",
    "ClinicNum",
    "clinicAbbr",
    "Premed",
    "Ward",
    "PreferConfirmMethod",
    "PreferContactMethod",
    "PreferRecallMethod",
    "Language",
    "AdmitDate",
    "siteDesc",
    "DateTStamp",
    "SuperFamily",
    "TxtMsgOk",
    "SecDateEntry",
)
"""The documented patient object: 48 keys in the order the API sends them."""

SUMMARY_FIELDS: tuple[str, ...] = (
    "PatNum",
    "LName",
    "FName",
    "MiddleI",
    "Preferred",
    "PatStatus",
    "Birthdate",
    "SSN",
    "Address",
    "Address2",
    "City",
    "State",
    "Zip",
    "HmPhone",
    "WkPhone",
    "WirelessPhone",
    "Email",
    "priProvAbbr",
    "secProvAbbr",
    "BillingType",
    "ChartNumber",
    "ClinicNum",
    "clinicAbbr",
    "siteDesc",
    "TxtMsgOk",
)
"""The reduced row of ``GET /patients`` (the Patient Select search)."""

DERIVED_FIELDS = frozenset({"priProvAbbr", "secProvAbbr", "clinicAbbr", "siteDesc"})

PAT_STATUSES = (
    "Patient",
    "NonPatient",
    "Inactive",
    "Archived",
    "Deleted",
    "Deceased",
    "Prospective",
)
GENDERS = ("Male", "Female", "Unknown", "Other")
POSITIONS = ("Single", "Married", "Child", "Widowed", "Divorced")
CONTACT_METHODS = (
    "None",
    "DoNotCall",
    "HmPhone",
    "WkPhone",
    "WirelessPh",
    "Email",
    "SeeNotes",
    "Mail",
    "TextMessage",
)
TXT_MSG_OK = ("Unknown", "Yes", "No")
BILLING_TYPES = ("Standard Account", "Insurance Only", "Finance Charge", "Collections", "Bad Debt")

NO_DATE = "0001-01-01"
DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"

# Value -> weight. "Mostly Patient", as in a real practice's database.
_STATUS_WEIGHTS = {
    "Patient": 78,
    "Inactive": 8,
    "Archived": 4,
    "NonPatient": 4,
    "Prospective": 3,
    "Deceased": 2,
    "Deleted": 1,
}
_CONTACT_WEIGHTS = {
    "None": 30,
    "HmPhone": 15,
    "WirelessPh": 25,
    "TextMessage": 15,
    "Email": 10,
    "WkPhone": 1,
    "Mail": 2,
    "DoNotCall": 1,
    "SeeNotes": 1,
}
_LANGUAGES = {"eng": 62, "": 22, "spa": 12, "vie": 2, "rus": 1, "Cantonese": 1}


@dataclass(frozen=True)
class Provider:
    """A dentist or hygienist of the practice."""

    prov_num: int
    abbr: str
    is_hygienist: bool


@dataclass(frozen=True)
class Clinic:
    """One location of the practice."""

    clinic_num: int
    abbr: str


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def format_date(value: date | None) -> str:
    """A date in the API's form, ``0001-01-01`` for none."""
    return value.strftime(DATE_FORMAT) if value else NO_DATE


def format_datetime(value: datetime) -> str:
    """A datetime in the API's form (server local time, no zone)."""
    return value.strftime(DATETIME_FORMAT)


def format_phone(rng: random.Random, area: str) -> str:
    """A US phone number typed the various ways front desks type them."""
    exchange = rng.randint(200, 999)
    line = rng.randint(0, 9999)
    style = rng.random()
    if style < 0.65:
        return f"({area}){exchange:03d}-{line:04d}"
    if style < 0.85:
        return f"{area}{exchange:03d}{line:04d}"
    if style < 0.97:
        return f"{area}-{exchange:03d}-{line:04d}"
    return f"{exchange:03d}-{line:04d}"[: rng.randint(4, 8)]  # typed short: malformed


@dataclass
class _Pools:
    """Faker-made pools that patients are drawn from."""

    male_first: list[str]
    female_first: list[str]
    last: list[str]
    streets: list[str]
    places: list[tuple[str, str, str]]  # city, state, zip
    place_weights: list[int]
    area_codes: list[str]
    email_domains: list[str]
    employers: int


@functools.lru_cache(maxsize=8)
def _make_pools(seed: int) -> _Pools:
    """Pools for a seed; cached, as they are only read."""
    fake = Faker("en_US")
    fake.seed_instance(seed)
    cities = [fake.unique.city() for _ in range(30)]
    state = "OR"
    places = []
    for city in cities:
        for _ in range(3):
            places.append((city, state, fake.zipcode_in_state(state)))
    # A practice draws mostly from a few nearby towns: a long-tailed weighting.
    place_weights = [max(1, 400 // (i // 3 + 1)) for i in range(len(places))]
    return _Pools(
        male_first=[fake.first_name_male() for _ in range(400)],
        female_first=[fake.first_name_female() for _ in range(400)],
        last=[fake.last_name() for _ in range(1200)],
        streets=[fake.street_address() for _ in range(3000)],
        places=places,
        place_weights=place_weights,
        area_codes=["503", "971", "541"],
        email_domains=["example.com", "example.net", "example.org", "mail.example.com"],
        employers=25,
    )


@dataclass
class Practice:
    """The patients of one simulated practice, and the practice events that change them.

    ``clock`` returns the server's local time; every change stamps ``DateTStamp`` from it.
    """

    clock: Callable[[], datetime]
    patients: dict[int, dict[str, Any]] = field(default_factory=dict)
    providers: list[Provider] = field(default_factory=list)
    clinics: list[Clinic] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    next_pat_num: int = 1
    _pools: _Pools | None = None

    # -- reading -------------------------------------------------------------------------
    def get(self, pat_num: int) -> dict[str, Any] | None:
        """The patient's API record, or None."""
        return self.patients.get(pat_num)

    def in_order(self) -> Iterator[dict[str, Any]]:
        """Every patient, by PatNum (insertion order is PatNum order)."""
        return iter(self.patients.values())

    def now_text(self) -> str:
        """The server's current time in the API's DateTime form."""
        return format_datetime(self.clock())

    # -- changing ------------------------------------------------------------------------
    def _stamp(self, record: dict[str, Any]) -> None:
        record["DateTStamp"] = self.now_text()

    def update(self, pat_num: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply field changes the way PUT does; bumps DateTStamp. KeyError if absent."""
        record = self.patients[pat_num]
        for key, value in changes.items():
            record[key] = value
        if "PriProv" in changes or "SecProv" in changes:
            record["priProvAbbr"] = self._prov_abbr(record["PriProv"])
            record["secProvAbbr"] = self._prov_abbr(record["SecProv"])
        if "ClinicNum" in changes:
            record["clinicAbbr"] = self._clinic_abbr(record["ClinicNum"])
        self._stamp(record)
        return record

    def create(self, values: dict[str, Any]) -> dict[str, Any]:
        """Add a patient the way POST does: defaults for what is not given."""
        pat_num = self.next_pat_num
        self.next_pat_num += 1
        today = self.clock().date()
        record: dict[str, Any] = {name: _blank(name) for name in PATIENT_FIELDS}
        record.update(
            {
                "PatNum": pat_num,
                "PatStatus": "Patient",
                "Gender": "Unknown",
                "Position": "Single",
                "Guarantor": pat_num,
                "PriProv": self.providers[0].prov_num if self.providers else 0,
                "BillingType": BILLING_TYPES[0],
                "SecDateEntry": format_date(today),
                "PreferConfirmMethod": "None",
                "PreferContactMethod": "None",
                "PreferRecallMethod": "None",
                "TxtMsgOk": "Unknown",
            }
        )
        record.update(values)
        record["PatNum"] = pat_num
        if not record["Guarantor"]:
            record["Guarantor"] = pat_num
        if not record["ImageFolder"]:
            record["ImageFolder"] = f"{record['LName']}{record['FName']}{pat_num}"
        record["priProvAbbr"] = self._prov_abbr(record["PriProv"])
        record["secProvAbbr"] = self._prov_abbr(record["SecProv"])
        record["clinicAbbr"] = self._clinic_abbr(record["ClinicNum"])
        self._stamp(record)
        self.patients[pat_num] = record
        return record

    def touch_random(self, count: int) -> list[int]:
        """Change ``count`` random patients the way front-desk edits do; returns their PatNums."""
        if not self.patients:
            return []
        keys = list(self.patients)
        chosen = self.rng.sample(keys, min(count, len(keys)))
        for pat_num in chosen:
            self.update(pat_num, self._random_edit(self.patients[pat_num]))
        return chosen

    def _random_edit(self, record: dict[str, Any]) -> dict[str, Any]:
        rng = self.rng
        kind = rng.randrange(5)
        if kind == 0:
            area = rng.choice(self._pools.area_codes if self._pools else ["503"])
            return {"WirelessPhone": format_phone(rng, area)}
        if kind == 1:
            return {"EstBalance": float(Decimal(rng.randint(0, 90000)) / 100)}
        if kind == 2:
            return {"PreferContactMethod": rng.choice(CONTACT_METHODS)}
        if kind == 3:
            return {"TxtMsgOk": rng.choice(TXT_MSG_OK)}
        domain = rng.choice(self._pools.email_domains if self._pools else ["example.com"])
        return {
            "Email": f"{record['FName']}.{record['LName']}{rng.randint(1, 99)}@{domain}".lower()
        }

    def merge(self, from_pat: int, into_pat: int) -> None:
        """Merge ``from_pat`` into ``into_pat``: the merged-from patient becomes Archived."""
        if from_pat == into_pat or from_pat not in self.patients or into_pat not in self.patients:
            raise KeyError("both patients must exist and differ")
        into = self.patients[into_pat]
        balance = _money(into["EstBalance"]) + _money(self.patients[from_pat]["EstBalance"])
        self.update(into_pat, {"EstBalance": float(balance)})
        self.update(from_pat, {"PatStatus": "Archived", "EstBalance": 0.0, "BalTotal": 0.0})

    def mark_deleted(self, pat_num: int) -> None:
        """What "delete" in Open Dental does: PatStatus becomes Deleted; the row stays."""
        self.update(pat_num, {"PatStatus": "Deleted"})

    def purge(self, pat_num: int) -> None:
        """Remove a row outright, as only a database administrator could (the API cannot):
        the case a timestamp-polling sync never sees, which reconciliation must catch."""
        del self.patients[pat_num]

    def add_family_member(self, guarantor: int) -> dict[str, Any]:
        """A new child joins the guarantor's family (same name, address, home phone)."""
        head = self.patients[guarantor]
        rng = self.rng
        pools = self._pools
        gender = rng.choice(("Male", "Female"))
        first = rng.choice(
            (pools.male_first if gender == "Male" else pools.female_first) if pools else ["Alex"]
        )
        today = self.clock().date()
        birth = today - timedelta(days=rng.randint(0, 365 * 12))
        values = {k: head[k] for k in ("LName", "Address", "Address2", "City", "State", "Zip")}
        values.update(
            {
                "FName": first,
                "Gender": gender,
                "Position": "Child",
                "Birthdate": format_date(birth),
                "HmPhone": head["HmPhone"],
                "Guarantor": head["Guarantor"] or guarantor,
                "PriProv": head["PriProv"],
                "ClinicNum": head["ClinicNum"],
                "DateFirstVisit": format_date(today),
                "Language": head["Language"],
            }
        )
        return self.create(values)

    # -- helpers -------------------------------------------------------------------------
    def _prov_abbr(self, prov_num: int) -> str:
        return next((p.abbr for p in self.providers if p.prov_num == prov_num), "")

    def _clinic_abbr(self, clinic_num: int) -> str:
        return next((c.abbr for c in self.clinics if c.clinic_num == clinic_num), "")


def _blank(name: str) -> Any:
    """Open Dental's "no value" for a field."""
    if name in {"PatNum", "Guarantor", "PriProv", "SecProv", "FeeSched", "EmployerNum"}:
        return 0
    if name in {"ClinicNum", "SuperFamily"}:
        return 0
    if name in {"EstBalance", "BalTotal"}:
        return 0.0
    if name in {"Birthdate", "DateFirstVisit", "AdmitDate", "SecDateEntry"}:
        return NO_DATE
    if name == "Premed":
        return "false"
    return ""


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def generate_practice(
    patients: int,
    seed: int,
    clock: Callable[[], datetime] = datetime.now,
    today: date | None = None,
) -> Practice:
    """A practice of ``patients`` patients, identical for the same ``seed`` and ``today``.

    ``today`` anchors ages and visit dates (default: the clock's date); ``clock`` stamps later
    changes. Families share a surname, address and home phone, with the guarantor first.
    """
    # Seeded on purpose: the same seed must give the same synthetic practice (not security).
    rng = random.Random(seed)  # nosec B311
    pools = _make_pools(seed)
    anchor = today or clock().date()
    providers = [
        Provider(1, "DOC1", False),
        Provider(2, "DOC2", False),
        Provider(3, "DOC3", False),
        Provider(4, "HYG1", True),
        Provider(5, "HYG2", True),
    ]
    clinics = [Clinic(1, "Downtown"), Clinic(2, "Eastside"), Clinic(3, "Westgate")]
    practice = Practice(
        clock=clock,
        providers=providers,
        clinics=clinics,
        rng=random.Random(seed + 1),  # nosec B311 # reproducible synthetic edits
        _pools=pools,
    )
    builder = _FamilyBuilder(rng, pools, anchor, providers, clinics)
    pat_num = 1
    while pat_num <= patients:
        size = min(builder.family_size(), patients - pat_num + 1)
        for record in builder.family(pat_num, size):
            practice.patients[record["PatNum"]] = record
        pat_num += size
    practice.next_pat_num = pat_num
    _set_family_totals(practice.patients.values())
    return practice


def _set_family_totals(records: Iterable[dict[str, Any]]) -> None:
    totals: dict[int, Decimal] = {}
    for record in records:
        totals[record["Guarantor"]] = totals.get(record["Guarantor"], Decimal(0)) + _money(
            record["EstBalance"]
        )
    for record in records:
        if record["PatNum"] == record["Guarantor"]:
            record["BalTotal"] = float(totals.get(record["PatNum"], Decimal(0)))


class _FamilyBuilder:
    """Draws families of patients from the pools."""

    def __init__(
        self,
        rng: random.Random,
        pools: _Pools,
        today: date,
        providers: list[Provider],
        clinics: list[Clinic],
    ) -> None:
        self.rng = rng
        self.pools = pools
        self.today = today
        self.dentists = [p for p in providers if not p.is_hygienist]
        self.hygienists = [p for p in providers if p.is_hygienist]
        self.clinics = clinics

    def family_size(self) -> int:
        return self.rng.choices((1, 2, 3, 4, 5), weights=(45, 22, 15, 12, 6))[0]

    def family(self, first_pat_num: int, size: int) -> list[dict[str, Any]]:
        rng, pools = self.rng, self.pools
        last = rng.choice(pools.last)
        street = rng.choice(pools.streets)
        city, state, zip_code = rng.choices(pools.places, weights=pools.place_weights)[0]
        area = rng.choice(pools.area_codes)
        home_phone = format_phone(rng, area) if rng.random() < 0.7 else ""
        clinic = rng.choice(self.clinics)
        dentist = rng.choice(self.dentists)
        address2 = f"Apt {rng.randint(1, 400)}" if rng.random() < 0.12 else ""
        no_address = rng.random() < 0.03
        family_status = _weighted(rng, _STATUS_WEIGHTS)
        language = _weighted(rng, _LANGUAGES)
        members = []
        for index in range(size):
            pat_num = first_pat_num + index
            role = "head" if index == 0 else ("spouse" if index == 1 and size > 2 else "child")
            if size == 2 and index == 1:
                role = rng.choice(("spouse", "child"))
            members.append(
                self._patient(
                    pat_num=pat_num,
                    guarantor=first_pat_num,
                    role=role,
                    last=last,
                    address=("", "", "", "", "")
                    if no_address
                    else (street, address2, city, state, zip_code),
                    area=area,
                    home_phone=home_phone,
                    clinic=clinic,
                    dentist=dentist,
                    status=family_status
                    if rng.random() < 0.85
                    else _weighted(rng, _STATUS_WEIGHTS),
                    language=language,
                )
            )
        return members

    def _patient(
        self,
        *,
        pat_num: int,
        guarantor: int,
        role: str,
        last: str,
        address: tuple[str, str, str, str, str],
        area: str,
        home_phone: str,
        clinic: Clinic,
        dentist: Provider,
        status: str,
        language: str,
    ) -> dict[str, Any]:
        rng, pools, today = self.rng, self.pools, self.today
        gender = rng.choices(("Female", "Male", "Unknown", "Other"), weights=(51, 47, 1, 1))[0]
        names = pools.female_first if gender == "Female" else pools.male_first
        first = rng.choice(names)
        if role == "child":
            age_days = rng.randint(0, 17 * 365)
            position = "Child"
        else:
            age_days = rng.randint(18 * 365, 95 * 365)
            position = (
                "Married"
                if role == "spouse"
                else rng.choices(POSITIONS, weights=(40, 40, 0, 8, 12))[0]
            )
        birth: date | None = today - timedelta(days=age_days)
        if rng.random() < 0.02:
            birth = None
        if status == "Deceased" and age_days < 40 * 365:
            status = "Inactive"
        first_visit: date | None = today - timedelta(days=rng.randint(0, 15 * 365))
        if birth and first_visit and first_visit < birth:
            first_visit = birth + timedelta(days=rng.randint(0, max(1, (today - birth).days)))
        if status in ("Prospective", "NonPatient") or rng.random() < 0.01:
            first_visit = None
        entry = (first_visit or today) - timedelta(days=rng.randint(0, 30))
        stamp = datetime.combine(entry, datetime.min.time()) + timedelta(
            seconds=rng.randint(0, max(1, (today - entry).days) * 86400)
        )
        stamp = min(stamp, datetime.combine(today, datetime.min.time()))
        adult = role != "child"
        wireless = format_phone(rng, area) if rng.random() < (0.85 if adult else 0.15) else ""
        work = format_phone(rng, area) if adult and rng.random() < 0.25 else ""
        email = ""
        if rng.random() < (0.72 if adult else 0.1):
            email = f"{first}.{last}{rng.randint(1, 999)}@{rng.choice(pools.email_domains)}"
            email = email.lower().replace(" ", "").replace("'", "")
            if rng.random() < 0.03:
                email = email.replace("@", " at ")  # typed wrong: malformed
        ssn = ""
        if adult and rng.random() < 0.6:
            ssn = f"{rng.randint(100, 665):03d}{rng.randint(1, 99):02d}{rng.randint(1, 9999):04d}"
        balance = Decimal(0)
        if rng.random() < 0.22:
            balance = Decimal(rng.randint(-5000, 180000)) / 100
        hygienist = rng.choice(self.hygienists) if rng.random() < 0.4 else None
        txt = rng.choices(TXT_MSG_OK, weights=(30, 60, 10))[0] if wireless else "Unknown"
        contact = _weighted(rng, _CONTACT_WEIGHTS)
        record: dict[str, Any] = {
            "PatNum": pat_num,
            "LName": last,
            "FName": first,
            "MiddleI": rng.choice("ABCDEFGHJKLMNPRSTW") if rng.random() < 0.3 else "",
            "Preferred": first[:3] if rng.random() < 0.06 else "",
            "PatStatus": status,
            "Gender": gender,
            "Position": position,
            "Birthdate": format_date(birth),
            "SSN": ssn,
            "Address": address[0],
            "Address2": address[1],
            "City": address[2],
            "State": address[3],
            "Zip": address[4],
            "HmPhone": home_phone,
            "WkPhone": work,
            "WirelessPhone": wireless,
            "Guarantor": guarantor,
            "Email": email,
            "EstBalance": float(balance),
            "PriProv": dentist.prov_num,
            "priProvAbbr": dentist.abbr,
            "SecProv": hygienist.prov_num if hygienist else 0,
            "secProvAbbr": hygienist.abbr if hygienist else "",
            "FeeSched": rng.choice((0, 0, 0, 0, 53, 54)),
            "BillingType": rng.choices(BILLING_TYPES, weights=(85, 8, 4, 2, 1))[0],
            "ImageFolder": f"{last}{first}{pat_num}".replace(" ", "").replace("'", ""),
            "FamFinUrgNote": "",
            "ChartNumber": str(10000 + pat_num) if rng.random() < 0.3 else "",
            "MedicaidID": f"{rng.randint(10**8, 10**9 - 1)}" if rng.random() < 0.05 else "",
            "BalTotal": 0.0,
            "EmployerNum": rng.randint(1, self.pools.employers)
            if adult and rng.random() < 0.35
            else 0,
            "DateFirstVisit": format_date(first_visit),
            "ClinicNum": clinic.clinic_num,
            "clinicAbbr": clinic.abbr,
            "Premed": "true" if rng.random() < 0.04 else "false",
            "Ward": "",
            "PreferConfirmMethod": _weighted(rng, _CONTACT_WEIGHTS),
            "PreferContactMethod": contact,
            "PreferRecallMethod": _weighted(rng, _CONTACT_WEIGHTS),
            "Language": language,
            "AdmitDate": NO_DATE,
            "siteDesc": "",
            "DateTStamp": format_datetime(stamp),
            "SuperFamily": 0,
            "TxtMsgOk": txt,
            "SecDateEntry": format_date(entry),
        }
        return record
