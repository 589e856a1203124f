"""Typed, tolerant models of the API's patient rows.

Attribute names are snake_case; the API's own names are the aliases (either may be used to
build a model). Open Dental's "no value" forms (``0001-01-01``, ``""``, a 0 foreign key)
become ``None``; ``"true"``/``"false"`` become bools; money becomes ``Decimal``. An enum name
this version does not know is kept as text with a warning, an unknown key is kept as an
extra, and a value of the wrong shape raises :class:`ResponseFormatError` naming the field,
never quoting its value. ``to_api_dict()`` turns a model back into the API's JSON form.
"""

from __future__ import annotations

import math
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, ClassVar, Self, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from odbridge.api.errors import ResponseFormatError
from odbridge.vocab import ContactMethod, Gender, PatStatus, Position, YesNoUnknown

__all__ = [
    "PATIENT_FIELDS",
    "SUMMARY_FIELDS",
    "ApiModel",
    "ContactMethod",
    "Gender",
    "PatStatus",
    "Patient",
    "PatientSummary",
    "Position",
    "UnknownEnumValueWarning",
    "YesNoUnknown",
    "format_api_date",
    "format_api_datetime",
]

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


def _problem(kind: str, message: str) -> PydanticCustomError:
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


def _parse_int(value: object) -> int:
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
        raise _problem("int", "expected an integer")
    return number


def _parse_foreign_key(value: object) -> int | None:
    if value is None or value == "":
        return None
    return _parse_int(value) or None


def _parse_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        raise _problem("text", "expected a string")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal | float):
        whole = _whole_number(value)
        if whole is not None:
            return str(whole)
        finite = value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
        if finite:
            return str(value)
    raise _problem("text", "expected a string")


def _parse_date(value: object) -> date | None:
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
    raise _problem("date", "expected a date (yyyy-MM-dd)")


def _parse_datetime_or_none(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        return None


def _parse_datetime(value: object) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return None if value.year == 1 else value
    if isinstance(value, str) and _DATE_PREFIX.match(value.strip()):
        parsed = _parse_datetime_or_none(value)
        if parsed is not None:
            return None if parsed.year == 1 else parsed
    raise _problem("datetime", "expected a date-time (yyyy-MM-dd HH:mm:ss)")


def _parse_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise _problem("bool", 'expected "true" or "false"')


def _parse_money(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _problem("money", "expected a number")
    try:
        if isinstance(value, Decimal | int):
            number = Decimal(value)
        elif isinstance(value, float | str):
            number = Decimal(str(value).strip())
        else:
            raise _problem("money", "expected a number")
    except InvalidOperation:
        raise _problem("money", "expected a number") from None
    if not number.is_finite() or abs(number) >= MONEY_LIMIT:
        raise _problem("money", "expected a number")
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


def _enum_parser(enum: type[StrEnum]) -> Callable[[object], StrEnum | str | None]:
    by_value = {member.value: member for member in enum}
    by_folded = {member.value.casefold(): member for member in enum}

    def parse(value: object) -> StrEnum | str | None:
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise _problem("enum", f"expected a {enum.__name__} name")
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


def _enum_out(value: str | None) -> str:
    return str(value) if value is not None else ""


def _json(fn: Callable[[Any], Any], returns: type) -> PlainSerializer:
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
        self, native: list[CoreSchema], parse: Callable[[Any], Any], kind: str, message: str
    ) -> None:
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
    """The validator of an enum field: a member's exact name natively, else ``_enum_parser``
    (other spellings, unknown names kept as text with a warning)."""
    return _Checked(
        [core_schema.enum_schema(enum, list(enum), sub_type="str"), _none_for("")],
        _enum_parser(enum),
        "enum",
        f"expected a {enum.__name__} name",
    )


Int = Annotated[
    int,
    _Checked(
        [core_schema.int_schema(strict=True, ge=-INT_LIMIT, le=_INT_MAX)],
        _parse_int,
        "int",
        "expected an integer",
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
        _parse_foreign_key,
        "int",
        "expected an integer",
    ),
    _json(_key_out, int),
]
Text = Annotated[
    str | None,
    _Checked(
        [core_schema.str_schema(strict=True, min_length=1), _none_for("")],
        _parse_text,
        "text",
        "expected a string",
    ),
    _json(_text_out, str),
]
Day = Annotated[
    date | None,
    _Checked(
        [
            _text_matching(_DATE_TEXT, core_schema.date_schema(gt=date(1, 1, 1))),
            _none_for("", NO_DATE),
        ],
        _parse_date,
        "date",
        "expected a date (yyyy-MM-dd)",
    ),
    _json(format_api_date, str),
]
Stamp = Annotated[
    datetime | None,
    _Checked(
        [
            _text_matching(_STAMP_TEXT, core_schema.datetime_schema(gt=datetime(1, 1, 1))),
            _none_for("", NO_DATETIME, NO_DATE),
        ],
        _parse_datetime,
        "datetime",
        "expected a date-time (yyyy-MM-dd HH:mm:ss)",
    ),
    _json(format_api_datetime, str),
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
        _parse_bool,
        "bool",
        'expected "true" or "false"',
    ),
    _json(_bool_out, str),
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
        _parse_money,
        "money",
        "expected a number",
    ),
    _json(_money_out, float),
]
StatusField = Annotated[PatStatus | str | None, enum_checked(PatStatus), _json(_enum_out, str)]
GenderField = Annotated[Gender | str | None, enum_checked(Gender), _json(_enum_out, str)]
PositionField = Annotated[Position | str | None, enum_checked(Position), _json(_enum_out, str)]
ContactField = Annotated[
    ContactMethod | str | None, enum_checked(ContactMethod), _json(_enum_out, str)
]
TxtMsgField = Annotated[
    YesNoUnknown | str | None, enum_checked(YesNoUnknown), _json(_enum_out, str)
]

