"""Property tests against arbitrary input: models, paging and the patients resource.

- Any JSON value into ``Patient.from_api`` / ``PatientSummary.from_api`` either parses or
  raises ``ResponseFormatError`` (never another exception), and the error's text and repr
  never contain the input's strings (patient data).
- paging with any page size and any server cap it can meet terminates and yields every
  row once, in order; so does iterating ``client.patients.list()`` against a fake server.
- Dates of any year round-trip through a model and back to the API's form.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from odbridge.api.client import Client
from odbridge.api.errors import ResponseFormatError
from odbridge.api.models import PATIENT_FIELDS, Patient, PatientSummary, UnknownEnumValueWarning
from odbridge.api.paging import KNOWN_CAPS, Page
from odbridge.api.retry import RetryPolicy
from tests.helpers import examples

pytestmark = pytest.mark.unit

# -- arbitrary JSON --------------------------------------------------------------------------

OPEN, CLOSE = "\u00ab", "\u00bb"  # « »: wrap every "patient" string so a leak can be spotted

_secret_text = st.text(max_size=20).map(lambda text: f"{OPEN}{text}{CLOSE}")
"""Strings that stand for patient data: they must never reach an error's text."""

_api_like_text = st.one_of(
    st.sampled_from(
        ["", "0", "-1", "12", "0.5", "true", "false", "True", "Patient", "Male", "Yes", "eng"]
    ),
    st.sampled_from(["0001-01-01", "0001-01-01 00:00:00", "2024-02-29", "2024-02-30"]),
    st.dates().map(date.isoformat),
    st.datetimes().map(lambda d: d.strftime("%Y-%m-%d %H:%M:%S")),
    st.integers().map(str),
)
"""Strings shaped like the API's values, so parsing goes deep, not only to the first error."""

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    _secret_text,
    _api_like_text,
)
_keys = st.one_of(_secret_text, st.sampled_from(PATIENT_FIELDS))
_json_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(_secret_text, st.sampled_from(PATIENT_FIELDS)), inner, max_size=4
        ),
    ),
    max_leaves=12,
)


@st.composite
def patient_like_objects(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON object with some of the documented keys (any values) and some unknown ones."""
    keys = draw(st.lists(st.sampled_from(("serverDateTime", *PATIENT_FIELDS)), unique=True))
    row = {key: draw(_json_values) for key in keys}
    extras = draw(st.dictionaries(_secret_text, _json_values, max_size=3))
    row.update(extras)
    return row


_anything = st.one_of(_json_values, patient_like_objects())


def _strings_in(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings_in(key)
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def _assert_no_leak(exc: ResponseFormatError, data: object) -> None:
    text = f"{exc}\n{exc!r}\n{exc.field}\n{exc.problem}"
    assert OPEN not in text
    assert CLOSE not in text
    # A value quoted whole would bring its markers; a part of one is looked for too, when long
    # enough not to match the message's own words by chance (hypothesis once drew "/api/").
    for value in _strings_in(data):
        if value.startswith(OPEN) and len(value) > 13:
            assert value[1:-1] not in text


Model = Patient | PatientSummary


def _parse(model: type[Model], data: object) -> tuple[Model | None, ResponseFormatError | None]:
    """The parsed row, or the ResponseFormatError it raised (any other exception escapes)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownEnumValueWarning)
        try:
            return model.from_api(data, row=3), None
        except ResponseFormatError as exc:
            return None, exc


@settings(max_examples=examples(250), suppress_health_check=[HealthCheck.too_slow])
@given(data=_anything, model=st.sampled_from([Patient, PatientSummary]))
def test_any_json_parses_or_raises_a_phi_free_response_format_error(
    data: object, model: type[Model]
) -> None:
    parsed, error = _parse(model, data)
    if error is not None:
        _assert_no_leak(error, data)
        assert error.row == 3
        return
    assert parsed is not None
    # What parsed serialises back to JSON, and parses again to the same model.
    again, _ = _parse(model, json.loads(json.dumps(parsed.to_api_dict(), default=str)))
    assert again is not None
    assert again.pat_num == parsed.pat_num
    assert repr(parsed) == f"{model.__name__}(pat_num={parsed.pat_num!r})"  # no PHI in repr


