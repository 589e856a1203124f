"""Safe Harbor rules one by one: ZIP prefixes, ages and 90+, years, languages, pseudonyms,
the key file, and that every exportable column has a reviewed rule."""

from __future__ import annotations

import logging
import os
import stat
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from odbridge.export.columns import COLUMN_KINDS, DEFAULT_COLUMNS, EXPORTABLE_COLUMNS
from odbridge.export.deidentify import (
    KEY_FILE_ENV,
    RESTRICTED_ZIP3,
    RESTRICTED_ZIP3_2000,
    RESTRICTED_ZIP3_2010,
    RULES,
    Pseudonymizer,
    Rule,
    age_in_year,
    age_label,
    birth_year,
    default_key_file,
    language_code,
    layout,
    load_or_create_key,
    zip3,
)
from odbridge.export.errors import ExportError

pytestmark = pytest.mark.unit

TODAY = date(2026, 6, 15)


def test_every_exportable_column_has_a_reviewed_rule() -> None:
    assert set(RULES) == set(EXPORTABLE_COLUMNS)


@pytest.mark.parametrize(
    "column",
    [
        "lname",
        "fname",
        "middle_i",
        "preferred",
        "ssn",
        "address",
        "address2",
        "city",
        "hm_phone",
        "wk_phone",
        "wireless_phone",
        "email",
        "image_folder",
        "fam_fin_urg_note",
        "chart_number",
        "medicaid_id",
        "employer_num",
        "ward",
        "site_desc",
        "super_family",
    ],
)
def test_identifiers_are_dropped(column: str) -> None:
    assert RULES[column] is Rule.DROP


def test_dates_become_years_and_record_numbers_pseudonyms() -> None:
    dates = [c for c, kind in COLUMN_KINDS.items() if kind in ("date", "datetime")]
    assert all(RULES[c] in (Rule.YEAR, Rule.BIRTHDATE) for c in dates)
    assert RULES["birthdate"] is Rule.BIRTHDATE
    assert (RULES["pat_num"], RULES["guarantor"]) == (Rule.PSEUDONYM, Rule.PSEUDONYM)
    assert RULES["zip"] is Rule.ZIP3


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("97201", "972"),
        ("97201-1234", "972"),
        (" 972", "972"),
        ("03601", "000"),
        ("69201-0001", "000"),
        ("97", None),
        ("", None),
        (None, None),
        ("K1A 0B1", None),
        ("ab972", None),
    ],
)
def test_zip3(value: str | None, expected: str | None) -> None:
    assert zip3(value) == expected


def test_every_restricted_prefix_becomes_000() -> None:
    for prefix in RESTRICTED_ZIP3:
        assert zip3(prefix + "12") == "000"


@pytest.mark.parametrize("prefix", ["205", "369", "753", "772"])
def test_prefixes_small_by_the_2010_census_are_restricted_too(prefix: str) -> None:
    # Missing from the 2000 list HHS publishes; a Safe Harbor export must use current data.
    assert zip3(f"{prefix}01") == "000"
    assert zip3(f"{prefix}99-1234") == "000"


def test_the_restricted_prefixes_are_the_union_of_the_published_lists() -> None:
    assert RESTRICTED_ZIP3 == RESTRICTED_ZIP3_2000 | RESTRICTED_ZIP3_2010
    assert len(RESTRICTED_ZIP3_2000) == 17
    assert sorted(RESTRICTED_ZIP3) == [
        *("036", "059", "063", "102", "203", "205", "369", "556", "692", "753", "772"),
        *("790", "821", "823", "830", "831", "878", "879", "884", "890", "893"),
    ]
    assert zip3("20001") == "200"  # a populous neighbour of 203 and 205 is kept


@pytest.mark.parametrize(
    ("born", "age", "label", "year"),
    [
        (date(2026, 6, 15), 0, "0", 2026),
        (date(1990, 1, 1), 36, "36", 1990),
        (date(1990, 6, 15), 36, "36", 1990),
        (date(1990, 12, 31), 36, "36", 1990),  # not 35: the birthday's side is not told
        (date(1937, 12, 31), 89, "89", 1937),
        (date(1936, 12, 31), 90, "90+", None),  # 90 this year: aggregated already
        (date(1900, 1, 1), 126, "90+", None),
        (date(2030, 1, 1), None, None, None),
        (None, None, None, None),
    ],
)
def test_age_and_birth_year(
    born: date | None, age: int | None, label: str | None, year: int | None
) -> None:
    assert age_in_year(born, TODAY) == age
    assert age_label(age) == label
    assert birth_year(born, TODAY) == year


@pytest.mark.parametrize("year", [1950, 1990, 2000])
def test_the_age_says_nothing_the_birth_year_does_not(year: int) -> None:
    # The attack: export on many days with stable pseudonyms and watch the age change. With
    # month and day used, the day it ticks over is the birthday. From the years alone, every
    # day of the export year gives the same age for every birthday of the birth year.
    ages = {
        age_in_year(date(year, month, day), date(2026, export_month, export_day))
        for month, day in ((1, 1), (2, 29) if year % 4 == 0 else (2, 28), (6, 15), (12, 31))
        for export_month, export_day in ((1, 1), (6, 15), (12, 31))
    }
    assert ages == {2026 - year}


@pytest.mark.parametrize(
    ("value", "expected"),
    [("eng", "eng"), (" SPA ", "spa"), ("Cantonese", "other"), ("", None), (None, None)],
)
def test_language(value: str | None, expected: str | None) -> None:
    assert language_code(value) == expected


