"""The FHIR R4 Patient mapping, resource by resource, validated with fhir.resources (R4B)."""

from __future__ import annotations

import io
import json
from datetime import date
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.patient import Patient

from odbridge.export.deidentify import Pseudonymizer
from odbridge.export.fhir import (
    FHIR_COLUMNS,
    BundleWriter,
    NdjsonWriter,
    patient_resource,
    resource_id,
)
from odbridge.export.languages import ISO639_2_TO_1, bcp47, iso639_2

pytestmark = pytest.mark.unit

TODAY = date(2026, 6, 15)
PSEUDO = Pseudonymizer(b"k" * 32)


def row(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(FHIR_COLUMNS)
    base.update(
        practice="main",
        pat_num=42,
        lname="Rivera",
        fname="Ana",
        middle_i="M",
        pat_status="Patient",
        gender="Female",
        position="Married",
        birthdate=date(1980, 2, 29),
        address="12 Oak St",
        address2="Apt 4",
        city="Salem",
        state="OR",
        zip="97301-1234",
        hm_phone="(503)555-0100",
        wk_phone="503-555-0101",
        wireless_phone="5035550102",
        email="ana@example.com",
        pri_prov=2,
        pri_prov_abbr="DOC2",
        prefer_contact_method="None",
        language="spa",
        txt_msg_ok="Unknown",
    )
    base.update(values)
    return base


REQUIRED_CODES = {
    "gender": {"male", "female", "other", "unknown"},
    "identifier.use": {"usual", "official", "temp", "secondary", "old"},
    "name.use": {"usual", "official", "temp", "nickname", "anonymous", "old", "maiden"},
    "telecom.system": {"phone", "fax", "email", "pager", "url", "sms", "other"},
    "telecom.use": {"home", "work", "temp", "old", "mobile"},
    "address.use": {"home", "work", "temp", "old", "billing"},
}


def required_codes_ok(resource: dict[str, Any]) -> None:
    """The codes of R4's required bindings (fhir.resources does not check value sets)."""
    assert resource["gender"] in REQUIRED_CODES["gender"]
    for element, key in (
        ("identifier", "use"),
        ("name", "use"),
        ("telecom", "system"),
        ("telecom", "use"),
        ("address", "use"),
    ):
        for item in resource.get(element, []):
            if key in item:
                assert item[key] in REQUIRED_CODES[f"{element}.{key}"], (element, key)
    for flag in ("active", "deceasedBoolean"):
        assert resource.get(flag) in (None, True, False)


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource passes fhir.resources' R4B Patient model, and survives it unchanged."""
    model = Patient.model_validate(resource)
    assert json.loads(model.model_dump_json()) == resource
    required_codes_ok(resource)
    return resource


def test_a_full_identified_patient() -> None:
    found = valid(patient_resource(row(preferred="Annie", chart_number="C-77")))
    assert found["id"] == resource_id("main", 42)
    assert found["identifier"][0]["system"] == "urn:odbridge:practice:main:patnum"
    assert found["identifier"][0]["value"] == "42"
    assert found["identifier"][0]["type"]["coding"][0]["code"] == "MR"
    assert found["identifier"][1]["system"] == "urn:odbridge:practice:main:chartnumber"
    assert found["identifier"][1]["value"] == "C-77"
    assert found["name"] == [
        {"use": "official", "family": "Rivera", "given": ["Ana", "M"]},
        {"use": "usual", "family": "Rivera", "given": ["Annie"]},
    ]
    assert found["gender"] == "female"
    assert found["birthDate"] == "1980-02-29"
    assert found["active"] is True
    assert "deceasedBoolean" not in found
    assert found["address"] == [
        {
            "use": "home",
            "line": ["12 Oak St", "Apt 4"],
            "city": "Salem",
            "state": "OR",
            "postalCode": "97301-1234",
            "country": "US",
        }
    ]
    assert found["maritalStatus"]["coding"][0]["code"] == "M"
    assert found["communication"] == [
        {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es"}]}, "preferred": True}
    ]
    assert found["generalPractitioner"] == [
        {
            "identifier": {"system": "urn:odbridge:practice:main:provnum", "value": "2"},
            "display": "DOC2",
        }
    ]


def test_practice_names_are_percent_encoded_in_systems() -> None:
    found = valid(patient_resource(row(practice="North Clinic/2")))
    assert found["identifier"][0]["system"] == "urn:odbridge:practice:North%20Clinic%2F2:patnum"
    assert found["id"] != resource_id("main", 42)


@pytest.mark.parametrize(
    ("gender", "expected"),
    [
        ("Male", "male"),
        ("Female", "female"),
        ("Other", "other"),
        ("Unknown", "unknown"),
        (None, "unknown"),
        ("Nonbinary", "unknown"),
    ],
)
def test_gender(gender: str | None, expected: str) -> None:
    assert valid(patient_resource(row(gender=gender)))["gender"] == expected


@pytest.mark.parametrize(
    ("status", "active", "deceased"),
    [
        ("Patient", True, None),
        ("NonPatient", False, None),
        ("Inactive", False, None),
        ("Archived", False, None),
        ("Deleted", False, None),
        ("Deceased", False, True),
        ("Prospective", False, None),
        ("SomethingNew", None, None),
    ],
)
def test_status_to_active_and_deceased(
    status: str, active: bool | None, deceased: bool | None
) -> None:
    found = valid(patient_resource(row(pat_status=status)))
    assert found.get("active") is active
    assert found.get("deceasedBoolean") is deceased


@pytest.mark.parametrize(
    ("method", "txt_ok", "first"),
    [
        ("HmPhone", "Unknown", ("phone", "home", "(503)555-0100")),
        ("WkPhone", "Unknown", ("phone", "work", "503-555-0101")),
        ("WirelessPh", "Unknown", ("phone", "mobile", "5035550102")),
        ("TextMessage", "Yes", ("sms", "mobile", "5035550102")),
        ("TextMessage", "No", ("phone", "mobile", "5035550102")),
        ("Email", "Unknown", ("email", "home", "ana@example.com")),
    ],
)
def test_the_preferred_contact_has_rank_one(
    method: str, txt_ok: str, first: tuple[str, str, str]
) -> None:
    telecom = valid(patient_resource(row(prefer_contact_method=method, txt_msg_ok=txt_ok)))[
        "telecom"
    ]
    assert (telecom[0]["system"], telecom[0]["use"], telecom[0]["value"]) == first
    assert [point["rank"] for point in telecom] == list(range(1, len(telecom) + 1))


@pytest.mark.parametrize("method", ["None", "DoNotCall", "SeeNotes", "Mail", None])
def test_no_rank_without_a_preferred_contact(method: str | None) -> None:
    telecom = valid(patient_resource(row(prefer_contact_method=method)))["telecom"]
    assert [(p["system"], p["use"]) for p in telecom] == [
        ("phone", "home"),
        ("phone", "work"),
        ("phone", "mobile"),
        ("email", "home"),
    ]
    assert all("rank" not in p for p in telecom)


def test_preferred_but_absent_contact_gives_no_rank() -> None:
    telecom = valid(patient_resource(row(prefer_contact_method="Email", email=None)))["telecom"]
    assert all("rank" not in p for p in telecom)


def test_a_sparse_patient_has_no_empty_elements() -> None:
    sparse = dict.fromkeys(FHIR_COLUMNS)
    sparse.update(practice="main", pat_num=1, pat_status="Patient", lname="  ")
    found = valid(patient_resource(sparse))
    assert set(found) == {"resourceType", "id", "identifier", "active", "gender"}


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("eng", {"coding": [{"system": "urn:ietf:bcp:47", "code": "en"}]}),
        ("FRE", {"coding": [{"system": "urn:ietf:bcp:47", "code": "fr"}]}),
        ("hmn", {"coding": [{"system": "urn:ietf:bcp:47", "code": "hmn"}]}),
        ("Cantonese", {"text": "Cantonese"}),
    ],
)
def test_language(language: str, expected: dict[str, Any]) -> None:
    found = valid(patient_resource(row(language=language)))
    assert found["communication"] == [{"language": expected, "preferred": True}]


