"""The API's field types: how each kind of Open Dental value is read and written back.

Open Dental's "no value" forms (``0001-01-01``, ``""``, a 0 foreign key) become ``None``;
``"true"``/``"false"`` become bools; money becomes ``Decimal``; an enum name this version does
not know is kept as text with a warning. Plain forms are checked natively by pydantic-core
(a whole page in one call); anything unusual goes through the Python parsers here. Errors
name the problem, never the value.
"""

from __future__ import annotations

import math
import re
import threading
import warnings
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    GetCoreSchemaHandler,
    PlainSerializer,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from odbridge.vocab import ContactMethod, Gender, PatStatus, Position, YesNoUnknown

NO_DATE = "0001-01-01"
NO_DATETIME = "0001-01-01 00:00:00"
API_DATE_FORMAT = "%Y-%m-%d"
API_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"


class UnknownEnumValueWarning(UserWarning):
    """The API sent an enum name this odbridge does not know; it is kept as text."""


# -- parsing ------------------------------------------------------------------------------

_INTEGER = re.compile(r"\s*-?\d+\s*")
_DATE_PREFIX = re.compile(r"\d{4}-\d{2}-\d{2}")
_CODE_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,39}")
_warned: set[tuple[str, str]] = set()
_warned_lock = threading.Lock()


def od_problem(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(f"od_{kind}", message)


INT_LIMIT = 2**63
"""Ids are 64-bit in Open Dental's database (and in the store): anything larger is an error."""

MONEY_LIMIT = Decimal(10) ** 10
"""The largest balance accepted (the store keeps 12 digits, 2 after the point)."""


def _whole_number(value: Decimal | float) -> int | None:
    """The int a finite, whole, 64-bit number equals; None otherwise. Never raises (a
    Decimal such as ``1E+100`` or ``sNaN`` makes ``%`` and ``==`` raise)."""
    try:
        if isinstance(value, float):
            whole = value.is_integer()  # False for inf and nan
        else:
            # adjusted() < 19: at most 19 digits before the point, so int() stays cheap
            whole = (
                value.is_finite() and value.adjusted() < 19 and value == value.to_integral_value()
            )
        number = int(value) if whole else None
    except (ArithmeticError, ValueError):
        return None
    return number if number is not None and -INT_LIMIT <= number < INT_LIMIT else None


def parse_int(value: object) -> int:
    number: int | None = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, Decimal | float):
        number = _whole_number(value)
    elif isinstance(value, str) and len(value) <= 40 and _INTEGER.fullmatch(value):
        number = int(value)
    if number is None or not -INT_LIMIT <= number < INT_LIMIT:
        raise od_problem("int", "expected an integer")
    return number


def parse_foreign_key(value: object) -> int | None:
    if value is None or value == "":
        return None
    return parse_int(value) or None


def parse_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        raise od_problem("text", "expected a string")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal | float):
        whole = _whole_number(value)
        if whole is not None:
            return str(whole)
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if finite:
            return str(value)
    raise od_problem("text", "expected a string")


def parse_date(value: object) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return None if value.year == 1 else value.date()
    if isinstance(value, date):
        return None if value.year == 1 else value
    if isinstance(value, str) and _DATE_PREFIX.match(value.strip()):
        moment = _parse_datetime_or_none(value)  # a date, or a date-time at midnight
        if moment is not None:
            return None if moment.year == 1 else moment.date()
    raise od_problem("date", "expected a date (yyyy-MM-dd)")