def test_pseudonyms() -> None:
    one = Pseudonymizer(b"a" * 32)
    value = one("main", 7)
    # pinned: a pseudonym never changes between odbridge versions (exports made months
    # apart with the same key must join on it)
    assert value == "ceabd92bc51bea60787d9a1802806bed"
    assert one("main", 7) == value
    assert one("main", 8) != value
    assert one("other", 7) != value
    assert Pseudonymizer(b"b" * 32)("main", 7) != value
    assert one("main", None) is None
    assert "a" * 8 not in repr(one)
    with pytest.raises(ValueError, match="32 bytes"):
        Pseudonymizer(b"short")


def test_the_key_is_made_once_private_and_then_reused(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "folder" / "deid.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert load_or_create_key(path) == key
    assert path.read_text(encoding="ascii").strip() == key.hex()
    assert [p.name for p in path.parent.iterdir()] == ["deid.key"]  # no temporary left
    assert load_or_create_key(tmp_path / "another.key") != key


def test_the_key_file_can_be_chosen_by_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "env.key"))
    assert default_key_file() == tmp_path / "env.key"
    key = load_or_create_key()
    assert (tmp_path / "env.key").read_text(encoding="ascii").strip() == key.hex()
    monkeypatch.delenv(KEY_FILE_ENV)
    assert default_key_file().name == "deid.key"
    assert "odbridge" in str(default_key_file())


def test_a_damaged_key_is_refused_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "deid.key"
    path.write_text("not hex at all\n", encoding="ascii")
    with pytest.raises(ExportError, match="not a de-identification key"):
        load_or_create_key(path)
    path.write_text("abcd\n", encoding="ascii")
    with pytest.raises(ExportError, match="Restore the original key"):
        load_or_create_key(path)
    assert path.read_text(encoding="ascii") == "abcd\n"


def test_an_unreadable_key_or_place_is_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="ascii")
    with pytest.raises(ExportError, match=r"Cannot read the de-identification key .*directory"):
        load_or_create_key(blocker / "deid.key")

    def refuse(*args: object, **kwargs: object) -> int:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "open", refuse)
    with pytest.raises(ExportError, match=r"Cannot create .*Permission denied\. Point ODBRIDGE"):
        load_or_create_key(tmp_path / "deid.key")


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o666], ids=oct)
def test_a_key_others_can_open_is_made_private_and_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int
) -> None:
    path = tmp_path / "deid.key"
    key = load_or_create_key(path)
    path.chmod(mode)
    with caplog.at_level(logging.WARNING, logger="odbridge.export"):
        assert load_or_create_key(path) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"the de-identification key {path} was not private" in caplog.text
    assert "made it private (chmod 600)" in caplog.text
    assert key.hex() not in caplog.text


@pytest.mark.parametrize("mode", [0o777, 0o770, 0o757], ids=oct)
def test_a_key_in_a_folder_others_can_change_is_refused(tmp_path: Path, mode: int) -> None:
    # Whoever can change the folder can swap in a key they know, and then recompute the
    # pseudonyms of every later export.
    folder = tmp_path / "keys"
    folder.mkdir()
    load_or_create_key(folder / "deid.key")
    folder.chmod(mode)
    with pytest.raises(ExportError) as caught:
        load_or_create_key(folder / "deid.key")
    assert f"other users can change its folder {folder}" in str(caught.value)
    assert f"chmod go-w {folder}" in str(caught.value)
    with pytest.raises(ExportError, match="not safe to use"):  # nor is one made there
        load_or_create_key(folder / "new.key")
    assert not (folder / "new.key").exists()


def test_layout_of_the_default_columns() -> None:
    found = layout(DEFAULT_COLUMNS, Pseudonymizer(b"k" * 32), TODAY)
    names = [c.name for c in found.columns]
    assert names[0] == "patient_id"
    assert found.selected[:2] == ("practice", "pat_num")
    for dropped in ("lname", "ssn", "zip", "birthdate", "pat_num", "guarantor", "city"):
        assert dropped not in names
    assert {"birth_year", "age", "zip3", "family_id", "date_tstamp_year"} <= set(names)
    kinds = {c.name: c.kind for c in found.columns}
    assert (kinds["birth_year"], kinds["age"], kinds["est_balance"]) == ("int", "text", "money")


def test_layout_transforms_a_row() -> None:
    pseudonymize = Pseudonymizer(b"k" * 32)
    found = layout(
        ["zip", "birthdate", "guarantor", "est_balance", "date_tstamp", "language"],
        pseudonymize,
        TODAY,
    )
    assert found.selected == (
        "practice",
        "pat_num",
        "zip",
        "birthdate",
        "guarantor",
        "est_balance",
        "date_tstamp",
        "language",
    )
    row = (
        "main",
        5,
        "03601-22",
        date(1930, 1, 1),
        4,
        Decimal("1.50"),
        datetime(2025, 3, 4, 5, 6, 7),
        "Tagalog",
    )
    assert found.transform(row) == (
        pseudonymize("main", 5),
        "000",
        None,
        "90+",
        pseudonymize("main", 4),
        Decimal("1.50"),
        2025,
        "other",
    )
    assert [c.name for c in found.columns] == [
        "patient_id",
        "zip3",
        "birth_year",
        "age",
        "family_id",
        "est_balance",
        "date_tstamp_year",
        "language",
    ]
