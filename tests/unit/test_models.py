"""Patient models: no-value forms, tolerance, PHI-free errors, and a round-trip property."""

from __future__ import annotations

import string
import warnings
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odbridge.api.errors import ResponseFormatError
from odbridge.api.models import (
    PATIENT_FIELDS,
    SUMMARY_FIELDS,
    ContactMethod,
    Gender,
    Patient,
    PatientSummary,
    PatStatus,
    Position,
    UnknownEnumValueWarning,
    YesNoUnknown,
)
from tests.helpers import examples

pytestmark = pytest.mark.unit

TEXT = [
    "LName",
    "FName",
    "MiddleI",
    "Preferred",
    "SSN",
    "Address",
    "Address2",
    "City",
    "State",
    "Zip",
    "HmPhone",
    "WkPhone",
    "WirelessPhone",
    "Email",
    "priProvAbbr",
    "secProvAbbr",
    "BillingType",
    "ImageFolder",
    "FamFinUrgNote",
    "ChartNumber",
    "MedicaidID",
    "clinicAbbr",
    "Ward",
    "Language",
    "siteDesc",
]
KEYS = ["Guarantor", "PriProv", "SecProv", "FeeSched", "EmployerNum", "ClinicNum", "SuperFamily"]
DATES = ["Birthdate", "DateFirstVisit", "AdmitDate", "SecDateEntry"]
MONEY = ("EstBalance", "BalTotal")
ENUMS: dict[str, tuple[str, ...]] = {
    "PatStatus": tuple(PatStatus),
    "Gender": tuple(Gender),
    "Position": tuple(Position),
    "PreferConfirmMethod": tuple(ContactMethod),
    "PreferContactMethod": tuple(ContactMethod),
    "PreferRecallMethod": tuple(ContactMethod),
    "TxtMsgOk": tuple(YesNoUnknown),
}


def sample(**changes: Any) -> dict[str, Any]:
    """A realistic patient row as the API sends it."""
    row: dict[str, Any] = {
        "PatNum": 42,
        "LName": "Lopez",
        "FName": "Ana",
        "MiddleI": "M",
        "Preferred": "",
        "PatStatus": "Patient",
        "Gender": "Female",
        "Position": "Married",
        "Birthdate": "1980-02-29",
        "SSN": "123456789",
        "Address": "1 Main St",
        "Address2": "",
        "City": "Portland",
        "State": "OR",
        "Zip": "97201",
        "HmPhone": "(503)555-1234",
        "WkPhone": "",
        "WirelessPhone": "5035550000",
        "Guarantor": 42,
        "Email": "ana@example.com",
        "EstBalance": Decimal("12.50"),
        "PriProv": 1,
        "priProvAbbr": "DOC1",
        "SecProv": 0,
        "secProvAbbr": "",
        "FeeSched": 0,
        "BillingType": "Standard Account",
        "ImageFolder": "LopezAna42",
        "FamFinUrgNote": "",
        "ChartNumber": "",
        "MedicaidID": "",
        "BalTotal": Decimal("0"),
        "EmployerNum": 0,
        "DateFirstVisit": "2015-06-01",
        "ClinicNum": 0,
        "clinicAbbr": "",
        "Premed": "false",
        "Ward": "",
        "PreferConfirmMethod": "TextMessage",
        "PreferContactMethod": "None",
        "PreferRecallMethod": "Email",
        "Language": "eng",
        "AdmitDate": "0001-01-01",
        "siteDesc": "",
        "DateTStamp": "2024-03-05 14:15:16",
        "SuperFamily": 0,
        "TxtMsgOk": "Yes",
        "SecDateEntry": "2015-06-01",
    }
    row.update(changes)
    return row


def test_documented_fields_in_order() -> None:
    assert len(PATIENT_FIELDS) == 48
    assert PATIENT_FIELDS[:3] == ("PatNum", "LName", "FName")
    assert PATIENT_FIELDS[-3:] == ("SuperFamily", "TxtMsgOk", "SecDateEntry")
    assert list(sample()) == list(PATIENT_FIELDS)
    assert len(SUMMARY_FIELDS) == 25
    assert SUMMARY_FIELDS[-1] == "TxtMsgOk"


def test_parses_a_full_row_into_python_types() -> None:
    patient = Patient.from_api(sample())
    assert patient.pat_num == 42
    assert patient.lname == "Lopez"
    assert patient.pat_status is PatStatus.PATIENT
    assert patient.prefer_contact_method is ContactMethod.NONE
    assert patient.txt_msg_ok is YesNoUnknown.YES
    assert patient.birthdate == date(1980, 2, 29)
    assert patient.date_tstamp == datetime(2024, 3, 5, 14, 15, 16)
    assert patient.est_balance == Decimal("12.50")
    assert patient.premed is False
    assert patient.guarantor == 42


