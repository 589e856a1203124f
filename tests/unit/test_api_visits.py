"""Visit models and resources: the documented element shapes parse, and the endpoints page.

The example rows follow Open Dental's documented field order and value forms (money as
``"130.00"`` strings or numbers, ``0001-01-01`` for no date, bool strings, text enums).
"""

from __future__ import annotations

import warnings
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from odbridge.api.client import Client
from odbridge.api.errors import NotFoundError, ResponseFormatError
from odbridge.api.models import UnknownEnumValueWarning
from odbridge.api.models_visits import (
    Appointment,
    AppointmentType,
    ApptStatus,
    Clinic,
    Definition,
    HistAppointment,
    HistApptAction,
    Operatory,
    ProcedureLog,
    ProcStatus,
    Provider,
    ProvStatus,
    Recall,
    RecallType,
)

pytestmark = pytest.mark.unit

APPOINTMENT: dict[str, Any] = {
    "serverDateTime": "2024-06-01 12:00:00",
    "AptNum": 101,
    "PatNum": 35,
    "AptStatus": "Scheduled",
    "Pattern": "//XXXX//",
    "Confirmed": 19,
    "confirmed": "Not Called",
    "TimeLocked": "false",
    "Op": 1,
    "Note": "",
    "ProvNum": 1,
    "provAbbr": "DOC1",
    "ProvHyg": 0,
    "AptDateTime": "2024-06-14 09:00:00",
    "NextAptNum": 0,
    "UnschedStatus": 0,
    "unschedStatus": "",
    "IsNewPatient": "false",
    "ProcDescript": "PA, Ex",
    "ClinicNum": 0,
    "IsHygiene": "true",
    "DateTStamp": "2024-05-30 10:15:02",
    "DateTimeArrived": "0001-01-01 00:00:00",
    "DateTimeSeated": "0001-01-01 00:00:00",
    "DateTimeDismissed": "0001-01-01 00:00:00",
    "InsPlan1": 0,
    "InsPlan2": 0,
    "DateTimeAskedToArrive": "0001-01-01 00:00:00",
    "colorOverride": "0,0,0",
    "AppointmentTypeNum": 0,
    "SecUserNumEntry": 1,
    "SecDateTEntry": "2024-05-30 10:15:02",
    "Priority": "Normal",
    "PatternSecondary": "",
    "ItemOrderPlanned": 0,
}

PROCEDURE: dict[str, Any] = {
    "ProcNum": 5001,
    "PatNum": 35,
    "AptNum": 101,
    "ProcDate": "2024-06-14",
    "ProcFee": "130.00",
    "Surf": "",
    "ToothNum": "",
    "ToothRange": "",
    "Priority": 0,
    "priority": "",
    "ProcStatus": "C",
    "ProvNum": 1,
    "provAbbr": "DOC1",
    "Dx": 0,
    "dxName": "",
    "PlannedAptNum": 0,
    "PlaceService": "Office",
    "Prosthesis": "",
    "DateOriginalProsth": "0001-01-01",
    "ClaimNote": "",
    "DateEntryC": "2024-06-14",
    "ClinicNum": 0,
    "CodeNum": 9,
    "procCode": "D0120",
    "descript": "periodic oral evaluation",
    "UnitQty": 1,
    "BaseUnits": 0,
    "DateTP": "2024-06-14",
    "SiteNum": 0,
    "HideGraphics": "false",
    "CanadianTypeCodes": "",
    "ProcTime": "00:00:00",
    "ProcTimeEnd": "00:00:00",
    "DateTStamp": "2024-06-14 11:02:00",
    "Prognosis": 0,
    "IsLocked": "false",
    "BillingNote": "",
    "Discount": 15.0,
    "IsDateProsthEst": "false",
    "SecDateEntry": "2024-06-14 11:00:00",
    "serverDateTime": "2024-06-15 08:00:00",
}

RECALL: dict[str, Any] = {
    "RecallNum": 12,
    "PatNum": 35,
    "DateDue": "2024-12-14",
    "DatePrevious": "2024-06-14",
    "RecallInterval": "6m1d",
    "RecallStatus": 0,
    "recallStatus": "",
    "Note": "",
    "IsDisabled": "false",
    "DateTStamp": "2024-06-14 11:02:00",
    "RecallTypeNum": 1,
    "DisableUntilBalance": 0.0,
    "DisableUntilDate": "0001-01-01",
    "DateScheduled": "0001-01-01",
    "Priority": "Normal",
    "TimePatternOverride": "",
}

