"""Appointments as FHIR R4 ``Appointment`` resources (NDJSON or a ``collection`` Bundle).

- ``id``: a UUID of (practice, AptNum); ``identifier``: AptNum under
  ``urn:odbridge:practice:<practice>:aptnum``.
- ``status`` from AptStatus: Scheduled → booked, Complete → fulfilled, Broken → noshow,
  UnschedList → waitlist, Planned → proposed, ASAP → booked. Patient notes (PtNote,
  PtNoteCompleted) are not appointments and are not exported.
- ``start``/``end``: AptDateTime (the practice's local time) with the UTC offset given (the
  API's times carry no zone), ``end`` = start + 5 minutes per Pattern character;
  ``minutesDuration`` likewise.
- ``participant``: the patient (``Patient/<id>``, the same id as the Patient export) and the
  provider and hygienist (by identifier), ``required``/``accepted``.
- ``serviceType`` text: ProcDescript; ``comment``: Note. De-identified: the patient is the
  pseudonym, start/end/comment/serviceType are dropped (only the year is kept, as an
  extension-free ``description`` "year NNNN").
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from odbridge.export.deidentify import Pseudonymizer
from odbridge.export.fhir import practice_system, resource_id

APPOINTMENT_COLUMNS: tuple[str, ...] = (
    "practice",
    "apt_num",
    "pat_num",
    "apt_status",
    "apt_date_time",
    "pattern",
    "prov_num",
    "prov_abbr",
    "prov_hyg",
    "proc_descript",
    "note",
    "is_new_patient",
    "confirmed_name",
)
"""The store columns an Appointment resource is built from."""

STATUS = {
    "Scheduled": "booked",
    "ASAP": "booked",
    "Complete": "fulfilled",
    "Broken": "noshow",
    "UnschedList": "waitlist",
    "Planned": "proposed",
}
"""AptStatus → FHIR AppointmentStatus (PtNote and PtNoteCompleted are not exported)."""

_NAMESPACE = uuid.UUID("0d7a5f5e-6a7b-4f1e-9b0c-61707074a001")


def appointment_id(practice: str, apt_num: int) -> str:
    """The Appointment's id: a UUID (version 5) of practice and AptNum."""
    return str(uuid.uuid5(_NAMESPACE, f"{practice}\x1f{apt_num}"))


def appointment_resource(
    row: Mapping[str, Any],
    *,
    offset: timedelta,
    pseudonymize: Pseudonymizer | None = None,
) -> dict[str, Any] | None:
    """One appointment as an R4 Appointment (None for a patient note)."""
    status = STATUS.get(str(row["apt_status"] or ""))
    if status is None:
        return None
    practice, apt_num = str(row["practice"]), int(row["apt_num"])
    resource: dict[str, Any] = {
        "resourceType": "Appointment",
        "id": appointment_id(practice, apt_num),
        "status": status,
    }
    if pseudonymize is None:
        resource["identifier"] = [
            {"system": practice_system(practice, "aptnum"), "value": str(apt_num)}
        ]
    minutes = 5 * len(row["pattern"] or "")
    when: datetime | None = row["apt_date_time"]
    if when is not None and pseudonymize is None:
        start = when.replace(tzinfo=timezone(offset))
        resource["start"] = start.isoformat()
        if minutes:
            resource["end"] = (start + timedelta(minutes=minutes)).isoformat()
            resource["minutesDuration"] = minutes
    elif when is not None:
        resource["description"] = f"year {when.year}"
    if pseudonymize is None:
        if row["proc_descript"]:
            resource["serviceType"] = [{"text": str(row["proc_descript"])}]
        if row["note"]:
            resource["comment"] = str(row["note"])
    participants: list[dict[str, Any]] = []
    pat_num = row["pat_num"]
    if pat_num is not None:
        patient_id = (
            pseudonymize(practice, int(pat_num))
            if pseudonymize is not None
            else resource_id(practice, int(pat_num))
        )
        participants.append(
            {
                "actor": {"reference": f"Patient/{patient_id}"},
                "required": "required",
                "status": "accepted",
            }
        )
    for column in ("prov_num", "prov_hyg"):
        number = row[column]
        if number is None or (column == "prov_hyg" and number == row["prov_num"]):
            continue
        actor: dict[str, Any] = {
            "identifier": {"system": practice_system(practice, "provnum"), "value": str(number)}
        }
        if column == "prov_num" and row["prov_abbr"]:
            actor["display"] = str(row["prov_abbr"])
        participants.append({"actor": actor, "required": "required", "status": "accepted"})
    if not participants:  # R4 requires one; an appointment always has its patient
        participants.append({"status": "needs-action", "required": "information-only"})
    resource["participant"] = participants
    return resource