_PROBLEMS = {
    "missing": "missing",
    "model_type": "expected a JSON object",
    "dict_type": "expected a JSON object",
}


class ApiModel(BaseModel):
    """Shared behaviour: API aliases, extras kept, PHI-free repr and errors."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)

    key_alias: ClassVar[str | None] = None
    """The API's name of the primary key (``PatNum``), read from rows that do not validate."""

    @classmethod
    def from_api(cls, data: object, *, row: int | None = None) -> Self:
        """Validate one row as the API sent it; :class:`ResponseFormatError` if malformed."""
        if not isinstance(data, Mapping):
            raise ResponseFormatError("expected a JSON object", row=row)
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise _format_error(exc, row) from None

    @classmethod
    def api_fields(cls) -> tuple[str, ...]:
        """The API's key names, in the documented order."""
        return tuple(info.alias or name for name, info in cls.model_fields.items())

    def to_api_dict(self) -> dict[str, Any]:
        """The row in the API's JSON form: documented keys in order, then any extras."""
        out: dict[str, Any] = self.model_dump(
            mode="json", by_alias=True, include=set(type(self).model_fields)
        )
        out.update(self.__pydantic_extra__ or {})
        return out

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        # Only the id: every other field is patient data and must not reach logs.
        yield "pat_num", getattr(self, "pat_num", None)


def _format_error(exc: ValidationError, row: int | None) -> ResponseFormatError:
    """The first problem of a validation error, as a PHI-free ResponseFormatError."""
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    first = errors[0]
    field_name = ".".join(str(part) for part in first["loc"]) or None
    kind = first["type"]
    problem = first["msg"] if kind.startswith("od_") else _PROBLEMS.get(kind, "unexpected value")
    others = sorted({str(e["loc"][0]) for e in errors[1:] if e["loc"]} - {field_name or ""})
    if others:
        problem += f" (also: {', '.join(others[:5])}{', …' if len(others) > 5 else ''})"
    return ResponseFormatError(problem, field=field_name, row=row)


M = TypeVar("M", bound=ApiModel)


