"""Whole-page validation: the fast (native) path agrees with the per-field Python parsers and
with row-by-row validation; one bad row falls back to row by row and is returned apart."""

from __future__ import annotations

import json
import warnings
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from odbridge.api import fields, models
from odbridge.api.errors import ResponseFormatError
from odbridge.api.models import Patient, PatStatus
from odbridge.api.paging import Page, RejectedRow, parse_page
from tests.helpers import examples
from tests.unit.test_models import sample

pytestmark = pytest.mark.unit

# Values Open Dental sends, their no-value forms, and near misses of each native form.
TRICKY: list[object] = [
    None,
    "",
    " ",
    "x",
    "Patient",
    "patient",
    " Patient ",
    "NotAStatus",
    "true",
    "false",
    "True",
    " false ",
    "yes",
    "1",
    "0",
    "-1",
    " 12 ",
    "12.0",
    "1e3",
    "0001-01-01",
    "0001-01-01 00:00:00",
    "2024-01-05",
    "2024-1-5",
    "2024-02-30",
    "2024-01-05 10:00:00",
    "2024-01-05T10:00:00",
    "2024-01-05 10:00:00.5",
    "2024-01-05T10:00:00Z",
    "2024-01-05 24:00:00",
    "2024-01-05 23:59:60",
    "1700000000",
    0,
    1,
    -1,
    42,
    2**63 - 1,
    2**63,
    -(2**63),
    -(2**63) - 1,
    True,
    False,
    0.0,
    1.0,
    1.5,
    float("nan"),
    float("inf"),
    Decimal("0"),
    Decimal("0.0"),
    Decimal("12.50"),
    Decimal("-0"),
    Decimal("9999999999.99"),
    Decimal("10000000000"),
    Decimal("NaN"),
    Decimal("1E+100"),
    date(2024, 1, 5),
    date(1, 1, 1),
    datetime(2024, 1, 5, 10, 0),
    datetime(1, 1, 1),
    datetime(2024, 1, 5, tzinfo=UTC),
    [],
    {},
]

FIELD_TYPES: dict[str, Any] = {
    "Int": fields.parse_int,
    "Key": fields.parse_foreign_key,
    "Text": fields.parse_text,
    "Day": fields.parse_date,
    "Stamp": fields.parse_datetime,
    "Flag": fields.parse_bool,
    "Money": fields.parse_money,
    "StatusField": fields.enum_parser(PatStatus),
}


def _outcome(call: Any, value: object) -> tuple[str, object, type]:
    try:
        result = call(value)
    except (ValidationError, ValueError):
        return ("error", None, type(None))
    return ("ok", result, type(result))


@pytest.mark.parametrize("name", sorted(FIELD_TYPES))
def test_the_native_forms_agree_with_the_python_parser(name: str) -> None:
    adapter = TypeAdapter(getattr(models, name))
    parse = FIELD_TYPES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", models.UnknownEnumValueWarning)
        for value in TRICKY:
            expected = _outcome(parse, value) if value is not None else ("ok", None, type(None))
            if name in ("Int", "Flag") and value is None:
                continue  # required fields: None is handled by the model (missing/null)
            got = _outcome(adapter.validate_python, value)
            assert got == expected, (name, value)
            assert repr(got[1]) == repr(expected[1]), (name, value)  # same digest input


def row_by_row(body: bytes, offset: int) -> Page[Patient]:
    """The page as validating each row on its own makes it (what the fast path must equal)."""
    items, rejected = [], []
    for index, row in enumerate(json.loads(body, parse_float=Decimal)):
        try:
            items.append(Patient.from_api(row, row=offset + index))
        except ResponseFormatError as exc:
            key = row.get("PatNum") if isinstance(row, dict) else None
            key = key if isinstance(key, int) and not isinstance(key, bool) else None
            rejected.append(RejectedRow(offset + index, key, exc.field, exc.problem))
    stamps = [p.server_date_time for p in items if p.server_date_time]
    return Page(
        items, offset, 10, len(items) + len(rejected), tuple(rejected), next(iter(stamps), None)
    )


def _page(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps(rows, default=str).encode()


def _same(fast: Any, slow: Any) -> None:
    assert [repr(tuple(i.__dict__.items())) for i in fast.items] == [
        repr(tuple(i.__dict__.items())) for i in slow.items
    ]
    assert [i.__pydantic_extra__ for i in fast.items] == [i.__pydantic_extra__ for i in slow.items]
    assert fast.rejected == slow.rejected
    assert (fast.received, fast.server_time) == (slow.received, slow.server_time)


def test_a_whole_page_validates_as_row_by_row_would() -> None:
    rows = [sample(PatNum=n, serverDateTime="2024-03-05 14:15:16") for n in range(1, 6)]
    rows[2]["Unknown"] = "kept"
    body = _page(rows)
    fast = parse_page(Patient, body, offset=0, limit=10, path="/patients/Simple")
    _same(fast, row_by_row(body, 0))
    assert fast.server_time == datetime(2024, 3, 5, 14, 15, 16)
    assert fast.items[1].est_balance == Decimal("12.50")  # money stays exact


def test_one_bad_row_is_returned_apart_and_the_rest_of_the_page_kept() -> None:
    rows = [sample(PatNum=n) for n in range(1, 6)]
    rows[3]["Birthdate"] = "not a date"
    page = parse_page(Patient, _page(rows), offset=100, limit=5, path="/patients/Simple")
    assert [p.pat_num for p in page.items] == [1, 2, 3, 5]
    assert len(page.rejected) == 1
    bad = page.rejected[0]
    assert (bad.position, bad.key, bad.field) == (103, 4, "Birthdate")


def test_a_body_cut_short_is_a_retryable_format_error() -> None:
    with pytest.raises(ResponseFormatError) as caught:
        parse_page(Patient, b'[{"PatNum": 1', offset=0, limit=5, path="/patients/Simple")
    assert caught.value.retryable


def test_an_answer_that_is_not_a_list_is_a_format_error() -> None:
    with pytest.raises(ResponseFormatError, match="JSON array"):
        parse_page(Patient, b'{"PatNum": 1}', offset=0, limit=5, path="/patients/Simple")


_values = st.sampled_from(TRICKY[:31]) | st.text(max_size=12) | st.integers(-5, 2**64)


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(models.PATIENT_FIELDS), _values), min_size=0, max_size=4
    ),
    size=st.integers(1, 4),
)
def test_any_page_parses_as_row_by_row_would(changes: list[tuple[str, object]], size: int) -> None:
    rows = [sample(PatNum=n) for n in range(1, size + 1)]
    for index, (field, value) in enumerate(changes):
        rows[index % size][field] = value
    body = _page(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", models.UnknownEnumValueWarning)
        fast = parse_page(Patient, body, offset=0, limit=10, path="/patients/Simple")
        slow = row_by_row(body, 0)
    _same(fast, slow)