def test_no_value_forms_become_none() -> None:
    patient = Patient.from_api(
        sample(
            Preferred="",
            AdmitDate="0001-01-01",
            DateTStamp="0001-01-01 00:00:00",
            SecProv=0,
            FeeSched=0,
            EmployerNum=0,
            ClinicNum=0,
            SuperFamily=0,
            Guarantor=0,
            PriProv=0,
            Gender="",
        )
    )
    assert patient.preferred is None
    assert patient.admit_date is None
    assert patient.date_tstamp is None
    for attr in ("sec_prov", "fee_sched", "employer_num", "clinic_num", "super_family"):
        assert getattr(patient, attr) is None
    assert patient.guarantor is None
    assert patient.pri_prov is None
    assert patient.gender is None


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("false", False), ("True", True)])
def test_true_false_strings_become_bools(raw: str, expected: bool) -> None:
    assert Patient.from_api(sample(Premed=raw)).premed is expected


def test_money_is_exact_decimal_from_float_or_string() -> None:
    assert Patient.from_api(sample(EstBalance=0.1)).est_balance == Decimal("0.1")
    assert Patient.from_api(sample(EstBalance="-25.75")).est_balance == Decimal("-25.75")
    assert Patient.from_api(sample(BalTotal=3)).bal_total == Decimal(3)


def test_number_where_a_string_is_documented_is_kept_as_text() -> None:
    patient = Patient.from_api(sample(Zip=97201, ChartNumber=Decimal("12.0"), SSN=0))
    assert patient.zip == "97201"
    assert patient.chart_number == "12"
    assert patient.ssn == "0"


def test_unknown_enum_value_is_kept_and_warned_once() -> None:
    with pytest.warns(UnknownEnumValueWarning, match="PatStatus.*'Transferredqz'"):
        patient = Patient.from_api(sample(PatStatus="Transferredqz"))
    assert patient.pat_status == "Transferredqz"
    assert not isinstance(patient.pat_status, PatStatus)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Patient.from_api(sample(PatStatus="Transferredqz"))
    assert not [w for w in caught if issubclass(w.category, UnknownEnumValueWarning)]
    assert Patient.from_api(sample(PatStatus="Transferredqz")).to_api_dict()["PatStatus"] == (
        "Transferredqz"
    )


def test_unknown_enum_warning_does_not_quote_free_text() -> None:
    odd = "Ana Lopez, 1 Main St"
    with pytest.warns(UnknownEnumValueWarning) as record:
        Patient.from_api(sample(Gender=odd))
    assert all(odd not in str(w.message) for w in record)


def test_enum_names_match_case_insensitively() -> None:
    assert Patient.from_api(sample(Position="single")).position is Position.SINGLE


def test_unknown_field_is_kept_as_extra_after_documented_keys() -> None:
    patient = Patient.from_api(sample(NewThing="x", Another=[1, 2]))
    assert patient.model_extra == {"NewThing": "x", "Another": [1, 2]}
    out = patient.to_api_dict()
    assert list(out)[-2:] == ["NewThing", "Another"]


def test_missing_optional_fields_are_tolerated() -> None:
    patient = Patient.from_api({"PatNum": 7})
    assert patient.lname is None
    assert patient.premed is False
    assert len(patient.to_api_dict()) == 48


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("PatNum", "Lopez-Ana", "expected an integer"),
        ("PatNum", True, "expected an integer"),
        ("PatNum", 4.5, "expected an integer"),
        ("Birthdate", "Feb 29 1980 Lopez", "expected a date"),
        ("DateTStamp", "yesterday at Lopez", "expected a date-time"),
        ("Premed", "Lopez-yes", 'expected "true" or "false"'),
        ("EstBalance", "Lopez dollars", "expected a number"),
        ("LName", {"first": "Lopez"}, "expected a string"),
        ("Guarantor", "Lopez Sr", "expected an integer"),
        ("Gender", ["Lopez"], "expected a Gender name"),
    ],
)
def test_malformed_values_raise_a_phi_free_format_error(
    field: str, value: object, problem: str
) -> None:
    with pytest.raises(ResponseFormatError) as caught:
        Patient.from_api(sample(**{field: value}), row=3)
    error = caught.value
    assert error.field == field
    assert problem in error.problem
    text = f"{error} {error!r} {error.args}"
    assert f"{field}: {problem}" in text
    assert "(row 3)" in text
    assert "Lopez" not in text
    assert "Ana" not in text
    assert error.__cause__ is None
    assert error.__suppress_context__


def test_missing_patnum_and_non_object_rows() -> None:
    with pytest.raises(ResponseFormatError, match="PatNum: missing"):
        Patient.from_api({"LName": "Lopez"})
    with pytest.raises(ResponseFormatError, match=r"format\. Expected a JSON object"):
        Patient.from_api(["Lopez"])


