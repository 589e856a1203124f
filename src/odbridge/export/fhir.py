"""Patients as FHIR R4 ``Patient`` resources, written as NDJSON or a ``collection`` Bundle.

The mapping (docs/export.md has the full table):

- ``id``: a UUID derived from (practice, PatNum); de-identified: the pseudonym.
- ``identifier``: PatNum under ``urn:odbridge:practice:<practice>:patnum`` (type MR), and
  ChartNumber under ``…:chartnumber`` when set. De-identified: only the pseudonym, under
  ``urn:odbridge:pseudonym``.
- ``active``: true for PatStatus Patient, false for every other known status;
  ``deceasedBoolean`` true for Deceased.
- ``name``: ``official`` (LName; FName and MiddleI as given names), ``usual`` (Preferred).
- ``telecom``: home, work and mobile phones, SMS (mobile, when TxtMsgOk is Yes) and email;
  the one PreferContactMethod names has rank 1, the others rank 2 onwards.
- ``gender``, ``birthDate``, ``address`` (country US), ``maritalStatus`` (Position),
  ``communication`` (Language: a BCP 47 coding for an ISO 639-2 code, text otherwise),
  ``generalPractitioner`` (the primary and secondary providers, by identifier).

Resources are plain dicts serialised with ``json``: validating each through the
``fhir.resources`` models would cost more than the rest of the export (the tests do it).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, TextIO
from urllib.parse import quote

from odbridge.export.deidentify import Pseudonymizer, birth_year, zip3
from odbridge.export.languages import bcp47, iso639_2
from odbridge.vocab import ContactMethod, Gender, PatStatus, Position

FHIR_COLUMNS: tuple[str, ...] = (
    "practice",
    "pat_num",
    "lname",
    "fname",
    "middle_i",
    "preferred",
    "pat_status",
    "gender",
    "position",
    "birthdate",
    "address",
    "address2",
    "city",
    "state",
    "zip",
    "hm_phone",
    "wk_phone",
    "wireless_phone",
    "email",
    "pri_prov",
    "pri_prov_abbr",
    "sec_prov",
    "sec_prov_abbr",
    "chart_number",
    "prefer_contact_method",
    "language",
    "txt_msg_ok",
)
"""The store columns the mapping reads."""

V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
OBSERVATION_VALUE = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"
BCP47 = "urn:ietf:bcp:47"
PSEUDONYM_SYSTEM = "urn:odbridge:pseudonym"
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:odbridge:patient")

GENDERS: dict[str, str] = {
    Gender.MALE: "male",
    Gender.FEMALE: "female",
    Gender.OTHER: "other",
    Gender.UNKNOWN: "unknown",
}
ACTIVE: dict[str, bool] = {status: status is PatStatus.PATIENT for status in PatStatus}
MARITAL_STATUS: dict[str, tuple[str, str]] = {
    Position.SINGLE: ("S", "Never Married"),
    Position.MARRIED: ("M", "Married"),
    Position.WIDOWED: ("W", "Widowed"),
    Position.DIVORCED: ("D", "Divorced"),
    Position.CHILD: ("U", "unmarried"),
}
PREFERRED_TELECOM: dict[str, str] = {
    ContactMethod.HM_PHONE: "home",
    ContactMethod.WK_PHONE: "work",
    ContactMethod.WIRELESS_PH: "mobile",
    ContactMethod.TEXT_MESSAGE: "sms",
    ContactMethod.EMAIL: "email",
}


def practice_system(practice: str, what: str) -> str:
    """``urn:odbridge:practice:<practice, percent-encoded>:<what>``."""
    return f"urn:odbridge:practice:{quote(practice, safe='')}:{what}"


def resource_id(practice: str, pat_num: int) -> str:
    """The Patient's id: a UUID (version 5) of practice and PatNum, the same every export."""
    return str(uuid.uuid5(_NAMESPACE, f"{practice}\x1f{pat_num}"))


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def patient_resource(
    row: Mapping[str, Any],
    *,
    pseudonymize: Pseudonymizer | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """One store row (a mapping with :data:`FHIR_COLUMNS`) as a Patient resource.

    With ``pseudonymize`` the resource is de-identified (Safe Harbor): no name, telecom,
    street or city, no record numbers; the pseudonym as id and identifier; birth year only
    (none from age 90); the ZIP's first three digits.
    """
    practice: str = row["practice"]
    pat_num: int = row["pat_num"]
    resource: dict[str, Any] = {"resourceType": "Patient"}
    deidentified = pseudonymize is not None
    if pseudonymize is not None:
        pseudonym = pseudonymize(practice, pat_num)
        resource["id"] = pseudonym
        resource["meta"] = {
            "security": [
                {"system": OBSERVATION_VALUE, "code": "PSEUDED", "display": "pseudonymized"}
            ]
        }
        resource["identifier"] = [{"system": PSEUDONYM_SYSTEM, "value": pseudonym}]
    else:
        resource["id"] = resource_id(practice, pat_num)
        resource["identifier"] = _identifiers(row, practice, pat_num)
    status = row["pat_status"]
    if status in ACTIVE:
        resource["active"] = ACTIVE[status]
    if not deidentified:
        names = _names(row)
        if names:
            resource["name"] = names
        telecom = _telecom(row)
        if telecom:
            resource["telecom"] = telecom
    resource["gender"] = GENDERS.get(row["gender"] or "Unknown", "unknown")
    birth = row["birthdate"]
    if birth is not None:
        if not deidentified:
            resource["birthDate"] = birth.isoformat()
        else:
            year = birth_year(birth, today or date.today())
            if year is not None:
                resource["birthDate"] = f"{year:04d}"
    if status == "Deceased":
        resource["deceasedBoolean"] = True
    address = _address(row, deidentified)
    if address:
        resource["address"] = [address]
    marital = MARITAL_STATUS.get(row["position"] or "")
    if marital:
        code, display = marital
        resource["maritalStatus"] = {
            "coding": [{"system": MARITAL, "code": code, "display": display}]
        }
    communication = _communication(row["language"], deidentified)
    if communication:
        resource["communication"] = [communication]
    practitioners = _practitioners(row, practice)
    if practitioners:
        resource["generalPractitioner"] = practitioners
    return resource


def _mr_type(text: str) -> dict[str, Any]:
    return {
        "coding": [{"system": V2_0203, "code": "MR", "display": "Medical record number"}],
        "text": text,
    }


def _identifiers(row: Mapping[str, Any], practice: str, pat_num: int) -> list[dict[str, Any]]:
    found = [
        {
            "use": "usual",
            "type": _mr_type("PatNum"),
            "system": practice_system(practice, "patnum"),
            "value": str(pat_num),
        }
    ]
    chart = _text(row["chart_number"])
    if chart:
        found.append(
            {
                "use": "secondary",
                "type": _mr_type("ChartNumber"),
                "system": practice_system(practice, "chartnumber"),
                "value": chart,
            }
        )
    return found


def _names(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    family = _text(row["lname"])
    given = [g for g in (_text(row["fname"]), _text(row["middle_i"])) if g]
    names: list[dict[str, Any]] = []
    if family or given:
        official: dict[str, Any] = {"use": "official"}
        if family:
            official["family"] = family
        if given:
            official["given"] = given
        names.append(official)
    preferred = _text(row["preferred"])
    if preferred:
        usual: dict[str, Any] = {"use": "usual"}
        if family:
            usual["family"] = family
        usual["given"] = [preferred]
        names.append(usual)
    return names


def _telecom(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    mobile = _text(row["wireless_phone"])
    points: list[tuple[str, dict[str, Any]]] = []
    for key, column, system in (
        ("home", "hm_phone", "phone"),
        ("work", "wk_phone", "phone"),
        ("mobile", "wireless_phone", "phone"),
    ):
        value = _text(row[column])
        if value:
            points.append((key, {"system": system, "value": value, "use": key}))
    if mobile and row["txt_msg_ok"] == "Yes":
        points.append(("sms", {"system": "sms", "value": mobile, "use": "mobile"}))
    email = _text(row["email"])
    if email:
        points.append(("email", {"system": "email", "value": email, "use": "home"}))
    preferred = PREFERRED_TELECOM.get(row["prefer_contact_method"] or "")
    keys = [key for key, _ in points]
    if preferred == "sms" and "sms" not in keys:
        preferred = "mobile"
    if preferred in keys:
        rank = 2
        for key, point in points:
            if key == preferred:
                point["rank"] = 1
            else:
                point["rank"] = rank
                rank += 1
        points.sort(key=lambda item: int(item[1]["rank"]))
    return [point for _, point in points]


def _address(row: Mapping[str, Any], deidentified: bool) -> dict[str, Any] | None:
    address: dict[str, Any] = {}
    if deidentified:
        state, postal = _text(row["state"]), zip3(row["zip"])
    else:
        lines = [line for line in (_text(row["address"]), _text(row["address2"])) if line]
        if lines:
            address["line"] = lines
        city = _text(row["city"])
        if city:
            address["city"] = city
        state, postal = _text(row["state"]), _text(row["zip"])
    if state:
        address["state"] = state
    if postal:
        address["postalCode"] = postal
    if not address:
        return None
    return {"use": "home", **address, "country": "US"}


def _communication(language: str | None, deidentified: bool) -> dict[str, Any] | None:
    text = _text(language)
    if text is None:
        return None
    code = iso639_2(text)
    if code is None:
        if deidentified:
            return None  # custom text is free text: not in a de-identified resource
        return {"language": {"text": text}, "preferred": True}
    return {
        "language": {"coding": [{"system": BCP47, "code": bcp47(code)}]},
        "preferred": True,
    }


def _practitioners(row: Mapping[str, Any], practice: str) -> list[dict[str, Any]]:
    found = []
    for number_column, abbr_column in (
        ("pri_prov", "pri_prov_abbr"),
        ("sec_prov", "sec_prov_abbr"),
    ):
        number = row[number_column]
        if number is None:
            continue
        reference: dict[str, Any] = {
            "identifier": {"system": practice_system(practice, "provnum"), "value": str(number)}
        }
        abbr = _text(row[abbr_column])
        if abbr:
            reference["display"] = abbr
        found.append(reference)
    return found


def full_url(resource: Mapping[str, Any]) -> str:
    """The Bundle entry's ``fullUrl``: ``urn:uuid:`` and the id as a UUID."""
    return f"urn:uuid:{uuid.UUID(hex=str(resource['id']))}"


_encode: Callable[[Any], str] = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class NdjsonWriter:
    """Bulk-data style NDJSON: one Patient per line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, resources: Sequence[Mapping[str, Any]]) -> None:
        self._stream.write("".join(_encode(r) + "\n" for r in resources))

    def close(self) -> None:
        """Nothing to finish: every resource is already written."""


class BundleWriter:
    """A ``Bundle`` of type ``collection``, streamed: the envelope is written around the
    entries as they come, so the whole bundle is never in memory."""

    def __init__(self, stream: TextIO, *, now: datetime | None = None) -> None:
        self._stream = stream
        moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
        stamp = moment.isoformat().replace("+00:00", "Z")
        head = {
            "resourceType": "Bundle",
            "id": str(uuid.uuid4()),
            "meta": {"lastUpdated": stamp},
            "type": "collection",
            "timestamp": stamp,
        }
        stream.write(_encode(head)[:-1])  # leave the object open for "entry"
        self._entries = 0

    def write(self, resources: Sequence[Mapping[str, Any]]) -> None:
        parts = []
        for resource in resources:
            opening = ',"entry":[\n' if self._entries == 0 else ",\n"
            self._entries += 1
            entry = {"fullUrl": full_url(resource), "resource": resource}
            parts.append(opening + _encode(entry))
        self._stream.write("".join(parts))

    def close(self) -> None:
        # FHIR JSON forbids an empty array: with no entries there is no "entry" at all.
        self._stream.write("\n]}\n" if self._entries else "}\n")
