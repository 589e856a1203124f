"""The synthetic practice: reproducible, realistic, in Open Dental's own forms."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime

import pytest

from odbridge.simulator.generate import FrontDesk, generate_practice
from odbridge.simulator.shape import PATIENT_FIELDS

pytestmark = pytest.mark.unit

TODAY = date(2026, 6, 15)


@pytest.fixture(scope="module")
def practice_rows() -> list[dict[str, object]]:
    return list(generate_practice(3000, seed=5, today=TODAY).records())


def test_same_seed_and_day_give_the_same_practice() -> None:
    first = list(generate_practice(500, seed=3, today=TODAY).records())
    second = list(generate_practice(500, seed=3, today=TODAY).records())
    third = list(generate_practice(500, seed=4, today=TODAY).records())
    assert first == second
    assert first != third


def test_every_record_has_the_48_keys_in_order(practice_rows: list[dict[str, object]]) -> None:
    assert all(list(row) == list(PATIENT_FIELDS) for row in practice_rows)
    assert [row["PatNum"] for row in practice_rows] == list(range(1, 3001))


def test_status_mix_is_mostly_patient_with_every_other_kind(
    practice_rows: list[dict[str, object]],
) -> None:
    counts = Counter(row["PatStatus"] for row in practice_rows)
    assert counts["Patient"] / len(practice_rows) > 0.65
    for status in ("Inactive", "Archived", "NonPatient", "Deceased", "Prospective"):
        assert counts[status] > 0, status


def test_ages_run_from_infants_to_95(practice_rows: list[dict[str, object]]) -> None:
    births = [
        datetime.strptime(str(r["Birthdate"]), "%Y-%m-%d").date()
        for r in practice_rows
        if r["Birthdate"] != "0001-01-01"
    ]
    ages = [(TODAY - b).days / 365.25 for b in births]
    assert min(ages) < 2
    assert max(ages) > 90
    assert max(ages) <= 96
    assert any(r["Birthdate"] == "0001-01-01" for r in practice_rows)  # some unknown


def test_families_share_name_and_address_under_a_guarantor(
    practice_rows: list[dict[str, object]],
) -> None:
    by_num = {r["PatNum"]: r for r in practice_rows}
    members = [r for r in practice_rows if r["Guarantor"] != r["PatNum"]]
    assert len(members) > len(practice_rows) * 0.3
    for member in members:
        head = by_num[member["Guarantor"]]
        assert head["Guarantor"] == head["PatNum"]
        assert (member["LName"], member["Address"]) == (head["LName"], head["Address"])


def test_family_balance_total_sits_on_the_guarantor(
    practice_rows: list[dict[str, object]],
) -> None:
    totals: Counter[object] = Counter()
    for row in practice_rows:
        totals[row["Guarantor"]] += round(float(str(row["EstBalance"])) * 100)
    for row in practice_rows:
        expected = totals[row["PatNum"]] if row["Guarantor"] == row["PatNum"] else 0
        assert round(float(str(row["BalTotal"])) * 100) == expected


def test_missing_values_and_phone_formats_look_like_a_real_database(
    practice_rows: list[dict[str, object]],
) -> None:
    phones = [str(r["WirelessPhone"]) for r in practice_rows if r["WirelessPhone"]]
    assert any(p.startswith("(") for p in phones)
    assert any(p.isdigit() and len(p) == 10 for p in phones)
    assert any(len([c for c in p if c.isdigit()]) < 10 for p in phones)  # malformed ones
    assert any(r["Email"] == "" for r in practice_rows)
    assert any(r["DateFirstVisit"] == "0001-01-01" for r in practice_rows)
    assert {r["ClinicNum"] for r in practice_rows} == {1, 2, 3}
    assert len({r["PriProv"] for r in practice_rows}) >= 3
    visits = [
        str(r["DateFirstVisit"]) for r in practice_rows if r["DateFirstVisit"] != "0001-01-01"
    ]
    assert min(visits) < "2012-01-01"
    stamps = [str(r["DateTStamp"]) for r in practice_rows]
    assert max(stamps) <= "2026-06-15 00:00:00"


def test_merge_and_delete_events() -> None:
    practice = generate_practice(20, seed=1, today=TODAY, clock=lambda: datetime(2026, 6, 15, 9))
    practice.merge(3, 4)
    practice.delete(5)
    assert practice.patients[3]["PatStatus"] == "Archived"
    assert practice.patients[5]["PatStatus"] == "Deleted"
    assert practice.patients[5]["Guarantor"] == 5  # Patients.Delete resets the guarantor
    assert practice.patients[5]["DateTStamp"] == "2026-06-15 09:00:00"
    with pytest.raises(KeyError):
        practice.merge(3, 999)


def test_an_update_that_changes_nothing_keeps_the_stamp() -> None:
    now = [datetime(2026, 6, 15, 9)]
    practice = generate_practice(20, seed=1, today=TODAY, clock=lambda: now[0])
    practice.update(4, {"Email": "a@example.com"})
    now[0] = datetime(2026, 6, 15, 10)
    assert practice.update(4, {"Email": "a@example.com"}) is False
    assert practice.patients[4]["DateTStamp"] == "2026-06-15 09:00:00"
    assert practice.update(4, {"Email": "b@example.com"}) is True
    assert practice.patients[4]["DateTStamp"] == "2026-06-15 10:00:00"


def test_derived_text_comes_from_the_reference_tables_when_rendered() -> None:
    practice = generate_practice(60, seed=2, today=TODAY, clock=lambda: datetime(2026, 6, 15))
    row = next(r for r in practice.rows() if r["PriProv"] == 1 and r["BillingType"] == 1)
    stamp = row["DateTStamp"]
    practice.rename_provider(1, "DRX")
    practice.rename_definition(1, "Regular")
    record = practice.render(row)
    assert (record["priProvAbbr"], record["BillingType"]) == ("DRX", "Regular")
    assert record["DateTStamp"] == stamp
    provider = practice.provider(1)
    assert provider is not None
    assert provider.date_t_stamp == "2026-06-15 00:00:00"  # the provider's own row moved


def test_the_front_desk_always_changes_something_and_sometimes_deletes() -> None:
    now = [datetime(2026, 6, 15, 9)]
    practice = generate_practice(200, seed=4, today=TODAY, clock=lambda: now[0])
    desk = FrontDesk(practice, seed=4)
    now[0] = datetime(2026, 6, 15, 12)
    touched = desk.edit(50)
    assert all(practice.patients[n]["DateTStamp"] == "2026-06-15 12:00:00" for n in touched)
    ticked = [n for _ in range(40) for n in desk.tick(delete_share=0.5)]
    deleted = [n for n in ticked if practice.patients[n]["PatStatus"] == "Deleted"]
    assert 5 < len(deleted) < 35
    assert all(practice.patients[n]["Guarantor"] == n for n in deleted)