def test_several_bad_fields_are_named_without_values() -> None:
    with pytest.raises(ResponseFormatError) as caught:
        Patient.from_api(sample(PatNum="x1", Birthdate="Lopez", Zip=["97201"]))
    message = str(caught.value)
    assert "PatNum" in message
    assert "Birthdate" in message
    assert "Zip" in message
    assert "Lopez" not in message
    assert "97201" not in message


def test_repr_and_str_show_only_the_id() -> None:
    patient = Patient.from_api(sample())
    for text in (repr(patient), str(patient), repr(PatientSummary.from_api(sample()))):
        assert "42" in text
        assert "Lopez" not in text
        assert "123456789" not in text
        assert "Portland" not in text


def test_summary_row_parses() -> None:
    row = {name: sample().get(name, "") for name in SUMMARY_FIELDS}
    summary = PatientSummary.from_api(row)
    assert summary.pat_num == 42
    assert summary.pat_status is PatStatus.PATIENT
    assert summary.to_api_dict() == {**row, "ClinicNum": 0}


def test_server_date_time_leads_when_present_and_is_absent_otherwise() -> None:
    with_stamp = Patient.from_api({"serverDateTime": "2024-05-06 07:08:09", **sample()})
    assert with_stamp.server_date_time == datetime(2024, 5, 6, 7, 8, 9)
    assert next(iter(with_stamp.to_api_dict())) == "serverDateTime"
    assert "serverDateTime" not in Patient.from_api(sample()).to_api_dict()


def test_snake_case_names_build_a_model() -> None:
    patient = Patient(pat_num=5, lname="Kim", pat_status=PatStatus.INACTIVE)
    assert patient.to_api_dict()["LName"] == "Kim"
    assert patient.to_api_dict()["PatStatus"] == "Inactive"


# -- the round-trip property ------------------------------------------------------------------

_printable = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=25
)
_dates = st.dates(date(1850, 1, 1), date(2100, 12, 31)).map(date.isoformat)
_datetimes = st.datetimes(datetime(1900, 1, 1), datetime(2100, 12, 31)).map(
    lambda d: d.strftime("%Y-%m-%d %H:%M:%S")
)
_money = st.decimals(
    min_value=-1_000_000, max_value=1_000_000, places=2, allow_nan=False, allow_infinity=False
)
_odd_name = st.builds(
    str.__add__,
    st.sampled_from(string.ascii_uppercase),
    st.text(string.ascii_letters, min_size=2, max_size=12),
)


def _enum_values(members: tuple[str, ...]) -> st.SearchStrategy[str]:
    known = {m.casefold() for m in members}
    odd = _odd_name.filter(lambda s: s.casefold() not in known)
    return st.one_of(st.sampled_from(members), st.just(""), odd)


def _field_strategy(name: str) -> st.SearchStrategy[Any]:
    if name == "PatNum":
        return st.integers(1, 10**9)
    if name == "Zip":
        return st.one_of(_printable, st.integers(0, 99999))
    if name in TEXT:
        return st.one_of(st.just(""), _printable)
    if name in KEYS:
        return st.one_of(st.just(0), st.integers(1, 10**6))
    if name in DATES:
        return st.one_of(st.just("0001-01-01"), _dates)
    if name == "DateTStamp":
        return st.one_of(st.just("0001-01-01 00:00:00"), _datetimes)
    if name in MONEY:
        return st.one_of(_money, _money.map(float))
    if name == "Premed":
        return st.sampled_from(["true", "false"])
    return _enum_values(ENUMS[name])


@st.composite
def api_patients(draw: st.DrawFn) -> dict[str, Any]:
    """Any patient row of the documented shape, no-value forms and odd enum names included."""
    row: dict[str, Any] = {}
    if draw(st.booleans()):
        row["serverDateTime"] = draw(_datetimes)
    for name in PATIENT_FIELDS:
        row[name] = draw(_field_strategy(name))
    return row


def _semantic(row: dict[str, Any]) -> dict[str, Any]:
    """Equal for equal meaning: money as Decimal, a numeric Zip as its text."""
    out = dict(row)
    for name in MONEY:
        out[name] = Decimal(str(out[name]))
    if isinstance(out["Zip"], int):
        out["Zip"] = str(out["Zip"])
    return out


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.too_slow])
@given(api_patients())
def test_any_documented_patient_round_trips(row: dict[str, Any]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownEnumValueWarning)
        patient = Patient.model_validate(row)
        out = patient.to_api_dict()
        again = Patient.model_validate(out)
    assert list(out) == list(row)
    assert _semantic(out) == _semantic(row)
    assert again == patient