PROVIDER: dict[str, Any] = {
    "ProvNum": 1,
    "Abbr": "DOC1",
    "LName": "Albert",
    "FName": "Brian",
    "MI": "",
    "Suffix": "DMD",
    "FeeSched": 53,
    "Specialty": 0,
    "SSN": "",
    "StateLicense": "",
    "IsSecondary": "false",
    "provColor": "0,255,0",
    "IsHidden": "false",
    "UsingTIN": "false",
    "SigOnFile": "true",
    "NationalProvID": "",
    "DateTStamp": "2024-01-01 08:00:00",
    "IsNotPerson": "false",
    "ProvStatus": "Active",
    "IsHiddenReport": "false",
    "Birthdate": "0001-01-01",
    "SchedNote": "",
    "PreferredName": "",
    "serverDateTime": "2024-06-15 08:00:00",
}


# -- models ---------------------------------------------------------------------------------
def test_appointment_parses_the_documented_element_and_round_trips() -> None:
    apt = Appointment.from_api(APPOINTMENT)
    assert apt.apt_num == 101
    assert apt.pat_num == 35
    assert apt.apt_status is ApptStatus.SCHEDULED
    assert apt.apt_date_time == datetime(2024, 6, 14, 9, 0)
    assert apt.server_date_time == datetime(2024, 6, 1, 12, 0)
    assert apt.is_hygiene is True
    assert apt.time_locked is False
    assert apt.date_time_arrived is None  # 0001-01-01 00:00:00 = none
    assert apt.prov_hyg is None
    assert apt.clinic_num is None
    assert apt.confirmed == 19
    assert apt.confirmed_name == "Not Called"
    assert list(apt.to_api_dict()) == list(APPOINTMENT)
    assert apt.to_api_dict() == APPOINTMENT
    assert Appointment.api_fields()[0] == "serverDateTime"
    assert len(Appointment.api_fields()) == 35


def test_procedure_money_as_string_or_number() -> None:
    proc = ProcedureLog.from_api(PROCEDURE)
    assert proc.proc_fee == Decimal("130.00")
    assert proc.discount == Decimal("15.0")
    assert proc.proc_status is ProcStatus.C
    assert proc.date_original_prosth is None
    assert proc.unit_qty == 1
    assert proc.base_units == 0
    assert ProcedureLog.from_api({**PROCEDURE, "ProcFee": 255}).proc_fee == Decimal(255)
    assert ProcedureLog.from_api({**PROCEDURE, "AptNum": "0"}).apt_num is None  # older docs
    assert ProcedureLog.api_fields()[-1] == "serverDateTime"
    assert len(ProcedureLog.api_fields()) == 41
    with pytest.raises(ResponseFormatError) as caught:
        ProcedureLog.from_api({**PROCEDURE, "ProcFee": "a lot"})
    assert caught.value.field == "ProcFee"


def test_every_proc_status_spelling_is_known() -> None:
    for name in ("TP", "C", "EC", "EO", "R", "D", "Cn", "TPi"):
        assert ProcedureLog.from_api({**PROCEDURE, "ProcStatus": name}).proc_status == name


def test_unknown_enum_names_are_kept_as_text_with_a_warning() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        apt = Appointment.from_api({**APPOINTMENT, "AptStatus": "Teleported"})
        prov = Provider.from_api({**PROVIDER, "ProvStatus": "Retired"})
    assert apt.apt_status == "Teleported"
    assert prov.prov_status == "Retired"
    assert any(issubclass(w.category, UnknownEnumValueWarning) for w in caught)


def test_recall_dates_and_flags() -> None:
    recall = Recall.from_api(RECALL)
    assert recall.date_due == date(2024, 12, 14)
    assert recall.date_scheduled is None
    assert recall.disable_until_date is None
    assert recall.is_disabled is False
    assert recall.disable_until_balance == Decimal("0.0")
    assert Recall.from_api({**RECALL, "IsDisabled": "true"}).is_disabled is True


