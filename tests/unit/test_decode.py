"""The sync's fast page decoder stores exactly what the models store, and takes only the
plain forms: anything else goes through the models (odbridge.sync.decode)."""

from __future__ import annotations

import json
import warnings
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odbridge.api.models import Patient, UnknownEnumValueWarning
from odbridge.api.paging import Page, parse_page
from odbridge.simulator.generate import generate_practice
from odbridge.sync.decode import PageDecoder, rows_page
from odbridge.sync.resources import PATIENTS
from odbridge.sync.rowform import NO_EXTRA, StoreRow, digest, plain_digests
from tests.unit.test_models import sample
from tests.unit.test_page_parse import TRICKY

pytestmark = pytest.mark.unit

FORM = PATIENTS.form
DECODER = PageDecoder(Patient, FORM)
PATH = "/patients/Simple"
SERVER = "2026-11-30 10:00:00"

ONE_FIELD_OF_EACH_FORM = (
    "PatNum",  # int
    "Guarantor",  # key
    "LName",  # text
    "Birthdate",  # date
    "DateTStamp",  # stamp
    "EstBalance",  # money
    "Premed",  # flag
    "PatStatus",  # enum
    "serverDateTime",  # a stamp that is not stored (the page's server time)
)


def _json(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # a JSON number, written exactly
    return json.dumps(value, allow_nan=False)


def body_of(rows: list[dict[str, Any]]) -> bytes:
    """A page as the API would send it (Decimals as exact JSON numbers)."""
    objects = (
        "{" + ", ".join(f"{json.dumps(k)}: {_json(v)}" for k, v in r.items()) + "}" for r in rows
    )
    return ("[" + ", ".join(objects) + "]").encode()


def json_values() -> list[object]:
    """The tricky values that can be sent in JSON."""
    out = []
    for value in TRICKY:
        try:
            _json(value)
        except (TypeError, ValueError):
            continue
        if isinstance(value, Decimal) and not value.is_finite():
            continue
        out.append(value)
    return out


def both_ways(body: bytes) -> tuple[Page[StoreRow], Page[StoreRow]]:
    """The decoder's page and the models' page of the same answer."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownEnumValueWarning)
        fast = DECODER.parse(body, 0, 100, PATH)
        models = rows_page(FORM, parse_page(Patient, body, offset=0, limit=100, path=PATH))
    return fast, models


def assert_same(body: bytes) -> None:
    fast, models = both_ways(body)
    assert fast.items == models.items
    assert fast.rejected == models.rejected
    assert (fast.received, fast.server_time) == (models.received, models.server_time)


def test_a_practice_is_plain_and_stored_as_the_models_store_it() -> None:
    records = [
        {"serverDateTime": SERVER, **record} for record in generate_practice(300, 5).records()
    ]
    body = body_of(records)
    assert DECODER.plain_rows(body) is not None  # the fast path, not the fallback
    assert_same(body)
    fast, _ = both_ways(body)
    assert len(fast.items) == 300
    assert fast.server_time is not None
    assert fast.server_time.isoformat(" ") == SERVER


@pytest.mark.parametrize("field", ONE_FIELD_OF_EACH_FORM)
def test_every_tricky_value_of_every_form_is_stored_as_the_models_store_it(field: str) -> None:
    for value in json_values():
        row = {"serverDateTime": SERVER, **sample()}
        row[field] = value
        body = body_of([row, sample(PatNum=43)])
        try:
            assert_same(body)
        except AssertionError as exc:
            raise AssertionError(f"{field}={value!r}: {exc}") from None


@pytest.mark.parametrize(
    ("changes", "plain"),
    [
        ({}, True),
        ({"LName": ""}, True),
        ({"Guarantor": 0}, True),
        ({"Birthdate": "0001-01-01"}, True),
        ({"DateTStamp": "0001-01-01 00:00:00"}, True),
        ({"DateTStamp": "2024-01-05T10:00:00"}, True),
        ({"EstBalance": Decimal("12.50")}, True),
        ({"EstBalance": 3}, True),
        ({"Premed": True}, True),
        ({"PatStatus": ""}, True),
        ({"PatStatus": "patient"}, False),  # another spelling: the models fold it
        ({"PatStatus": "NotAStatus"}, False),  # unknown: kept as text, with a warning
        ({"Birthdate": "2024-02-30"}, False),
        ({"Birthdate": "20240105"}, False),
        ({"DateTStamp": "2024-01-05 10:00:00.5"}, False),
        ({"Guarantor": "12"}, False),
        ({"PatNum": 2**63}, False),
        ({"EstBalance": Decimal("10000000000")}, False),
        ({"EstBalance": ""}, False),
        ({"Premed": "TRUE"}, False),
        ({"LName": 5}, False),
        ({"NewField": "x"}, False),  # an unknown field: the models keep it in extra
    ],
)
def test_only_plain_forms_take_the_fast_path(changes: dict[str, Any], plain: bool) -> None:
    body = body_of([sample(**changes)])
    assert (DECODER.plain_rows(body) is not None) is plain
    assert_same(body)


def test_a_pages_digests_are_each_rows_digest_unchanged() -> None:
    """Stores hold these digests: a page's are each row's, and the text hashed is the same."""
    row = (7, "Smith", None, 12.5, "2024-01-05 10:00:00.000000")
    assert digest(row, NO_EXTRA) == "ebe964c3c2f2b5d39a8477e42cd755e09978d57d"
    rows = [row, (8, "x" * 5000, 0.1, -0.0, 2**62), (9, 'é"\\\n', None, 1e-7, 0), row]
    assert plain_digests(rows) == [digest(r, NO_EXTRA) for r in rows]  # long, then short


def test_a_missing_field_takes_the_models_default() -> None:
    row = sample()
    del row["Premed"], row["LName"]
    body = body_of([row])
    assert DECODER.plain_rows(body) is not None
    assert_same(body)


def test_a_row_that_does_not_validate_is_rejected_as_by_the_models() -> None:
    body = body_of([sample(PatNum=1), sample(PatNum=2, Birthdate="2024-13-01"), sample(PatNum=3)])
    fast, _ = both_ways(body)
    assert [row.key for row in fast.items] == [1, 3]
    assert [(r.key, r.field) for r in fast.rejected] == [(2, "Birthdate")]
    assert_same(body)


def test_bodies_that_are_not_pages_raise_as_the_models_do() -> None:
    from odbridge.api.errors import ResponseFormatError

    for body in (b'[{"PatNum": 1', b'{"PatNum": 1}', b"not json"):
        with pytest.raises(ResponseFormatError) as fast:
            DECODER.parse(body, 0, 100, PATH)
        with pytest.raises(ResponseFormatError) as models:
            parse_page(Patient, body, offset=0, limit=100, path=PATH)
        assert (fast.value.problem, fast.value.truncated) == (
            models.value.problem,
            models.value.truncated,
        )


FIELDS = list(sample())
VALUES = st.one_of(
    st.sampled_from(json_values()),
    st.text(max_size=12),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=10**11),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat(" ", "seconds")),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from([*FIELDS, "serverDateTime", "Extra"]), VALUES, max_size=4))
def test_any_changed_row_is_stored_as_the_models_store_it(changes: dict[str, Any]) -> None:
    assert_same(body_of([sample(**changes), sample(PatNum=7)]))
