"""Generation: a seeded, reproducible practice, and the front desk that keeps changing it.

Faker supplies pools of names and places once; a seeded ``random.Random`` then draws from
them, which keeps startup fast (10,000 patients well under a second) and the data identical
for a seed and day. Values added later (sites, countries) come from a second seeded source,
so the original draws, and with them every existing seeded practice, stay the same.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from faker import Faker

from odbridge.simulator.practice import (
    BILLING_TYPES_CATEGORY,
    Clinic,
    Definition,
    Practice,
    Provider,
    Row,
    Site,
    money,
)
from odbridge.simulator.shape import (
    CONTACT_METHODS,
    NO_DATE,
    POSITIONS,
    TXT_MSG_OK,
    format_date,
    format_datetime,
)

BILLING_TYPES = ("Standard Account", "Insurance Only", "Finance Charge", "Collections", "Bad Debt")
"""The billing type names (definition category 4) of a generated practice, DefNum 1 to 5."""

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


def _weighted(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


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
class Pools:
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
def make_pools(seed: int) -> Pools:
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
    return Pools(
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


def reference_tables(practice: Practice, stamp: str) -> None:
    """The providers, clinics, billing types and sites of a generated practice."""
    practice.providers = [
        Provider(1, "DOC1", "Hart", "Alan", fee_sched=53, date_t_stamp=stamp),
        Provider(2, "DOC2", "Quinn", "Maya", fee_sched=53, date_t_stamp=stamp),
        Provider(3, "DOC3", "Lowe", "Sam", fee_sched=54, date_t_stamp=stamp),
        Provider(4, "HYG1", "Reyes", "Dana", is_secondary=True, date_t_stamp=stamp),
        Provider(5, "HYG2", "Moss", "Kim", is_secondary=True, date_t_stamp=stamp),
    ]
    practice.clinics = [
        Clinic(1, "Downtown", "Downtown Dental"),
        Clinic(2, "Eastside", "Eastside Family Dentistry"),
        Clinic(3, "Westgate", "Westgate Dental Care"),
    ]
    values = ("", "", "", "C", "C")
    practice.definitions = [
        Definition(i + 1, BILLING_TYPES_CATEGORY, name, values[i], item_order=i)
        for i, name in enumerate(BILLING_TYPES)
    ]
    practice.sites = [Site(1, "Lincoln Elementary"), Site(2, "Riverside Middle School")]


def generate_practice(
    patients: int,
    seed: int,
    clock: Callable[[], datetime] = datetime.now,
    today: date | None = None,
    pool_seed: int | None = None,
) -> Practice:
    """A practice of ``patients`` patients, identical for the same ``seed`` and ``today``.

    ``today`` anchors ages and visit dates (default: the clock's date); ``clock`` stamps later
    changes. Families share a surname, address and home phone, with the guarantor first.
    ``pool_seed`` (default ``seed``) seeds the Faker pools: the practices of a group share
    one set of pools (about a second to make) and differ by ``seed``.
    """
    # Seeded on purpose: the same seed must give the same synthetic practice (not security).
    rng = random.Random(seed)  # nosec B311
    extra = random.Random(seed + 2)  # nosec B311 # fields added later draw from here
    pools = make_pools(seed if pool_seed is None else pool_seed)
    anchor = today or clock().date()
    practice = Practice(clock=clock)
    reference_tables(practice, format_datetime(datetime.combine(anchor, datetime.min.time())))
    builder = _FamilyBuilder(rng, pools, anchor, practice)
    pat_num = 1
    while pat_num <= patients:
        size = min(builder.family_size(), patients - pat_num + 1)
        for row in builder.family(pat_num, size):
            row["SiteNum"] = extra.choice((1, 2)) if extra.random() < 0.04 else 0
            row["Country"] = "USA" if extra.random() < 0.05 else ""
            practice.patients[row["PatNum"]] = row
        pat_num += size
    practice.next_pat_num = pat_num
    _set_family_totals(practice.patients.values())
    return practice


def _set_family_totals(rows: Iterable[Row]) -> None:
    totals: dict[int, Decimal] = {}
    for row in rows:
        totals[row["Guarantor"]] = totals.get(row["Guarantor"], Decimal(0)) + money(
            row["EstBalance"]
        )
    for row in rows:
        if row["PatNum"] == row["Guarantor"]:
            row["BalTotal"] = float(totals.get(row["PatNum"], Decimal(0)))


class FrontDesk:
    """What the staff of a practice keep doing: small edits, new family members, deletions.

    Every edit really changes a value (so ``DateTStamp`` moves, as Open Dental's does).
    """

    def __init__(self, practice: Practice, seed: int, pool_seed: int | None = None) -> None:
        self.practice = practice
        self.pools = make_pools(seed if pool_seed is None else pool_seed)
        self.rng = random.Random(seed + 1)  # nosec B311 # reproducible synthetic edits

    def edit(self, count: int) -> list[int]:
        """Change ``count`` random patients (not Deleted ones); answers their PatNums."""
        keys = [n for n, row in self.practice.patients.items() if row["PatStatus"] != "Deleted"]
        chosen = self.rng.sample(keys, min(count, len(keys)))
        for pat_num in chosen:
            row = self.practice.patients[pat_num]
            for _ in range(10):  # an edit that happens to write the same value is retried
                if self.practice.update(pat_num, self._random_edit(row)):
                    break
        return chosen

    def delete_random(self) -> int | None:
        """Delete one random live patient (PatStatus Deleted); its PatNum, or None."""
        keys = [n for n, row in self.practice.patients.items() if row["PatStatus"] != "Deleted"]
        if not keys:
            return None
        pat_num = self.rng.choice(keys)
        self.practice.delete(pat_num)
        return pat_num

    def tick(self, delete_share: float) -> list[int]:
        """One change of the background traffic: a deletion with ``delete_share`` odds,
        otherwise an edit. The PatNums touched."""
        if self.rng.random() < delete_share:
            deleted = self.delete_random()
            return [deleted] if deleted is not None else []
        return self.edit(1)

    def _random_edit(self, row: Row) -> Row:
        rng, pools = self.rng, self.pools
        kind = rng.randrange(5)
        if kind == 0:
            return {"WirelessPhone": format_phone(rng, rng.choice(pools.area_codes))}
        if kind == 1:
            return {"EstBalance": float(Decimal(rng.randint(0, 90000)) / 100)}
        if kind == 2:
            return {"PreferContactMethod": rng.choice(CONTACT_METHODS)}
        if kind == 3:
            return {"TxtMsgOk": rng.choice(TXT_MSG_OK)}
        domain = rng.choice(pools.email_domains)
        return {"Email": f"{row['FName']}.{row['LName']}{rng.randint(1, 99)}@{domain}".lower()}

    def add_family_member(self, guarantor: int) -> Row:
        """A new child joins the guarantor's family (same name, address, home phone)."""
        head = self.practice.patients[guarantor]
        rng, pools = self.rng, self.pools
        gender = rng.choice(("Male", "Female"))
        first = rng.choice(pools.male_first if gender == "Male" else pools.female_first)
        today = self.practice.clock().date()
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
        return self.practice.create(values)


class _FamilyBuilder:
    """Draws families of patients from the pools."""

    def __init__(self, rng: random.Random, pools: Pools, today: date, practice: Practice) -> None:
        self.rng = rng
        self.pools = pools
        self.today = today
        self.dentists = [p for p in practice.providers if not p.is_secondary]
        self.hygienists = [p for p in practice.providers if p.is_secondary]
        self.clinics = practice.clinics
        self.billing = {d.item_name: d.def_num for d in practice.billing_types()}

    def family_size(self) -> int:
        return self.rng.choices((1, 2, 3, 4, 5), weights=(45, 22, 15, 12, 6))[0]

    def family(self, first_pat_num: int, size: int) -> list[Row]:
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
            role = "head" if index == 0 else ("spouse" if index == 1 and size > 2 else "child")
            if size == 2 and index == 1:
                role = rng.choice(("spouse", "child"))
            members.append(
                self._patient(
                    pat_num=first_pat_num + index,
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
    ) -> Row:
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
        if status == "Deleted":
            # A practice starts with no Deleted patients: deletions happen while it runs
            # (events, the front desk), where a sync can meet them. (Drawn and remapped, so
            # every other value of a seed stays as it was.)
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
        # The history ends two hours before today's midnight: a sync started just after
        # midnight must not find generated rows inside its one-hour overlap.
        stamp = min(stamp, datetime.combine(today, datetime.min.time()) - timedelta(hours=2))
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
        row: dict[str, Any] = {
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
            "SecProv": hygienist.prov_num if hygienist else 0,
            "FeeSched": rng.choice((0, 0, 0, 0, 53, 54)),
            "BillingType": self.billing[rng.choices(BILLING_TYPES, weights=(85, 8, 4, 2, 1))[0]],
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
            "Premed": "true" if rng.random() < 0.04 else "false",
            "Ward": "",
            "PreferConfirmMethod": _weighted(rng, _CONTACT_WEIGHTS),
            "PreferContactMethod": contact,
            "PreferRecallMethod": _weighted(rng, _CONTACT_WEIGHTS),
            "Language": language,
            "AdmitDate": NO_DATE,
            "DateTStamp": format_datetime(stamp),
            "SuperFamily": 0,
            "TxtMsgOk": txt,
            "SecDateEntry": format_date(entry),
        }
        return row
