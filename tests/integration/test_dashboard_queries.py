"""The dashboard's queries on SQLite and PostgreSQL, each checked against Python over the rows.

Every figure is recomputed here from the raw rows (the oracle) and must match the SQL result
exactly on both databases. Hand-made rows cover the edges: phone and email shapes, names with
LIKE wildcards, duplicates, missing rows, orphan guarantors, birthdays this week.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from odbridge.dashboard import queries as q
from odbridge.store import audit
from odbridge.store.schema import patients, users
from odbridge.store.users import (
    UserError,
    add_user,
    authenticate,
    list_users,
    set_disabled,
    set_password,
)
from tests.browser.seed import insert_patient
from tests.helpers import fill_store

pytestmark = pytest.mark.integration

TODAY = date.today()
Row = dict[str, Any]

ODD_ROWS: list[Row] = [
    # pat_num, then fields; practice "main"
    {
        "pat_num": 80001,
        "lname": "McDonald",
        "fname": "Ronald",
        "wireless_phone": "(503) 555-1234",
        "email": "ron@example.com",
        "address": "1 Main St",
        "city": "portland ",
        "zip": "97201-1234",
        "txt_msg_ok": "Yes",
        "prefer_contact_method": "TextMessage",
        "birthdate": date(1980, 5, 5),
    },
    {
        "pat_num": 80002,
        "lname": "O'Brien",
        "fname": "Sinead",
        "wireless_phone": "503.555.1235",
        "hm_phone": "555-1234",
        "email": "a b@c.com",
        "birthdate": date(1975, 1, 1),
    },
    {
        "pat_num": 80003,
        "lname": "100%Pure",
        "fname": "Under_Score",
        "wk_phone": "+1 503 555 1236",
        "email": "x@@y.com",
        "birthdate": date(2000, 2, 29),
    },
    {
        "pat_num": 80004,
        "lname": "mcdonald",
        "fname": "ronald ",
        "birthdate": date(1980, 5, 5),
        "email": "a@b",
        "guarantor": None,
    },
    {
        "pat_num": 80005,
        "lname": "Orphan",
        "fname": "Olive",
        "guarantor": 99999999,
        "email": "@b.com",
        "wireless_phone": "50355512a4",
    },
    {
        "pat_num": 80006,
        "lname": "Gone",
        "fname": "Gary",
        "missing_since": TODAY,
        "birthdate": TODAY - timedelta(days=365 * 30),
    },
    {
        "pat_num": 80007,
        "lname": "Birthday",
        "fname": "Betty",
        "email": "a@.com",
        "birthdate": q.years_before(TODAY, 30),
        "date_first_visit": TODAY,
        "est_balance": Decimal("-12.50"),
        "bal_total": Decimal("100.25"),
    },
    {
        "pat_num": 80008,
        "lname": "Future",
        "fname": "Fred",
        "birthdate": TODAY + timedelta(days=3),
        "pat_status": "Inactive",
        "est_balance": Decimal("40.00"),
    },
]


def seed(engine: Engine) -> None:
    fill_store(engine, "main", 400, seed=3)
    fill_store(engine, "north", 120, seed=4)
    for row in ODD_ROWS:
        values = dict(row)
        insert_patient(engine, "main", values.pop("pat_num"), **values)


@pytest.fixture
def seeded(store: Engine) -> Engine:
    seed(store)
    return store


def all_rows(engine: Engine) -> list[Row]:
    with engine.connect() as connection:
        return [dict(r) for r in connection.execute(select(patients)).mappings()]


def in_scope(rows: list[Row], practice: str | None) -> list[Row]:
    return [
        r
        for r in rows
        if (practice is None or r["practice"] == practice) and r["missing_since"] is None
    ]


# -- the oracle's definitions ---------------------------------------------------------------
def py_valid_phone(value: str | None) -> bool:
    if value is None:
        return False
    digits = value
    for separator in q.PHONE_SEPARATORS:
        digits = digits.replace(separator, "")
    return len(digits) == 10 and all(ch in "0123456789" for ch in digits)


def py_blank(value: str | None) -> bool:
    return value is None or value.strip(" ") == ""


def py_valid_email(value: str | None) -> bool:
    if value is None or " " in value or value.count("@") != 1:
        return False
    local, domain = value.split("@")
    return bool(local) and any(domain[i] == "." for i in range(1, len(domain) - 1))


def py_active(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r["pat_status"] == q.ACTIVE_STATUS]


# -- overview ---------------------------------------------------------------------------------
@pytest.mark.parametrize("practice", ["main", None])
def test_overview_matches_python_over_the_rows(seeded: Engine, practice: str | None) -> None:
    ov = q.overview(seeded, practice, today=TODAY)
    rows = in_scope(all_rows(seeded), practice)
    active = py_active(rows)

    statuses = Counter(r["pat_status"] or "(none)" for r in rows)
    assert {k: v for k, v in ov.statuses.items() if v} == dict(statuses)
    assert ov.total == len(rows)
    assert ov.active == len(active)

    index = TODAY.year * 12 + TODAY.month - 1 - (q.NEW_PATIENT_MONTHS - 1)
    first_month = date(index // 12, index % 12 + 1, 1)
    months = Counter(
        r["date_first_visit"].replace(day=1)
        for r in rows
        if r["date_first_visit"] and first_month <= r["date_first_visit"] <= TODAY
    )
    assert len(ov.new_by_month) == q.NEW_PATIENT_MONTHS
    assert ov.new_by_month[0][0] == first_month
    assert {m: n for m, n in ov.new_by_month if n} == dict(months)
    assert ov.new_this_month() >= 1  # Betty's first visit is today

    bands: dict[str, list[int]] = {
        g: [0] * len(q.AGE_BANDS) for g in ("Female", "Male", "Other / unknown")
    }
    unknown_age = 0
    for r in active:
        age = q.age_on(r["birthdate"], TODAY)
        if age is None:
            unknown_age += 1
            continue
        index = next(
            i
            for i, (_, low, high) in enumerate(q.AGE_BANDS)
            if age >= low and (high is None or age < high)
        )
        bands[r["gender"] if r["gender"] in ("Female", "Male") else "Other / unknown"][index] += 1
    assert ov.bands_by_gender() == bands
    assert ov.age_unknown() == unknown_age

    assert ov.completeness() == {
        "Valid mobile phone": sum(py_valid_phone(r["wireless_phone"]) for r in active),
        "Valid email": sum(py_valid_email(r["email"]) for r in active),
        "Postal address": sum(
            not py_blank(r["address"]) and not py_blank(r["city"]) and not py_blank(r["zip"])
            for r in active
        ),
        "Text messages OK": sum(r["txt_msg_ok"] == "Yes" for r in active),
    }
    methods = Counter(
        q.CONTACT_LABELS.get(r["prefer_contact_method"], "Other")
        if r["prefer_contact_method"]
        else "Not set"
        for r in active
    )
    assert ov.contact_methods() == dict(methods)

    zero = Decimal("0.00")
    balances = ov.balances()
    assert balances["est_balance"] == sum((r["est_balance"] or zero for r in rows), zero)
    assert balances["est_owing"] == sum(
        (r["est_balance"] for r in rows if r["est_balance"] and r["est_balance"] > 0), zero
    )
    assert balances["est_credit"] == sum(
        (r["est_balance"] for r in rows if r["est_balance"] and r["est_balance"] < 0), zero
    )
    assert balances["bal_total"] == sum((r["bal_total"] or zero for r in rows), zero)
    assert balances["families_owing"] == sum(1 for r in rows if (r["bal_total"] or 0) > 0)

    providers = Counter(r["pri_prov_abbr"] or "(none)" for r in active)
    assert dict(ov.by_provider()) == dict(providers)
    clinics = Counter(r["clinic_abbr"] or "(none)" for r in active)
    assert dict(ov.by_clinic()) == dict(clinics)

    cities = Counter(" ".join((r["city"] or "").split()).title() or "(none)" for r in active)
    top = dict(ov.top_cities)
    assert all(cities[name] == n for name, n in top.items())
    assert min(top.values()) >= sorted(cities.values(), reverse=True)[len(top) - 1]

    start, end = q.week_of(TODAY)
    expected_birthdays = set()
    for r in active:
        b = r["birthdate"]
        if b is None or b > TODAY or TODAY.year - b.year > q.OLDEST_AGE:
            continue
        if any(start <= q.birthday_in(b, y) <= end for y in {start.year, end.year}):
            expected_birthdays.add((r["practice"], r["pat_num"]))
    assert {(b.practice, b.pat_num) for b in ov.birthdays} == expected_birthdays
    assert ov.birthdays_total == len(expected_birthdays)
    betty = next(b for b in ov.birthdays if b.pat_num == 80007)
    assert betty.turns == 30
    assert all(b.pat_num != 80008 for b in ov.birthdays)  # born in the future: not listed
    assert [b.day for b in ov.birthdays] == sorted(b.day for b in ov.birthdays)


def test_overview_counts_filters_without_a_query(seeded: Engine) -> None:
    ov = q.overview(seeded, "main", today=TODAY)
    rows = in_scope(all_rows(seeded), "main")
    clinic, provider = ov.clinics()[0][0], ov.providers()[0][0]
    for status, c, p in [(None, None, None), ("Patient", clinic, None), (None, None, provider)]:
        expected = sum(
            1
            for r in rows
            if (status is None or r["pat_status"] == status)
            and (c is None or r["clinic_num"] == c)
            and (p is None or r["pri_prov"] == p)
        )
        assert ov.count(status, c, p) == expected


def test_freshness_and_practices(seeded: Engine) -> None:
    assert q.practices(seeded) == ["main", "north"]
    found = {f.practice: f for f in q.freshness(seeded, None, sync_every=timedelta(minutes=15))}
    assert found["main"].patients == 407
    assert found["main"].missing == 1
    assert found["main"].last_outcome is None
    assert found["main"].next_expected is None
    assert q.data_version(seeded) == ()


# -- the patients list -----------------------------------------------------------------------
def names(page: q.PatientPage) -> set[int]:
    return {r["pat_num"] for r in page.rows}


def test_search_reads_names_numbers_phones_and_emails(seeded: Engine) -> None:
    def find(text: str, **extra: Any) -> q.PatientPage:
        return q.search_patients(seeded, q.PatientFilter(practice="main", search=text, **extra))

    assert names(find("mcd")) == {80001, 80004}  # case-insensitive, both spellings
    assert names(find("McDonald, ron")) == {80001, 80004}
    assert names(find("ronald mcd")) == {80001, 80004}
    assert names(find("o'b")) == {80002}
    assert names(find("100%")) == {80003}  # the % is a character, not a wildcard
    assert 80003 not in names(find("1_0"))
    assert names(find("%")) == set()
    assert names(find("_")) == set()
    assert 80001 in names(find("80001"))  # a PatNum
    assert names(find("5551234")) >= {80001, 80002}  # phone digits, separators ignored
    assert names(find("(503) 555-1235")) == {80002}
    assert names(find("RON@EXAMPLE")) == {80001}
    assert names(find("Gone")) == set()  # missing rows are left out...
    assert names(find("Gone", include_missing=True)) == {80006}  # ...unless asked for
    injected = find("'; DROP TABLE patients; --")
    assert injected.total == 0
    with seeded.connect() as connection:
        assert connection.execute(select(func.count()).select_from(patients)).scalar_one() == 528


def test_sort_filters_and_pages(seeded: Engine) -> None:
    rows = in_scope(all_rows(seeded), "main")
    active = py_active(rows)
    page = q.search_patients(
        seeded,
        q.PatientFilter(
            practice="main", status="Patient", sort="balance", descending=True, per_page=25
        ),
    )
    assert page.total == len(active)
    assert len(page.rows) == 25
    balances = [r["est_balance"] or Decimal(0) for r in page.rows]
    assert balances == sorted(balances, reverse=True)
    assert balances[0] == max(r["est_balance"] or Decimal(0) for r in active)

    bogus = q.search_patients(seeded, q.PatientFilter(practice="main", sort="ssn; DROP"))
    by_name = q.search_patients(seeded, q.PatientFilter(practice="main", sort="name"))
    assert bogus.rows == by_name.rows  # an unknown sort key falls back to the name

    last = q.search_patients(seeded, q.PatientFilter(practice="main", search="a", page=999))
    assert last.page == last.pages
    assert last.rows
    known = q.search_patients(
        seeded, q.PatientFilter(practice="main", page=2), known_total=len(rows)
    )
    assert known.total == len(rows)
    assert known.page == 2
    assert len(known.rows) == 50


def test_patient_detail_has_every_field_and_the_family(seeded: Engine) -> None:
    rows = in_scope(all_rows(seeded), "main")
    families = Counter(r["guarantor"] for r in rows)
    guarantor = next(g for g, n in families.items() if n >= 3 and g)
    member = next(r for r in rows if r["guarantor"] == guarantor and r["pat_num"] != guarantor)
    detail = q.patient_detail(seeded, "main", member["pat_num"])
    assert detail is not None
    assert set(q.PATIENT_FIELDS) <= set(detail.row)
    assert detail.family[0]["pat_num"] == guarantor
    assert {r["pat_num"] for r in detail.family} == {
        r["pat_num"]
        for r in rows
        if r["guarantor"] == guarantor and r["pat_num"] != member["pat_num"]
    }
    assert q.patient_detail(seeded, "main", 123456789) is None
    orphan = q.patient_detail(seeded, "main", 80005)
    assert orphan is not None
    assert orphan.family == []


# -- data quality ------------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["active", "all"])
def test_quality_lists_match_python(seeded: Engine, which: q.QualityScope) -> None:
    rows = in_scope(all_rows(seeded), "main")
    if which == "active":
        rows = py_active(rows)
    numbers = {r["pat_num"] for r in all_rows(seeded) if r["practice"] == "main"}
    found = q.quality_keys(seeded, "main", which)

    def keys(selected: list[Row]) -> set[tuple[str, int]]:
        return {(r["practice"], r["pat_num"]) for r in selected}

    phone_fields = ("hm_phone", "wk_phone", "wireless_phone")
    assert set(found["phones"]) == keys(
        [
            r
            for r in rows
            if any(not py_blank(r[f]) and not py_valid_phone(r[f]) for f in phone_fields)
        ]
    )
    assert set(found["no_phone"]) == keys(
        [r for r in rows if all(py_blank(r[f]) for f in phone_fields)]
    )
    assert set(found["emails"]) == keys(
        [r for r in rows if not py_blank(r["email"]) and not py_valid_email(r["email"])]
    )
    assert set(found["guarantor"]) == keys(
        [r for r in rows if r["guarantor"] is None or r["guarantor"] not in numbers]
    )
    groups = Counter(
        ((r["lname"] or "").strip().lower(), (r["fname"] or "").strip().lower(), r["birthdate"])
        for r in rows
        if r["birthdate"] and not py_blank(r["lname"])
    )
    duplicates = [
        r
        for r in rows
        if r["birthdate"]
        and not py_blank(r["lname"])
        and groups[
            ((r["lname"] or "").strip().lower(), (r["fname"] or "").strip().lower(), r["birthdate"])
        ]
        > 1
    ]
    assert set(found["duplicates"]) == keys(duplicates)
    assert {("main", 80001), ("main", 80004)} <= set(found["duplicates"])
    assert {("main", 80002), ("main", 80003), ("main", 80005)} <= set(found["phones"])
    assert ("main", 80005) in found["guarantor"]
    assert ("main", 80004) in found["guarantor"]
    listed = q.rows_for(seeded, found["phones"][:7])
    assert [(r["practice"], r["pat_num"]) for r in listed] == found["phones"][:7]


# -- users and the audit log ------------------------------------------------------------------
def test_users_are_hashed_checked_and_listed(store: Engine) -> None:
    admin = add_user(store, "Alice", "correct horse battery", "admin")
    assert admin.username == "alice"
    assert admin.is_admin
    add_user(store, "bob", "another long password")
    with pytest.raises(UserError, match="already"):
        add_user(store, "ALICE", "whatever password")
    with pytest.raises(UserError, match="at least"):
        add_user(store, "carol", "short")
    with pytest.raises(UserError, match="role"):
        add_user(store, "carol", "long enough password", "root")
    with pytest.raises(UserError, match="user name"):
        add_user(store, "no spaces please", "long enough password")
    with store.connect() as connection:
        hashes = connection.execute(select(users.c.password_hash)).scalars().all()
    assert all(h.startswith("$argon2id$") for h in hashes)
    assert not any("correct horse" in h for h in hashes)
    assert authenticate(store, "ALICE", "correct horse battery") is not None
    assert authenticate(store, "alice", "wrong") is None
    assert authenticate(store, "nobody", "correct horse battery") is None
    set_password(store, "alice", "a brand new password")
    assert authenticate(store, "alice", "correct horse battery") is None
    assert authenticate(store, "alice", "a brand new password") is not None
    set_disabled(store, "bob")
    assert authenticate(store, "bob", "another long password") is None
    assert [(u.username, u.role, u.disabled) for u in list_users(store)] == [
        ("alice", "admin", False),
        ("bob", "viewer", True),
    ]
    with pytest.raises(UserError, match="no user"):
        set_password(store, "zed", "long enough password")


def test_audit_entries_round_trip(store: Engine) -> None:
    audit.record(
        store,
        username="alice",
        action="view",
        what="patients",
        rows=50,
        practice="main",
        detail="search(name) page=1",
    )
    (entry,) = audit.entries(store)
    assert (entry.username, entry.action, entry.what, entry.rows) == (
        "alice",
        "view",
        "patients",
        50,
    )


def test_birthdates_in_handles_leap_days_and_year_ends() -> None:
    found = q.birthdates_in(date(2025, 2, 24), date(2025, 3, 2), date(2025, 2, 26))
    assert date(2000, 2, 29) in found  # a 29 February birthday counts on the 28th
    assert date(2025, 2, 24) in found
    assert date(2025, 2, 27) not in found
    assert all(d <= date(2025, 2, 26) for d in found)
    around_new_year = q.birthdates_in(date(2024, 12, 30), date(2025, 1, 5), date(2025, 1, 1))
    assert date(1990, 12, 31) in around_new_year
    assert date(1990, 1, 4) in around_new_year
