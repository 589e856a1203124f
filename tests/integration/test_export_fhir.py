"""FHIR export of a whole store: every resource validates (fhir.resources, R4B) and says what
the store says, as NDJSON and as a streamed collection Bundle, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient
from sqlalchemy import Engine

from odbridge.export import export
from odbridge.export.fhir import practice_system, resource_id
from tests.integration.test_export_support import prepare_store, store_records
from tests.unit.test_export_fhir import required_codes_ok

pytestmark = pytest.mark.integration

GENDER = {"Male": "male", "Female": "female", "Other": "other", "Unknown": "unknown"}


def check_against_store(resource: dict[str, Any], record: dict[str, Any]) -> None:
    practice, pat_num = record["practice"], record["pat_num"]
    assert resource["id"] == resource_id(practice, pat_num)
    patnum = resource["identifier"][0]
    assert (patnum["system"], patnum["value"]) == (
        practice_system(practice, "patnum"),
        str(pat_num),
    )
    assert resource["gender"] == GENDER.get(record["gender"] or "Unknown", "unknown")
    birth = record["birthdate"]
    assert resource.get("birthDate") == (birth.isoformat() if birth else None)
    assert resource["active"] is (record["pat_status"] == "Patient")
    assert resource.get("deceasedBoolean") is (True if record["pat_status"] == "Deceased" else None)
    official = resource["name"][0]
    assert official["use"] == "official"
    assert official.get("family") == record["lname"]
    assert official["given"][0] == record["fname"]
    phones = {p["use"]: p["value"] for p in resource.get("telecom", []) if p["system"] == "phone"}
    for use, column in (("home", "hm_phone"), ("work", "wk_phone"), ("mobile", "wireless_phone")):
        assert phones.get(use) == (record[column] or None)
    emails = [p["value"] for p in resource.get("telecom", []) if p["system"] == "email"]
    assert emails == ([record["email"]] if record["email"] else [])
    if record["address"]:
        address = resource["address"][0]
        assert address["line"][0] == record["address"]
        assert (address.get("city"), address.get("postalCode")) == (record["city"], record["zip"])


def test_ndjson_every_resource_validates_and_matches_the_store(
    store: Engine, tmp_path: Path
) -> None:
    prepare_store(store, main=700, north=100)
    out = tmp_path / "patients.ndjson"
    result = export(store, format="fhir", out=out)
    records = store_records(store)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert result.rows == len(lines) == len(records)
    for line, record in zip(lines, records, strict=True):
        Patient.model_validate_json(line)
        resource = json.loads(line)
        required_codes_ok(resource)
        check_against_store(resource, record)


def test_bundle_is_one_valid_collection(store: Engine, tmp_path: Path) -> None:
    prepare_store(store, main=400, north=50)
    out = tmp_path / "bundle.json"
    result = export(store, format="fhir", out=out, fhir_bundle=True, batch_size=64)
    bundle = json.loads(out.read_text(encoding="utf-8"))
    model = Bundle.model_validate(bundle)
    assert model.type == "collection"
    assert result.rows == len(bundle["entry"]) == len(store_records(store))
    urls = [entry["fullUrl"] for entry in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    for entry, record in zip(bundle["entry"], store_records(store), strict=True):
        assert entry["fullUrl"] == f"urn:uuid:{entry['resource']['id']}"
        check_against_store(entry["resource"], record)
