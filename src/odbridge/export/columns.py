"""Which store columns an export may contain, what kind of value each holds, and the filters.

The whitelist is the patient's 48 API fields plus the practice and our bookkeeping times;
``extra``, ``row_hash`` and ``seen_pass`` never leave the store. Kinds come from the store's
own column types, so a column added to the schema gets the right type in every format.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Boolean, Date, DateTime, Integer, Numeric, String
from sqlalchemy.types import TypeEngine

from odbridge.export.errors import ExportError
from odbridge.store.schema import PATIENT_FIELD_NAMES, patients
from odbridge.vocab import PatStatus

Kind = Literal["int", "text", "date", "datetime", "money", "bool"]
"""int64 · text · calendar date · date-time (no zone) · Decimal(12, 2) · boolean."""


@dataclass(frozen=True)
class OutputColumn:
    """One column of an export: its name in the file and the kind of its values."""

    name: str
    kind: Kind


BOOKKEEPING_COLUMNS: tuple[str, ...] = ("first_seen_at", "last_synced_at", "missing_since")
"""odbridge's own times (UTC): first stored, last changed in the store, marked missing."""

EXPORTABLE_COLUMNS: tuple[str, ...] = ("practice", *PATIENT_FIELD_NAMES, *BOOKKEEPING_COLUMNS)
"""Every column an export may name, in file order."""

OPT_IN_COLUMNS: tuple[str, ...] = ("ssn",)
"""Columns an export holds only when asked for explicitly (``include_ssn``): a full SSN is
what identity thieves want, and few reports need it."""

DEFAULT_COLUMNS: tuple[str, ...] = tuple(
    name
    for name in ("practice", *PATIENT_FIELD_NAMES, "last_synced_at")
    if name not in OPT_IN_COLUMNS
)
"""What a tabular export holds when no columns are named: the patient's fields but the SSN."""

WITH_SSN_COLUMNS: tuple[str, ...] = ("practice", *PATIENT_FIELD_NAMES, "last_synced_at")
"""The defaults with ``include_ssn``: the SSN in its API position."""

PAT_STATUSES: tuple[str, ...] = tuple(PatStatus)
"""The PatStatus names a ``statuses`` filter accepts."""


def _kind_of(sql_type: TypeEngine[object]) -> Kind:
    if isinstance(sql_type, Boolean):
        return "bool"
    if isinstance(sql_type, Integer):
        return "int"
    if isinstance(sql_type, Numeric):
        return "money"
    if isinstance(sql_type, DateTime):
        return "datetime"
    if isinstance(sql_type, Date):
        return "date"
    if isinstance(sql_type, String):
        return "text"
    raise TypeError(f"no export kind for {sql_type!r}")  # pragma: no cover - schema guard


COLUMN_KINDS: dict[str, Kind] = {
    name: _kind_of(patients.c[name].type) for name in EXPORTABLE_COLUMNS
}


def resolve_columns(
    columns: str | Iterable[str] | None, *, include_ssn: bool = False
) -> tuple[str, ...]:
    """The columns to export: ``None`` → the defaults (with ``ssn`` if ``include_ssn``); a
    comma list or names → checked.

    Names are case-insensitive; repeats are dropped; an unknown name is an error that lists
    the valid ones; ``ssn`` named without ``include_ssn`` is an error that says so.
    """
    if columns is None:
        return WITH_SSN_COLUMNS if include_ssn else DEFAULT_COLUMNS
    items = columns.split(",") if isinstance(columns, str) else list(columns)
    chosen: list[str] = []
    unknown: list[str] = []
    for item in items:
        name = item.strip().lower()
        if not name:
            continue
        if name not in COLUMN_KINDS:
            unknown.append(name)
        elif name not in chosen:
            chosen.append(name)
    if unknown:
        raise ExportError(
            f"Unknown column(s): {', '.join(unknown)}. "
            f"Exportable columns: {', '.join(EXPORTABLE_COLUMNS)}."
        )
    if not chosen:
        raise ExportError("No columns named; leave the option out to export the defaults.")
    if "ssn" in chosen and not include_ssn:
        raise ExportError(
            "Full SSNs are exported only when asked for explicitly: add --include-ssn "
            "(include_ssn=True in Python), or leave ssn out of the columns."
        )
    return tuple(chosen)


def resolve_statuses(statuses: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """PatStatus names (case-insensitive, a comma list or names) → their canonical spelling."""
    if statuses is None:
        return None
    items = statuses.split(",") if isinstance(statuses, str) else list(statuses)
    by_folded = {name.casefold(): name for name in PAT_STATUSES}
    chosen: list[str] = []
    for item in items:
        for part in item.split(","):
            text = part.strip()
            if not text:
                continue
            name = by_folded.get(text.casefold())
            if name is None:
                raise ExportError(
                    f"Unknown patient status '{text}'. Use any of: {', '.join(PAT_STATUSES)}."
                )
            if name not in chosen:
                chosen.append(name)
    if not chosen:
        raise ExportError("No status named; leave the option out to export every status.")
    return tuple(chosen)