def test_language_table() -> None:
    assert len(set(ISO639_2_TO_1.values())) == 183
    assert all(len(k) == 3 and len(v) == 2 for k, v in ISO639_2_TO_1.items())
    assert (bcp47("vie"), bcp47("chi"), bcp47("zho"), bcp47("tgl")) == ("vi", "zh", "zh", "tl")
    assert (iso639_2(" Eng "), iso639_2("Cantonese"), iso639_2(""), iso639_2(None)) == (
        "eng",
        None,
        None,
        None,
    )


def test_deidentified_resource_keeps_nothing_identifying() -> None:
    source = row(preferred="Annie", chart_number="C-77", zip="03601")
    found = valid(patient_resource(source, pseudonymize=PSEUDO, today=TODAY))
    pseudonym = PSEUDO("main", 42)
    assert found["id"] == pseudonym
    assert found["identifier"] == [{"system": "urn:odbridge:pseudonym", "value": pseudonym}]
    assert found["meta"]["security"][0]["code"] == "PSEUDED"
    assert "name" not in found
    assert "telecom" not in found
    assert found["birthDate"] == "1980"
    assert found["address"] == [
        {"use": "home", "state": "OR", "postalCode": "000", "country": "US"}
    ]
    text = json.dumps(found)
    for value in ("Rivera", "Ana", "Annie", "Oak", "Salem", "555", "ana@", "C-77", "03601", '"42"'):
        assert value not in text