def test_provider_and_reference_rows() -> None:
    prov = Provider.from_api(PROVIDER)
    assert prov.abbr == "DOC1"
    assert prov.prov_status is ProvStatus.ACTIVE
    assert prov.birthdate is None
    assert prov.sig_on_file is True
    clinic = Clinic.from_api({"ClinicNum": 2, "Description": " Salem ", "Abbr": "SAL"})
    assert clinic.description == " Salem "
    assert clinic.is_hidden is False
    definition = Definition.from_api(
        {
            "DefNum": 293,
            "ItemName": "Standard",
            "ItemValue": "",
            "Category": 4,
            "category": "BillingTypes",
            "isHidden": "false",
        }
    )
    assert definition.category == 4
    assert definition.item_value is None
    op = Operatory.from_api({"OperatoryNum": 3, "OpName": "Hyg 1", "IsHygiene": "true"})
    assert op.is_hygiene is True
    assert op.prov_dentist is None
    apt_type = AppointmentType.from_api(
        {"AppointmentTypeNum": 1, "AppointmentTypeName": "Cleaning", "RequiredProcCodesNeeded": 0}
    )
    assert apt_type.required_proc_codes_needed == "0"  # the doc's example shows a 0
    rtype = RecallType.from_api(
        {"RecallTypeNum": 1, "Description": "Prophy", "AppendToSpecial": "false"}
    )
    assert rtype.description == "Prophy"
    hist = HistAppointment.from_api(
        {
            "HistApptNum": 9,
            "HistApptAction": "Deleted",
            "ApptSource": "None",
            **{k: v for k, v in APPOINTMENT.items() if k != "serverDateTime"},
        }
    )
    assert hist.hist_appt_action is HistApptAction.DELETED
    assert hist.apt_num == 101


def test_repr_shows_only_the_key() -> None:
    text = repr(Provider.from_api(PROVIDER)) + repr(Appointment.from_api(APPOINTMENT))
    assert "prov_num=1" in text
    assert "apt_num=101" in text
    assert "Albert" not in text
    assert "PA, Ex" not in text


# -- endpoints ------------------------------------------------------------------------------
class FakeApi:
    """Appointments by (AptDateTime, AptNum); DateTStamp inclusive; capped Limit."""

    def __init__(self, count: int) -> None:
        self.requests: list[httpx.Request] = []
        self.rows = [
            {
                **APPOINTMENT,
                "AptNum": n,
                "AptDateTime": f"2024-06-{1 + n % 28:02d} 09:00:00",
                "DateTStamp": f"2024-05-{1 + n % 28:02d} 10:00:00",
            }
            for n in range(1, count + 1)
        ]
        self.rows.sort(key=lambda r: (r["AptDateTime"], r["AptNum"]))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix("/api/v1")
        query = request.url.params
        if path.startswith("/appointments/"):
            found = [r for r in self.rows if str(r["AptNum"]) == path.rsplit("/", 1)[1]]
            if not found:
                return httpx.Response(404, json="Appointment not found.")
            return httpx.Response(200, json=found[0])
        if path != "/appointments":
            return httpx.Response(404, json="Not found")
        rows = self.rows
        if "DateTStamp" in query:
            rows = [r for r in rows if r["DateTStamp"] >= query["DateTStamp"]]
        limit = min(int(query.get("Limit", 100)), 100)
        offset = int(query.get("Offset", 0))
        return httpx.Response(200, json=rows[offset : offset + limit])


def client_for(api: FakeApi) -> Client:
    return Client(
        "dev",
        "cust",
        base_url="http://od.test/api/v1",
        rate_interval=0,
        transport=httpx.MockTransport(api),
    )


def test_appointments_page_through_with_mapped_filters() -> None:
    api = FakeApi(230)
    with client_for(api) as client:
        rows = list(client.appointments.list(date_start=date(2024, 1, 1), clinic_num=0))
    assert len(rows) == 230
    assert [r.url.params["Offset"] for r in api.requests] == ["0", "100", "200"]
    assert api.requests[0].url.params["dateStart"] == "2024-01-01"
    assert api.requests[0].url.params["ClinicNum"] == "0"


def test_changed_pages_carry_the_server_clock() -> None:
    api = FakeApi(150)
    with client_for(api) as client:
        pages = list(client.appointments.list(changed_since=datetime(2024, 5, 20, 10, 0)).pages())
    assert api.requests[0].url.params["DateTStamp"] == "2024-05-20 10:00:00"
    stamps = [row.date_tstamp for page in pages for row in page.items]
    assert stamps
    assert all(s is not None and s >= datetime(2024, 5, 20, 10) for s in stamps)
    assert pages[0].server_time == datetime(2024, 6, 1, 12, 0)
    assert [p.offset for p in pages] == [0, 100][: len(pages)]


def test_get_one_and_not_found() -> None:
    api = FakeApi(3)
    with client_for(api) as client:
        assert client.appointments.get(2).apt_num == 2
        with pytest.raises(NotFoundError) as missing:
            client.appointments.get(99)
        assert "Check the AptNum" in missing.value.hint  # not the PatNum
        assert "PatNum" not in str(missing.value)
        with pytest.raises(ValueError, match="AptNum"):
            client.appointments.get(0)
        assert not hasattr(client.clinics, "get")  # the API has no GET /clinics/{n}