def _parse_datetime_or_none(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def parse_datetime(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return None if value.year == 1 else value
    if isinstance(value, str) and _DATE_PREFIX.match(value.strip()):
        parsed = _parse_datetime_or_none(value)
        if parsed is not None:
            return None if parsed.year == 1 else parsed
    raise od_problem("datetime", "expected a date-time (yyyy-MM-dd HH:mm:ss)")


def parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise od_problem("bool", 'expected "true" or "false"')


def parse_money(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise od_problem("money", "expected a number")
    try:
        if isinstance(value, Decimal | int):
            number = Decimal(value)
        elif isinstance(value, float | str):
            number = Decimal(str(value).strip())
        else:
            raise od_problem("money", "expected a number")
    except InvalidOperation:
        raise od_problem("money", "expected a number") from None
    if not number.is_finite() or abs(number) >= MONEY_LIMIT:
        raise od_problem("money", "expected a number")
    return number


def _warn_unknown(enum_name: str, value: str) -> None:
    key = (enum_name, value)
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    # Enum names are codes, not patient data; anything else is not quoted (it might be).
    shown = repr(value) if _CODE_LIKE.fullmatch(value) else "(not shown)"
    warnings.warn(
        f"The API sent a {enum_name} value this odbridge does not know, {shown}; "
        "it is kept as text. A newer odbridge may know it.",
        UnknownEnumValueWarning,
        stacklevel=2,
    )


def enum_parser(enum: type[StrEnum]) -> Callable[[object], StrEnum | str | None]:
    by_value = {member.value: member for member in enum}
    by_folded = {member.value.casefold(): member for member in enum}

    def parse(value: object) -> StrEnum | str | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise od_problem("enum", f"expected a {enum.__name__} name")
        text = str(value)
        member = by_value.get(text) or by_folded.get(text.strip().casefold())
        if member is not None:
            return member
        _warn_unknown(enum.__name__, text)
        return text

    return parse


# -- serialising back to the API's form ----------------------------------------------------


def format_api_date(value: date | None) -> str:
    """A date as the API writes it, ``0001-01-01`` for none (years always four digits:
    ``strftime("%Y")`` drops the zeros of years before 1000 on some platforms)."""
    if value is None:
        return NO_DATE
    if isinstance(value, datetime):
        value = value.date()
    return value.isoformat()


def format_api_datetime(value: datetime | None) -> str:
    """A date-time as the API writes it (``yyyy-MM-dd HH:mm:ss``), ``0001-01-01 00:00:00``
    for none. A zone, if any, is dropped: the API's times are the server's local time."""
    if value is None:
        return NO_DATETIME
    return value.replace(tzinfo=None, microsecond=0).isoformat(sep=" ")


def _text_out(value: str | None) -> str:
    return value or ""


def _key_out(value: int | None) -> int:
    return value or 0


def _bool_out(value: bool) -> str:
    return "true" if value else "false"


def _money_out(value: Decimal | None) -> float:
    return float(value) if value is not None else 0.0


def enum_out(value: str | None) -> str:
    return str(value) if value is not None else ""


def as_json(fn: Callable[[Any], Any], returns: type) -> PlainSerializer:
    return PlainSerializer(fn, return_type=returns, when_used="json")


def _none_for(*values: object) -> CoreSchema:
    """Natively: exactly one of ``values`` (a no-value form such as ``""``) → None."""
    return core_schema.chain_schema(
        [
            core_schema.literal_schema(list(values)),
            core_schema.with_default_schema(
                core_schema.none_schema(), default=None, on_error="default"
            ),
        ]
    )


def _text_matching(pattern: str, then: CoreSchema) -> CoreSchema:
    """Natively: a string matching ``pattern``, then validated by ``then``."""
    return core_schema.chain_schema([core_schema.str_schema(strict=True, pattern=pattern), then])


class _Checked:
    """A field validated natively by pydantic-core when the value has one of the plain forms
    Open Dental sends (``native``: a non-empty string, a positive id, ``yyyy-MM-dd``, ``""``,
    ``0001-01-01``, …), else by the Python parser ``parse``; null is None.

    Each native form is one ``parse`` accepts with the same result (tests/unit/
    test_page_parse.py checks it), so both paths agree; the native one only saves a Python
    call per field, which was most of the cost of validating a page."""

    def __init__(
        self,
        native: list[CoreSchema],
        parse: Callable[[Any], Any],
        kind: str,
        message: str,
        *,
        form: str,
        enum: type[StrEnum] | None = None,
    ) -> None:
        self.form = form
        """Which plain form this field takes: text, int, key, date, stamp, money, flag, enum
        (read by fast decoders that accept the same plain forms, see odbridge.sync.decode)."""
        self.enum = enum
        self.schema = core_schema.nullable_schema(
            core_schema.union_schema(
                [*native, core_schema.no_info_plain_validator_function(parse)],
                mode="left_to_right",
                custom_error_type=f"od_{kind}",
                custom_error_message=message,
            )
        )

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return self.schema


_INT_MAX = INT_LIMIT - 1
_DATE_TEXT = r"^\d{4}-\d{2}-\d{2}$"
_STAMP_TEXT = r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}$"


def enum_checked(enum: type[StrEnum]) -> _Checked:
    """The validator of an enum field: a member's exact name natively, else ``enum_parser``
    (other spellings, unknown names kept as text with a warning)."""
    return _Checked(
        [core_schema.enum_schema(enum, list(enum), sub_type="str"), _none_for("")],
        enum_parser(enum),
        "enum",
        f"expected a {enum.__name__} name",
        form="enum",
        enum=enum,
    )


Int = Annotated[
    int,
    _Checked(
        [core_schema.int_schema(strict=True, ge=-INT_LIMIT, le=_INT_MAX)],
        parse_int,
        "int",
        "expected an integer",
        form="int",
    ),
]
_ZERO = core_schema.chain_schema(
    [
        core_schema.int_schema(strict=True, ge=0, le=0),
        core_schema.with_default_schema(
            core_schema.none_schema(), default=None, on_error="default"
        ),
    ]
)
Key = Annotated[
    int | None,
    _Checked(
        [core_schema.int_schema(strict=True, gt=0, le=_INT_MAX), _ZERO, _none_for("")],
        parse_foreign_key,
        "int",
        "expected an integer",
        form="key",
    ),
    as_json(_key_out, int),
]
Text = Annotated[
    str | None,
    _Checked(
        [core_schema.str_schema(strict=True, min_length=1), _none_for("")],
        parse_text,
        "text",
        "expected a string",
        form="text",
    ),
    as_json(_text_out, str),
]
Day = Annotated[
    date | None,
    _Checked(
        [
            _text_matching(_DATE_TEXT, core_schema.date_schema(gt=date(1, 1, 1))),
            _none_for("", NO_DATE),
        ],
        parse_date,
        "date",
        "expected a date (yyyy-MM-dd)",
        form="date",
    ),
    as_json(format_api_date, str),
]
Stamp = Annotated[
    datetime | None,
    _Checked(
        [
            _text_matching(_STAMP_TEXT, core_schema.datetime_schema(gt=datetime(1, 1, 1))),
            _none_for("", NO_DATETIME, NO_DATE),
        ],
        parse_datetime,
        "datetime",
        "expected a date-time (yyyy-MM-dd HH:mm:ss)",
        form="stamp",
    ),
    as_json(format_api_datetime, str),
]
Flag = Annotated[
    bool,
    _Checked(
        [
            core_schema.bool_schema(strict=True),
            core_schema.chain_schema(
                [core_schema.literal_schema(["true", "false"]), core_schema.bool_schema()]
            ),
        ],
        parse_bool,
        "bool",
        'expected "true" or "false"',
        form="flag",
    ),
    as_json(_bool_out, str),
]
Money = Annotated[
    Decimal | None,
    _Checked(
        [
            core_schema.decimal_schema(
                strict=True, allow_inf_nan=False, gt=-MONEY_LIMIT, lt=MONEY_LIMIT
            ),
            _none_for(""),
        ],
        parse_money,
        "money",
        "expected a number",
        form="money",
    ),
    as_json(_money_out, float),
]
StatusField = Annotated[PatStatus | str | None, enum_checked(PatStatus), as_json(enum_out, str)]
GenderField = Annotated[Gender | str | None, enum_checked(Gender), as_json(enum_out, str)]
PositionField = Annotated[Position | str | None, enum_checked(Position), as_json(enum_out, str)]
ContactField = Annotated[
    ContactMethod | str | None, enum_checked(ContactMethod), as_json(enum_out, str)
]
TxtMsgField = Annotated[
    YesNoUnknown | str | None, enum_checked(YesNoUnknown), as_json(enum_out, str)
]


def plain_form(metadata: Sequence[object]) -> tuple[str, type[StrEnum] | None] | None:
    """A model field's plain form (text, int, key, date, stamp, money, flag or enum) and its
    enum, read from the field's metadata (``FieldInfo.metadata``); None for a field that is
    not of one of the types above."""
    for item in metadata:
        if isinstance(item, _Checked):
            return item.form, item.enum
    return None
