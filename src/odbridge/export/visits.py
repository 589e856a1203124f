"""Export the visit tables (appointments, procedures, recalls, reference tables) in every
tabular format, with the same file handling and audit as patient exports.

De-identified (HIPAA Safe Harbor): every date and date-time becomes its year alone; free
text (notes, procedure descriptions on appointments, claim and billing notes, scheduling
notes) is dropped; PatNum becomes the same keyed pseudonym as in patient exports
(``patient_id``); unknown fields (``extra``) never leave the store. Provider, clinic and
operatory rows are not patient data and are exported as they are, except the provider's SSN
and birthdate, which are dropped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import SQLAlchemyError

from odbridge.export.columns import Kind, OutputColumn, _kind_of
from odbridge.export.deidentify import Pseudonymizer, load_or_create_key, year_of
from odbridge.export.errors import ExportError
from odbridge.export.fhir_appointment import APPOINTMENT_COLUMNS, appointment_resource
from odbridge.export.run import (
    DEFAULT_BATCH,
    ExportResult,
    _abandon,
    _audit,
    _batches,
    _check_format,
    _scope,
    _target,
    _writer,
    exported_patients,
    limit_to,
)
from odbridge.store.audit import local_user
from odbridge.store.schema_visits import VISIT_TABLES, appointments, field_names

TABLES: dict[str, Table] = {t.name: t for t in VISIT_TABLES}
"""The visit tables an export can name."""

FREE_TEXT = frozenset(
    {
        "note",
        "proc_descript",
        "claim_note",
        "billing_note",
        "sched_note",
        "time_pattern_override",
    }
)
"""Columns of free text, dropped from de-identified exports (they may name people)."""
PROVIDER_IDENTIFIERS = frozenset({"ssn", "birthdate", "state_license", "national_prov_id"})
"""A provider's own identifiers, dropped from de-identified exports."""
PATIENT_KEYS = {"pat_num": "patient_id"}


def table_names() -> tuple[str, ...]:
    """The visit tables, in the order a sync fills them."""
    return tuple(TABLES)


@dataclass(frozen=True)
class _Layout:
    selected: tuple[str, ...]
    columns: tuple[OutputColumn, ...]
    transform: Callable[[Row[Any]], Any] | None


def _layout(table: Table, pseudonymize: Pseudonymizer | None) -> _Layout:
    names = ("practice", *field_names(table))
    kinds: dict[str, Kind] = {n: _kind_of(table.c[n].type) for n in names}
    if pseudonymize is None:
        return _Layout(names, tuple(OutputColumn(n, kinds[n]) for n in names), None)
    kept = [n for n in names if n not in FREE_TEXT and n not in PROVIDER_IDENTIFIERS]
    out: list[OutputColumn] = []
    getters: list[Callable[[Sequence[Any]], Any]] = []
    practice_at = kept.index("practice")
    for i, name in enumerate(kept):
        kind = kinds[name]
        if name in PATIENT_KEYS:
            out.append(OutputColumn(PATIENT_KEYS[name], "text"))
            getters.append(
                lambda row, i=i: pseudonymize(row[practice_at], row[i])  # type: ignore[misc]
            )
        elif kind in ("date", "datetime"):
            out.append(OutputColumn(f"{name}_year", "int"))
            getters.append(lambda row, i=i: year_of(row[i]))  # type: ignore[misc]
        else:
            out.append(OutputColumn(name, kind))
            getters.append(lambda row, i=i: row[i])  # type: ignore[misc]

    def transform(row: Row[Any]) -> tuple[Any, ...]:
        return tuple(get(row) for get in getters)

    return _Layout(tuple(kept), tuple(out), transform)