@settings(max_examples=examples(150))
@given(value=_scalars, field=st.sampled_from(PATIENT_FIELDS))
def test_a_wrong_value_names_its_field_but_never_quotes_it(value: object, field: str) -> None:
    row = {"PatNum": 1, field: value}
    _, error = _parse(Patient, row)
    if error is not None:
        assert error.field == field
        _assert_no_leak(error, row)


@settings(max_examples=examples(100))
@given(
    birthdate=st.dates(min_value=date(2, 1, 1)),  # year 1 is Open Dental's "no date"
    stamp=st.datetimes(min_value=datetime(2, 1, 1)),
)
def test_dates_of_any_year_round_trip_in_the_api_form(birthdate: date, stamp: datetime) -> None:
    stamp = stamp.replace(microsecond=0)
    row = {
        "PatNum": 1,
        "Birthdate": birthdate.isoformat(),
        "DateTStamp": stamp.isoformat(sep=" "),
    }
    out = Patient.from_api(row).to_api_dict()
    assert out["Birthdate"] == row["Birthdate"]
    assert out["DateTStamp"] == row["DateTStamp"]
    assert Patient.from_api(out).birthdate == birthdate


# -- paging ----------------------------------------------------------------------------------


@st.composite
def paging_cases(draw: st.DrawFn) -> tuple[int, int, int, int]:
    """(rows on the server, client page size, server cap, start offset).

    The cap is one the client can meet: a documented one (100, 1000, 10,000, which paging
    recognises in a short page) or at least the page size asked for.
    """
    total = draw(st.integers(0, 2500))
    limit = draw(st.one_of(st.integers(1, 40), st.integers(1, 12_000)))
    cap = draw(st.one_of(st.sampled_from(sorted(KNOWN_CAPS)), st.integers(limit, limit + 500)))
    offset = draw(st.one_of(st.just(0), st.integers(0, total + 5)))
    return total, limit, cap, offset


@settings(max_examples=examples(300))
@given(case=paging_cases())
def test_paging_yields_every_row_once_and_ends(case: tuple[int, int, int, int]) -> None:
    total, limit, cap, offset = case
    rows = list(range(total))
    calls: list[tuple[int, int]] = []

    def fetch(start: int, size: int) -> Page[int]:
        calls.append((start, size))
        assert len(calls) <= 20_000, "paging does not end"
        got = rows[start : start + min(size, cap)]
        return Page(got, start, size, len(got), fetch=fetch)

    seen = list(fetch(offset, limit))
    assert seen == rows[offset:]
    assert len(seen) == len(set(seen))
    step = min(limit, cap)
    assert len(calls) <= math.ceil(max(total - offset, 0) / step) + 2


def _row(pat_num: int) -> dict[str, Any]:
    return {"serverDateTime": "2024-05-06 07:08:09", "PatNum": pat_num, "LName": f"L{pat_num}"}


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    total=st.integers(0, 450),
    page_size=st.integers(1, 130),
    cap=st.sampled_from([100, 1000]),
)
def test_client_iter_reads_every_patient_once_whatever_the_page_size(
    total: int, page_size: int, cap: int
) -> None:
    assume(page_size <= cap or cap in KNOWN_CAPS)
    requests: list[tuple[int, int]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params["Limit"])
        offset = int(request.url.params["Offset"])
        requests.append((offset, limit))
        body = [_row(n) for n in range(offset + 1, min(total, offset + min(limit, cap)) + 1)]
        return httpx.Response(200, json=body)

    with Client(
        "dev",
        "cust",
        base_url="http://fake.test/api/v1",
        mode="remote",
        rate_interval=0,
        page_size=page_size,
        retry=RetryPolicy(max_attempts=1),
        transport=httpx.MockTransport(handler),
        env={},
    ) as client:
        read = [patient.pat_num for patient in client.patients.list()]
    assert read == list(range(1, total + 1))
    assert len(requests) <= math.ceil(total / min(page_size, cap)) + 2