@cache
def _page_adapter(model: type[ApiModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def validate_whole_page(model: type[M], rows: list[Any]) -> list[M] | None:
    """Every row of a decoded page validated at once (one pydantic call for the page), or
    None when any row does not validate: then validate row by row to learn which."""
    try:
        items: list[M] = _page_adapter(model).validate_python(rows)
    except ValidationError:
        return None
    return items


class Patient(ApiModel):
    """A full patient record (``GET /patients/{PatNum}`` and ``GET /patients/Simple``).

    ``server_date_time`` is set on rows of ``patients/Simple``: the server's clock when it
    answered, the cursor for the next incremental read.
    """

    key_alias: ClassVar[str | None] = "PatNum"

    server_date_time: Stamp = Field(default=None, alias="serverDateTime")
    pat_num: Int = Field(alias="PatNum")
    lname: Text = Field(default=None, alias="LName")
    fname: Text = Field(default=None, alias="FName")
    middle_i: Text = Field(default=None, alias="MiddleI")
    preferred: Text = Field(default=None, alias="Preferred")
    pat_status: StatusField = Field(default=None, alias="PatStatus")
    gender: GenderField = Field(default=None, alias="Gender")
    position: PositionField = Field(default=None, alias="Position")
    birthdate: Day = Field(default=None, alias="Birthdate")
    ssn: Text = Field(default=None, alias="SSN")
    address: Text = Field(default=None, alias="Address")
    address2: Text = Field(default=None, alias="Address2")
    city: Text = Field(default=None, alias="City")
    state: Text = Field(default=None, alias="State")
    zip: Text = Field(default=None, alias="Zip")
    hm_phone: Text = Field(default=None, alias="HmPhone")
    wk_phone: Text = Field(default=None, alias="WkPhone")
    wireless_phone: Text = Field(default=None, alias="WirelessPhone")
    guarantor: Key = Field(default=None, alias="Guarantor")
    email: Text = Field(default=None, alias="Email")
    est_balance: Money = Field(default=None, alias="EstBalance")
    pri_prov: Key = Field(default=None, alias="PriProv")
    pri_prov_abbr: Text = Field(default=None, alias="priProvAbbr")
    sec_prov: Key = Field(default=None, alias="SecProv")
    sec_prov_abbr: Text = Field(default=None, alias="secProvAbbr")
    fee_sched: Key = Field(default=None, alias="FeeSched")
    billing_type: Text = Field(default=None, alias="BillingType")
    image_folder: Text = Field(default=None, alias="ImageFolder")
    fam_fin_urg_note: Text = Field(default=None, alias="FamFinUrgNote")
    chart_number: Text = Field(default=None, alias="ChartNumber")
    medicaid_id: Text = Field(default=None, alias="MedicaidID")
    bal_total: Money = Field(default=None, alias="BalTotal")
    employer_num: Key = Field(default=None, alias="EmployerNum")
    date_first_visit: Day = Field(default=None, alias="DateFirstVisit")
    clinic_num: Key = Field(default=None, alias="ClinicNum")
    clinic_abbr: Text = Field(default=None, alias="clinicAbbr")
    premed: Flag = Field(default=False, alias="Premed")
    ward: Text = Field(default=None, alias="Ward")
    prefer_confirm_method: ContactField = Field(default=None, alias="PreferConfirmMethod")
    prefer_contact_method: ContactField = Field(default=None, alias="PreferContactMethod")
    prefer_recall_method: ContactField = Field(default=None, alias="PreferRecallMethod")
    language: Text = Field(default=None, alias="Language")
    admit_date: Day = Field(default=None, alias="AdmitDate")
    site_desc: Text = Field(default=None, alias="siteDesc")
    date_tstamp: Stamp = Field(default=None, alias="DateTStamp")
    super_family: Key = Field(default=None, alias="SuperFamily")
    txt_msg_ok: TxtMsgField = Field(default=None, alias="TxtMsgOk")
    sec_date_entry: Day = Field(default=None, alias="SecDateEntry")

    def to_api_dict(self) -> dict[str, Any]:
        """The API's JSON form; ``serverDateTime`` leads when the row came with one."""
        out = super().to_api_dict()
        if self.server_date_time is None:
            del out["serverDateTime"]
        return out


class PatientSummary(ApiModel):
    """A row of the Patient Select search, ``GET /patients`` (fewer fields)."""

    key_alias: ClassVar[str | None] = "PatNum"

    pat_num: Int = Field(alias="PatNum")
    lname: Text = Field(default=None, alias="LName")
    fname: Text = Field(default=None, alias="FName")
    middle_i: Text = Field(default=None, alias="MiddleI")
    preferred: Text = Field(default=None, alias="Preferred")
    pat_status: StatusField = Field(default=None, alias="PatStatus")
    birthdate: Day = Field(default=None, alias="Birthdate")
    ssn: Text = Field(default=None, alias="SSN")
    address: Text = Field(default=None, alias="Address")
    address2: Text = Field(default=None, alias="Address2")
    city: Text = Field(default=None, alias="City")
    state: Text = Field(default=None, alias="State")
    zip: Text = Field(default=None, alias="Zip")
    hm_phone: Text = Field(default=None, alias="HmPhone")
    wk_phone: Text = Field(default=None, alias="WkPhone")
    wireless_phone: Text = Field(default=None, alias="WirelessPhone")
    email: Text = Field(default=None, alias="Email")
    pri_prov_abbr: Text = Field(default=None, alias="priProvAbbr")
    sec_prov_abbr: Text = Field(default=None, alias="secProvAbbr")
    billing_type: Text = Field(default=None, alias="BillingType")
    chart_number: Text = Field(default=None, alias="ChartNumber")
    clinic_num: Key = Field(default=None, alias="ClinicNum")
    clinic_abbr: Text = Field(default=None, alias="clinicAbbr")
    site_desc: Text = Field(default=None, alias="siteDesc")
    txt_msg_ok: TxtMsgField = Field(default=None, alias="TxtMsgOk")


PATIENT_FIELDS: tuple[str, ...] = Patient.api_fields()[1:]
"""The 48 documented keys of a patient, in the API's order (without ``serverDateTime``)."""

SUMMARY_FIELDS: tuple[str, ...] = PatientSummary.api_fields()
"""The keys of a Patient Select search row, in the API's order."""