def export_table(
    engine: Engine,
    table: str,
    *,
    format: str,
    out: str | Path,
    practice: str | None = None,
    allowed_practices: Collection[str] | None = None,
    deidentify: bool = False,
    include_missing: bool = False,
    username: str | None = None,
    key_file: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> ExportResult:
    """Export one visit table (see :data:`TABLES`) as csv, jsonl, parquet or xlsx.

    Written under a temporary name and renamed when complete; audited like a patient
    export (``what`` = ``<format> <table>``), whether it succeeds or fails.
    ``allowed_practices`` limits it as for patients (:func:`~odbridge.export.run.export`).
    """
    fmt = _check_format(format)
    if fmt == "fhir":
        raise ExportError("FHIR exports of visits are Appointment resources: use export_fhir.")
    found = TABLES.get(table.strip().lower())
    if found is None:
        raise ExportError(f"Unknown table '{table}': use one of {', '.join(TABLES)}.")
    to_stdout = str(out) == "-"
    if to_stdout and fmt not in ("csv", "jsonl"):
        raise ExportError(f"{fmt} cannot go to standard output: give a file name with --out.")
    key_path = Path(key_file).expanduser() if key_file is not None else None
    pseudonymize = Pseudonymizer(load_or_create_key(key_path)) if deidentify else None
    plan = _layout(found, pseudonymize)
    query = limit_to(
        select(*(found.c[n] for n in plan.selected)),
        found.c.practice,
        _scope(practice, allowed_practices),
    )
    if not include_missing:
        query = query.where(found.c.missing_since.is_(None))
    key = found.primary_key.columns.values()[1]
    query = query.order_by(found.c.practice, key)
    rows = 0
    failure: BaseException | None = None
    try:
        with _target(out, fmt) as target:
            writer = _writer(fmt, target, plan.columns, False, deidentify, True)
            try:
                with contextlib.closing(_batches(engine, query, batch_size)) as batches:
                    for batch in batches:
                        writer.write(
                            [plan.transform(r) for r in batch] if plan.transform else batch
                        )
                        rows += len(batch)
            except BaseException:
                _abandon(writer)
                raise
            writer.close()
    except OSError as exc:
        failure = exc
        raise ExportError(
            f"Writing the export failed after {rows} rows: {exc.strerror or type(exc).__name__}."
        ) from None
    except SQLAlchemyError as exc:
        failure = exc
        raise ExportError(
            f"Reading the store failed after {rows} rows ({type(exc).__name__}); nothing was kept."
        ) from None
    except BaseException as exc:
        failure = exc
        raise
    finally:
        parts = [f"table={found.name}", f"to={'stdout' if to_stdout else 'file'}"]
        if include_missing:
            parts.append("include_missing")
        if failure is not None:
            parts.append(f"failed={type(failure).__name__}")
        _audit(
            engine,
            username=username or local_user(),
            fmt=f"{fmt} {found.name}",
            rows=rows,
            practice=practice,
            deidentified=deidentify,
            detail="; ".join(parts),
            failed=failure is not None,
            shown=exported_patients(query, found, rows, failure is not None),
        )
    return ExportResult(
        rows=rows,
        path=None if to_stdout else Path(out).expanduser(),
        format=fmt,
        deidentified=deidentify,
    )


def export_appointments_fhir(
    engine: Engine,
    *,
    out: str | Path,
    offset: timedelta,
    practice: str | None = None,
    allowed_practices: Collection[str] | None = None,
    deidentify: bool = False,
    bundle: bool = False,
    username: str | None = None,
    key_file: str | Path | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> ExportResult:
    """Appointments as FHIR R4 Appointment resources (NDJSON, or one collection Bundle).

    ``offset`` is the practice's UTC offset: Open Dental's times carry no zone, FHIR's do.
    """
    key_path = Path(key_file).expanduser() if key_file is not None else None
    pseudonymize = Pseudonymizer(load_or_create_key(key_path)) if deidentify else None
    query = limit_to(
        select(*(appointments.c[n] for n in APPOINTMENT_COLUMNS)).where(
            appointments.c.missing_since.is_(None)
        ),
        appointments.c.practice,
        _scope(practice, allowed_practices),
    )
    query = query.order_by(appointments.c.practice, appointments.c.apt_num)
    rows = read = 0
    failure: BaseException | None = None
    to_stdout = str(out) == "-"
    try:
        with _target(out, "fhir") as target:
            writer = _writer("fhir", target, (), bundle, deidentify, True)
            try:
                with contextlib.closing(_batches(engine, query, batch_size)) as batches:
                    for batch in batches:
                        read += len(batch)
                        resources = [
                            r
                            for r in (
                                appointment_resource(
                                    cast("Mapping[str, Any]", row._mapping),
                                    offset=offset,
                                    pseudonymize=pseudonymize,
                                )
                                for row in batch
                            )
                            if r is not None
                        ]
                        writer.write(resources)
                        rows += len(resources)
            except BaseException:
                _abandon(writer)
                raise
            writer.close()
    except BaseException as exc:
        failure = exc
        raise
    finally:
        _audit(
            engine,
            username=username or local_user(),
            fmt="fhir appointments",
            rows=rows,
            practice=practice,
            deidentified=deidentify,
            detail=f"table=appointments; to={'stdout' if to_stdout else 'file'}"
            + ("; bundle" if bundle else "")
            + (f"; failed={type(failure).__name__}" if failure is not None else ""),
            failed=failure is not None,
            shown=exported_patients(query, appointments, read, failure is not None),
        )
    return ExportResult(
        rows=rows,
        path=None if to_stdout else Path(out).expanduser(),
        format="fhir",
        deidentified=deidentify,
    )