def test_deidentified_over_89_has_no_birth_date_and_custom_language_is_left_out() -> None:
    old = row(birthdate=date(1936, 6, 15), language="Cantonese", zip="97301")
    found = valid(patient_resource(old, pseudonymize=PSEUDO, today=TODAY))
    assert "birthDate" not in found
    assert "communication" not in found
    assert found["address"][0]["postalCode"] == "973"
    # The age is from the years alone: born in 1936, 90 in 2026 whatever the day, so withheld.
    late_1936 = row(birthdate=date(1936, 12, 31))
    assert "birthDate" not in valid(patient_resource(late_1936, pseudonymize=PSEUDO, today=TODAY))
    just_89 = valid(
        patient_resource(row(birthdate=date(1937, 1, 1)), pseudonymize=PSEUDO, today=TODAY)
    )
    assert just_89["birthDate"] == "1937"


def test_ndjson_and_bundle_writers() -> None:
    resources = [patient_resource(row(pat_num=n)) for n in range(1, 4)]
    stream = io.StringIO()
    writer = NdjsonWriter(stream)
    writer.write(resources[:2])
    writer.write(resources[2:])
    writer.close()
    lines = stream.getvalue().splitlines()
    assert [json.loads(line) for line in lines] == resources

    stream = io.StringIO()
    bundle_writer = BundleWriter(stream)
    bundle_writer.write(resources[:1])
    bundle_writer.write(resources[1:])
    bundle_writer.close()
    bundle = json.loads(stream.getvalue())
    Bundle.model_validate(bundle)
    assert bundle["type"] == "collection"
    assert [e["resource"] for e in bundle["entry"]] == resources
    assert [e["fullUrl"] for e in bundle["entry"]] == [f"urn:uuid:{r['id']}" for r in resources]


def test_an_empty_bundle_is_valid_fhir() -> None:
    stream = io.StringIO()
    writer = BundleWriter(stream)
    writer.close()
    bundle = json.loads(stream.getvalue())
    assert "entry" not in bundle
    Bundle.model_validate(bundle)


def test_bundle_validation_reaches_into_entries() -> None:
    """Guard: the Bundle model really checks the Patients inside (else the test above is weak)."""
    bad = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Patient", "birthDate": "1980-13-01"}}],
    }
    with pytest.raises(ValueError, match="birthDate"):
        Bundle.model_validate(bad)
