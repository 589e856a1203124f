"""Safe Harbor: de-identified exports in every format are searched for every identifier of
every patient, and hold nothing else than the allowed values; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from odbridge.export import export
from odbridge.export.deidentify import Pseudonymizer, age_in_year, load_or_create_key
from odbridge.export.fhir import FHIR_COLUMNS, patient_resource
from odbridge.store.audit import entries
from tests.integration.test_export_support import (
    NORTH,
    READERS,
    TODAY,
    prepare_store,
    read_jsonl,
    store_records,
)

pytestmark = pytest.mark.integration

OUTPUTS = {
    "csv": ("csv", False),
    "jsonl": ("jsonl", False),
    "parquet": ("parquet", False),
    "xlsx": ("xlsx", False),
    "ndjson": ("fhir", False),
    "bundle.json": ("fhir", True),
}
KEPT_TEXT = (
    "practice",
    "pat_status",
    "gender",
    "position",
    "state",
    "pri_prov_abbr",
    "sec_prov_abbr",
    "billing_type",
    "clinic_abbr",
    "prefer_confirm_method",
    "prefer_contact_method",
    "prefer_recall_method",
    "txt_msg_ok",
)
"""Text columns a de-identified export keeps: their words are vocabulary, not identifiers."""

IDENTIFYING_TEXT = (
    "lname",
    "fname",
    "preferred",
    "address",
    "address2",
    "city",
    "email",
    "image_folder",
    "fam_fin_urg_note",
    "ward",
    "site_desc",
)
_HEX_ID = re.compile(
    r"\b[0-9a-f]{32}\b|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
)
_WORD = re.compile(r"[^\W\d_]+")
_PHONE_PUNCTUATION = re.compile(r"(?<=\d)[ ()\-.]+(?=\d)")


def digits(value: str | None) -> str:
    return re.sub(r"\D", "", value or "")


def words(value: str | None) -> set[str]:
    return {w for w in _WORD.findall((value or "").lower()) if len(w) >= 2}


def as_text(fmt: str, path: Path) -> str:
    """The export as text: files of text formats as they are, others through their reader."""
    if fmt in ("csv", "jsonl", "fhir"):
        return path.read_text(encoding="utf-8")
    rows = READERS[fmt](path)
    lines = [",".join(map(str, rows[0])) if rows else ""]
    lines += [",".join("" if v is None else str(v) for v in row.values()) for row in rows]
    return "\n".join(lines)


def fixed_fhir_words() -> set[str]:
    """The words a de-identified resource holds whoever the patient is (URIs, codes)."""
    dummy: dict[str, Any] = dict.fromkeys(FHIR_COLUMNS)
    dummy.update(
        practice="p",
        pat_num=1,
        pat_status="Deceased",
        gender="Female",
        position="Single",
        birthdate=date(2000, 1, 1),
        state="x",
        zip="12345",
        pri_prov=1,
        language="eng",
    )
    found: set[str] = set()
    for position in ("Single", "Married", "Widowed", "Divorced", "Child"):
        dummy["position"] = position
        resource = patient_resource(dummy, pseudonymize=Pseudonymizer(b"x" * 32), today=TODAY)
        found |= words(_HEX_ID.sub(" ", json.dumps(resource)))
    return found


def export_all(store: Engine, folder: Path, key: Path, **options: Any) -> dict[str, Path]:
    paths = {}
    for suffix, (fmt, bundle) in OUTPUTS.items():
        path = folder / f"deid.{suffix}"
        result = export(
            store,
            format=fmt,
            out=path,
            deidentify=True,
            fhir_bundle=bundle,
            key_file=key,
            today=TODAY,
            **options,
        )
        assert result.deidentified
        paths[suffix] = path
    return paths


def test_no_identifier_of_any_patient_in_any_format(store: Engine, tmp_path: Path) -> None:
    prepare_store(store, main=600, north=100)
    paths = export_all(store, tmp_path, tmp_path / "deid.key")
    patients = store_records(store, include_missing=True)

    vocabulary = fixed_fhir_words()
    for record in patients:
        for column in KEPT_TEXT:
            vocabulary |= words(record[column])
    for name in read_jsonl(paths["jsonl"])[0]:
        vocabulary |= words(name.replace("_", " "))
    vocabulary |= {"true", "false", "null", "none", "other", "nan"}

    for suffix, (fmt, _) in OUTPUTS.items():
        text = as_text(fmt, paths[suffix])
        bare = _HEX_ID.sub(" ", text)
        found_words = words(bare) - vocabulary
        runs = set(re.findall(r"\d+", bare)) | set(
            re.findall(r"\d+", _PHONE_PUNCTUATION.sub("", bare))
        )
        found_dates = set(re.findall(r"\d{4}-\d{2}-\d{2}", bare))
        lowered = bare.lower()
        emails = set(re.findall(r"[\w.+'-]+@[\w.-]+", lowered))
        skipped: list[str] = []
        for record in patients:
            where = f"{suffix}: patient {record['practice']}/{record['pat_num']}"
            for column in IDENTIFYING_TEXT:
                tokens = words(record[column])
                if column in ("lname", "fname", "preferred"):
                    skipped += sorted(tokens & vocabulary)
                leaked = tokens & found_words
                assert not leaked, f"{where}: {column} {sorted(leaked)}"
            for column in ("hm_phone", "wk_phone", "wireless_phone"):
                number = digits(record[column])
                if len(number) >= 7:
                    assert number not in runs, f"{where}: {column}"
            for column in (
                "ssn",
                "medicaid_id",
                "chart_number",
                "pat_num",
                "guarantor",
                "super_family",
                "employer_num",
            ):
                value = digits(str(record[column])) if record[column] is not None else ""
                if len(value) >= 5:
                    assert value not in runs, f"{where}: {column}"
            if record["zip"] and len(digits(record["zip"])) >= 5:
                assert digits(record["zip"])[:5] not in runs, f"{where}: zip"
            if record["birthdate"]:
                assert record["birthdate"].isoformat() not in found_dates, f"{where}: birthdate"
                assert record["birthdate"].strftime("%Y%m%d") not in runs, f"{where}: birthdate"
            if record["email"]:
                assert record["email"].lower() not in emails, f"{where}: email"
                assert record["email"].lower() not in lowered, f"{where}: email"
        # The vocabulary hides few names (a name that is also a code word is not checkable).
        assert len(skipped) < len(patients) // 100, f"{suffix}: unchecked names {skipped}"


def test_every_value_is_an_allowed_one(store: Engine, tmp_path: Path) -> None:
    """Allow-list: each output column holds only what Safe Harbor permits, in its shape."""
    prepare_store(store, main=500, north=60)
    paths = export_all(store, tmp_path, tmp_path / "deid.key")
    records = store_records(store)
    kept = {column: {r[column] for r in records} for column in KEPT_TEXT}
    hex_id = re.compile(r"[0-9a-f]{32}")
    for suffix in ("csv", "jsonl", "parquet", "xlsx"):
        fmt = OUTPUTS[suffix][0]
        rows = READERS[fmt](paths[suffix])
        assert len(rows) == len(records)
        assert list(rows[0]) == [
            "patient_id",
            "practice",
            "pat_status",
            "gender",
            "position",
            "birth_year",
            "age",
            "state",
            "zip3",
            "family_id",
            "est_balance",
            "pri_prov",
            "pri_prov_abbr",
            "sec_prov",
            "sec_prov_abbr",
            "fee_sched",
            "billing_type",
            "bal_total",
            "date_first_visit_year",
            "clinic_num",
            "clinic_abbr",
            "premed",
            "prefer_confirm_method",
            "prefer_contact_method",
            "prefer_recall_method",
            "language",
            "admit_date_year",
            "date_tstamp_year",
            "txt_msg_ok",
            "sec_date_entry_year",
            "last_synced_at_year",
        ]
        for row, record in zip(rows, records, strict=True):
            assert hex_id.fullmatch(str(row["patient_id"]))
            assert hex_id.fullmatch(str(row["family_id"]))
            for column in KEPT_TEXT:
                assert (row[column] or None) in kept[column] | {None}
            age = age_in_year(record["birthdate"], TODAY)
            if age is None:
                assert row["age"] in ("", None)
                assert row["birth_year"] in ("", None)
            elif age >= 90:
                assert row["age"] == "90+"
                assert row["birth_year"] in ("", None)
            else:
                assert str(row["age"]) == str(age)
                assert str(row["birth_year"]) == str(record["birthdate"].year)
            zip3 = row["zip3"]
            assert zip3 in ("", None) or re.fullmatch(r"\d{3}", str(zip3))
            if record["zip"] and record["zip"][:3] in ("036", "692"):
                assert zip3 == "000"
            assert row["language"] in ("", None, "other") or re.fullmatch(
                r"[a-z]{3}", str(row["language"])
            )
            for column in ("date_first_visit_year", "date_tstamp_year", "sec_date_entry_year"):
                assert row[column] in ("", None) or 1900 <= int(row[column]) <= 2100

    allowed_keys = {
        "resourceType",
        "id",
        "meta",
        "identifier",
        "active",
        "gender",
        "birthDate",
        "deceasedBoolean",
        "address",
        "maritalStatus",
        "communication",
        "generalPractitioner",
    }
    for suffix in ("ndjson", "bundle.json"):
        text = paths[suffix].read_text(encoding="utf-8")
        if suffix == "ndjson":
            resources = [json.loads(line) for line in text.splitlines()]
        else:
            resources = [entry["resource"] for entry in json.loads(text)["entry"]]
        assert len(resources) == len(records)
        for resource, record in zip(resources, records, strict=True):
            assert set(resource) <= allowed_keys
            assert resource["identifier"] == [
                {"system": "urn:odbridge:pseudonym", "value": resource["id"]}
            ]
            for address in resource.get("address", []):
                assert set(address) <= {"use", "state", "postalCode", "country"}
                assert re.fullmatch(r"\d{3}", address.get("postalCode", "000"))
            age = age_in_year(record["birthdate"], TODAY)
            if age is not None and age < 90:
                assert resource["birthDate"] == str(record["birthdate"].year)
            else:
                assert "birthDate" not in resource


def test_pseudonyms_are_stable_per_key_and_differ_between_keys(
    store: Engine, tmp_path: Path
) -> None:
    prepare_store(store, main=120, north=30)
    first, second, other = (tmp_path / n for n in ("a.jsonl", "b.jsonl", "c.jsonl"))
    key = tmp_path / "deid.key"
    export(store, format="jsonl", out=first, deidentify=True, key_file=key)
    export(store, format="jsonl", out=second, deidentify=True, key_file=key)
    export(store, format="jsonl", out=other, deidentify=True, key_file=tmp_path / "other.key")
    ids = [row["patient_id"] for row in read_jsonl(first)]
    assert ids == [row["patient_id"] for row in read_jsonl(second)]
    assert len(set(ids)) == len(ids)
    assert not set(ids) & {row["patient_id"] for row in read_jsonl(other)}
    records = store_records(store)
    pseudonymize = Pseudonymizer(load_or_create_key(key))
    assert ids == [pseudonymize(r["practice"], r["pat_num"]) for r in records]
    # Family: each member's family_id is the guarantor's patient_id.
    by_pat = {(r["practice"], r["pat_num"]): i for r, i in zip(records, ids, strict=True)}
    for row, record in zip(read_jsonl(first), records, strict=True):
        guarantor = (record["practice"], record["guarantor"])
        if guarantor in by_pat:
            assert row["family_id"] == by_pat[guarantor]


def test_chosen_columns_and_filters_work_de_identified(store: Engine, tmp_path: Path) -> None:
    prepare_store(store, main=100, north=40)
    out = tmp_path / "d.csv"
    result = export(
        store,
        format="csv",
        out=out,
        practice=NORTH,
        columns="gender,birthdate,zip,last_synced_at",
        deidentify=True,
        key_file=tmp_path / "k",
        today=TODAY,
        statuses="Patient,NonPatient,Inactive,Archived,Deleted,Deceased,Prospective",
    )
    rows = READERS["csv"](out)
    assert result.rows == len(rows) == 40
    assert list(rows[0]) == [
        "patient_id",
        "gender",
        "birth_year",
        "age",
        "zip3",
        "last_synced_at_year",
    ]
    (entry, *_) = entries(store)
    assert entry.deidentified is True
    assert entry.practice == NORTH
