"""``export()``: stream the store's patients into a file (or standard output), then audit it.

Rows are read with a server-side cursor (PostgreSQL) or SQLite's lazy cursor, ``batch_size``
at a time, and each batch goes straight to the writer: memory stays flat whatever the
number of patients. A file is written under a temporary name, readable only by its owner
(0600), and renamed into place when complete, so a failed export leaves no partial file.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import secrets
import sys
from collections.abc import Callable, Collection, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal, TextIO, cast, get_args

from sqlalchemy import Engine, Select, Table, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import SQLAlchemyError

from odbridge.export.columns import (
    COLUMN_KINDS,
    OutputColumn,
    resolve_columns,
    resolve_statuses,
)
from odbridge.export.deidentify import (
    Pseudonymizer,
    dropped_columns,
    layout,
    load_or_create_key,
)
from odbridge.export.errors import ExportError
from odbridge.export.fhir import FHIR_COLUMNS, BundleWriter, NdjsonWriter, patient_resource
from odbridge.export.tabular import (
    CsvWriter,
    JsonLinesWriter,
    ParquetWriter,
    RowWriter,
    XlsxWriter,
)
from odbridge.store.audit import local_user, record
from odbridge.store.schema import patients

log = logging.getLogger("odbridge.export")

Format = Literal["csv", "jsonl", "parquet", "xlsx", "fhir"]
FORMATS: tuple[str, ...] = get_args(Format)
STDOUT_FORMATS = frozenset({"csv", "jsonl", "fhir"})
"""Formats that can go to standard output (``out="-"``)."""

SUFFIX_FORMATS: dict[str, Format] = {
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".xlsx": "xlsx",
}
"""File name endings that name their format (FHIR NDJSON must be asked for by name)."""

DEFAULT_BATCH = 2000


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote: rows, the file (None for standard output), format, mode, and
    whether full SSNs are in it (``ssn_included``) or were left out of the default
    columns (``ssn_left_out``)."""

    rows: int
    path: Path | None
    format: str
    deidentified: bool
    ssn_included: bool = False
    ssn_left_out: bool = False


def format_for(out: str | Path) -> Format:
    """The format a file name implies (``.csv``, ``.jsonl``, ``.parquet``, ``.xlsx``)."""
    suffix = Path(str(out)).suffix.lower()
    found = SUFFIX_FORMATS.get(suffix)
    if found is None:
        raise ExportError(
            f"Cannot tell the format from '{Path(str(out)).name}': "
            f"name it with --format ({', '.join(FORMATS)})."
        )
    return found


@dataclass(frozen=True)
class _Plan:
    selected: tuple[str, ...]
    columns: tuple[OutputColumn, ...]
    transform: Callable[[Row[Any]], Any] | None


def export(
    engine: Engine,
    *,
    format: str,
    out: str | Path,
    practice: str | None = None,
    allowed_practices: Collection[str] | None = None,
    statuses: str | Sequence[str] | None = None,
    changed_since: date | None = None,
    columns: str | Sequence[str] | None = None,
    deidentify: bool = False,
    fhir_bundle: bool = False,
    include_missing: bool = False,
    include_ssn: bool = False,
    guard_formulas: bool = True,
    username: str | None = None,
    key_file: str | Path | None = None,
    today: date | None = None,
    batch_size: int = DEFAULT_BATCH,
) -> ExportResult:
    """Export patients from the store.

    - ``format``: csv, jsonl, parquet, xlsx or fhir (Patient resources as NDJSON, or a
      ``collection`` Bundle with ``fhir_bundle``).
    - ``out``: a file path, or ``"-"`` for standard output (csv, jsonl, fhir).
    - ``practice``: one practice (default: all); ``statuses``: PatStatus names.
    - ``allowed_practices``: the practices the person exporting may see (None: every
      one). Rows of the others are never read, and naming another ``practice`` is refused.
    - ``changed_since``: rows whose ``last_synced_at`` (when their content last changed in
      the store, UTC) is on or after that day (a ``datetime``: that moment).
    - ``columns``: tabular formats only; names from :data:`EXPORTABLE_COLUMNS`.
    - ``include_ssn``: full SSNs are left out (of the defaults, and refused in ``columns``)
      unless this is true; tabular formats only, never de-identified.
    - ``guard_formulas``: CSV text cells a spreadsheet would run as formulas (``=``, ``+``,
      ``-``, ``@``, tab, CR) get a leading apostrophe; false writes them as typed.
    - ``deidentify``: HIPAA Safe Harbor (see :mod:`odbridge.export.deidentify`); the
      pseudonym key comes from ``key_file`` (default: ``ODBRIDGE_DEID_KEY_FILE`` or the
      user data directory). ``today`` is the day whose year ages are computed for. It
      cannot be combined with ``changed_since``.
    - Rows marked missing (no longer returned by the source) are left out unless
      ``include_missing``.

    Writes one audit-log entry (``username``, default the OS user), whether the export
    succeeds or fails. Raises :class:`ExportError` with a message meant for the user.
    """
    fmt = _check_format(format)
    to_stdout = str(out) == "-"
    if to_stdout and fmt not in STDOUT_FORMATS:
        raise ExportError(
            f"{fmt} cannot go to standard output: give a file name with --out. "
            f"Standard output takes {', '.join(sorted(STDOUT_FORMATS))}."
        )
    if fhir_bundle and fmt != "fhir":
        raise ExportError("--fhir-bundle applies to the fhir format only.")
    if fmt == "fhir" and columns is not None:
        raise ExportError("Columns apply to tabular formats; FHIR resources have a fixed shape.")
    if batch_size < 1:
        raise ExportError("The batch size must be at least 1.")
    _check_privacy_options(fmt, deidentify, changed_since, include_ssn)
    # De-identified: a named ssn column is refused below, with the Safe Harbor reason.
    opted_in = include_ssn or (deidentify and columns is not None)
    chosen = resolve_columns(columns, include_ssn=opted_in) if fmt != "fhir" else FHIR_COLUMNS
    if deidentify and columns is not None:
        removed = dropped_columns(chosen)
        if removed:
            raise ExportError(
                f"De-identified exports never hold {', '.join(removed)} (Safe Harbor "
                "identifiers); leave them out of the columns."
            )
    status_names = resolve_statuses(statuses)
    since = _since(changed_since)
    day = today or date.today()
    key_path = Path(key_file).expanduser() if key_file is not None else None
    pseudonymize = Pseudonymizer(load_or_create_key(key_path)) if deidentify else None
    plan = _plan(fmt, chosen, pseudonymize, day)
    scope = _scope(practice, allowed_practices)
    query = _query(plan.selected, scope, status_names, since, include_missing)

    rows = 0
    failure: BaseException | None = None
    try:
        with _target(out, fmt) as target:
            writer = _writer(fmt, target, plan.columns, fhir_bundle, deidentify, guard_formulas)
            transform = plan.transform
            try:
                with contextlib.closing(_batches(engine, query, batch_size)) as batches:
                    for batch in batches:
                        writer.write([transform(r) for r in batch] if transform else batch)
                        rows += len(batch)
            except BaseException:
                _abandon(writer)
                raise
            writer.close()
    except ExportError as exc:
        failure = exc
        raise
    except OSError as exc:
        failure = exc
        where = "standard output" if to_stdout else str(out)
        raise ExportError(
            f"Writing {where} failed after {rows} rows: {exc.strerror or type(exc).__name__}."
        ) from None
    except SQLAlchemyError as exc:
        failure = exc
        raise ExportError(
            f"Reading the store failed after {rows} rows ({type(exc).__name__}); "
            "nothing was kept. Check the database is reachable and try again."
        ) from None
    except Exception as exc:
        failure = exc
        # The library's message may quote a value, that is patient data: not shown.
        raise ExportError(
            f"The {fmt} export failed after {rows} rows ({type(exc).__name__}); nothing was kept."
        ) from None
    except BaseException as exc:  # KeyboardInterrupt: still audited
        failure = exc
        raise
    finally:
        _audit(
            engine,
            username=username or local_user(),
            fmt=fmt,
            rows=rows,
            practice=practice,
            deidentified=deidentify,
            shown=exported_patients(query, patients, rows, failure is not None),
            detail=_detail(
                to_stdout,
                status_names,
                changed_since,
                columns,
                chosen,
                include_missing,
                fhir_bundle,
                failure,
                unguarded=fmt == "csv" and not guard_formulas,
                limited_to=scope if isinstance(scope, frozenset) else None,
            ),
            failed=failure is not None,
        )
    return ExportResult(
        rows=rows,
        path=None if to_stdout else Path(out).expanduser(),
        format=fmt,
        deidentified=deidentify,
        ssn_included="ssn" in chosen,
        ssn_left_out=columns is None and fmt != "fhir" and not deidentify and not include_ssn,
    )


def _check_privacy_options(
    fmt: Format, deidentify: bool, changed_since: date | None, include_ssn: bool
) -> None:
    """Refuse the combinations that would leak what the options promise to keep in."""
    if deidentify and changed_since is not None:
        raise ExportError(
            "--changed-since cannot be combined with --deidentify: which pseudonyms appear "
            "in an export of recent changes tells when each patient's record changed, a "
            "date finer than the year. Export the whole de-identified set instead."
        )
    if include_ssn and deidentify:
        raise ExportError("De-identified exports never hold SSNs: drop --include-ssn.")
    if include_ssn and fmt == "fhir":
        raise ExportError("FHIR exports never carry the SSN: --include-ssn is for tabular formats.")


def _check_format(value: str) -> Format:
    fmt = value.strip().lower()
    if fmt not in FORMATS:
        raise ExportError(f"Unknown format '{value}': use one of {', '.join(FORMATS)}.")
    return cast(Format, fmt)


def _since(changed_since: date | None) -> datetime | None:
    if changed_since is None:
        return None
    if isinstance(changed_since, datetime):  # naive: UTC already; aware: converted
        if changed_since.tzinfo is not None:
            changed_since = changed_since.astimezone(UTC)
        return changed_since.replace(tzinfo=None)
    return datetime.combine(changed_since, time.min)


def _plan(
    fmt: Format, chosen: Sequence[str], pseudonymize: Pseudonymizer | None, day: date
) -> _Plan:
    if fmt == "fhir":

        def to_resource(row: Row[Any]) -> dict[str, Any]:
            mapping = cast("Mapping[str, Any]", row._mapping)
            return patient_resource(mapping, pseudonymize=pseudonymize, today=day)

        return _Plan(tuple(FHIR_COLUMNS), (), to_resource)
    if pseudonymize is not None:
        found = layout(chosen, pseudonymize, day)
        return _Plan(found.selected, found.columns, found.transform)
    columns = tuple(OutputColumn(name, COLUMN_KINDS[name]) for name in chosen)
    return _Plan(tuple(chosen), columns, None)


def _scope(practice: str | None, allowed: Collection[str] | None) -> str | frozenset[str] | None:
    """Which practices to read: one, a set (the allowed ones), or None (all)."""
    if allowed is None:
        return practice
    if practice is None:
        return frozenset(allowed)
    if practice not in allowed:
        raise ExportError(f"You may not export practice '{practice}': it is not among yours.")
    return practice


def limit_to(query: Select[Any], column: Any, scope: str | frozenset[str] | None) -> Select[Any]:
    """``query`` limited to the practices of ``scope`` (from :func:`_scope`) on ``column``."""
    if isinstance(scope, frozenset):
        return query.where(column.in_(sorted(scope)))
    if scope is not None:
        return query.where(column == scope)
    return query


def _query(
    selected: Sequence[str],
    practice: str | frozenset[str] | None,
    statuses: Sequence[str] | None,
    since: datetime | None,
    include_missing: bool,
) -> Select[Any]:
    query = select(*(patients.c[name] for name in selected))
    query = limit_to(query, patients.c.practice, practice)
    if statuses is not None:
        query = query.where(patients.c.pat_status.in_(list(statuses)))
    if since is not None:
        query = query.where(patients.c.last_synced_at >= since)
    if not include_missing:
        query = query.where(patients.c.missing_since.is_(None))
    return query.order_by(patients.c.practice, patients.c.pat_num)


def _batches(
    engine: Engine, query: Select[Any], batch_size: int
) -> Generator[Sequence[Row[Any]], None, None]:
    """The query's rows, ``batch_size`` at a time, never all at once."""
    with engine.connect() as connection:
        result = connection.execution_options(stream_results=True, yield_per=batch_size).execute(
            query
        )
        try:
            yield from result.partitions()
        finally:
            result.close()


@contextlib.contextmanager
def _target(out: str | Path, fmt: Format) -> Iterator[TextIO | Path]:
    """Where the writer writes: standard output, a text stream on a temporary file, or the
    temporary file's path (binary formats); renamed to ``out`` only on success."""
    if str(out) == "-":
        with _stdout() as stream:
            yield stream
        return
    path = Path(out).expanduser()
    if path.is_dir():
        raise ExportError(f"{path} is a folder: give a file name with --out.")
    if not path.parent.is_dir():
        raise ExportError(f"The folder {path.parent} does not exist: create it first.")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    descriptor = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        if fmt in STDOUT_FORMATS:
            with os.fdopen(descriptor, "w", encoding="utf-8", newline="") as stream:
                yield stream
        else:
            os.close(descriptor)
            yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


@contextlib.contextmanager
def _stdout() -> Iterator[TextIO]:
    """Standard output as UTF-8 text whatever the locale; left open afterwards."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # replaced by a text-only stream (some test runners, IDEs)
        yield sys.stdout
        sys.stdout.flush()
        return
    sys.stdout.flush()
    stream = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    try:
        yield stream
        stream.flush()
    finally:
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to save
            stream.detach()


def _writer(
    fmt: Format,
    target: TextIO | Path,
    columns: Sequence[OutputColumn],
    fhir_bundle: bool,
    deidentified: bool,
    guard_formulas: bool,
) -> RowWriter:
    if fmt in ("parquet", "xlsx"):
        if not isinstance(target, Path):  # pragma: no cover - _target guarantees it
            raise TypeError("binary formats write to a file")
        if fmt == "parquet":
            return ParquetWriter(
                target, columns, metadata={"deidentified": str(deidentified).lower()}
            )
        properties: dict[str, Any] = {
            "title": "odbridge patient export",
            "comments": "de-identified (HIPAA Safe Harbor)" if deidentified else "",
        }
        if deidentified:  # the creation date is a date too: the year only
            properties["created"] = datetime(datetime.now(UTC).year, 1, 1)
        return XlsxWriter(target, columns, properties=properties)
    if isinstance(target, Path):  # pragma: no cover - _target guarantees it
        raise TypeError("text formats write to a stream")
    if fmt == "csv":
        return CsvWriter(target, columns, guard_formulas=guard_formulas)
    if fmt == "jsonl":
        return JsonLinesWriter(target, columns)
    return BundleWriter(target) if fhir_bundle else NdjsonWriter(target)


def _abandon(writer: RowWriter) -> None:
    """Release what a failed writer holds (its file is discarded anyway)."""
    with contextlib.suppress(Exception):
        writer.close()


def _detail(
    to_stdout: bool,
    statuses: Sequence[str] | None,
    changed_since: date | None,
    requested: str | Iterable[str] | None,
    chosen: Sequence[str],
    include_missing: bool,
    fhir_bundle: bool,
    failure: BaseException | None,
    *,
    unguarded: bool = False,
    limited_to: frozenset[str] | None = None,
) -> str:
    """The audit entry's detail: destination kind and filters, never a path or patient data."""
    parts = [f"to={'stdout' if to_stdout else 'file'}"]
    if limited_to is not None:
        parts.append(f"practices={','.join(sorted(limited_to))}")
    if "ssn" in chosen:
        parts.append("ssn")
    if unguarded:
        parts.append("formulas_as_typed")
    if statuses:
        parts.append(f"statuses={','.join(statuses)}")
    if changed_since is not None:
        parts.append(f"changed_since={changed_since.isoformat()}")
    if requested is not None:
        parts.append(f"columns={','.join(chosen)}")
    if include_missing:
        parts.append("include_missing")
    if fhir_bundle:
        parts.append("bundle")
    if failure is not None:
        parts.append(f"failed={type(failure).__name__}")
    return "; ".join(parts)


def exported_patients(
    query: Select[Any], table: Table, rows: int, failed: bool
) -> Select[Any] | None:
    """(practice, PatNum) of the patients whose rows an export wrote, for the per-patient
    audit table: every row ``query`` selects, or the first ``rows`` of them (the export's
    order) when it stopped early; None for a table without patients."""
    if "pat_num" not in table.c:
        return None
    keys = query.with_only_columns(table.c.practice, table.c.pat_num)
    if failed:
        keys = keys.limit(rows)
    inner = keys.subquery()
    return (
        select(inner.c.practice, inner.c.pat_num)
        .where(inner.c.pat_num.is_not(None))
        .group_by(inner.c.practice, inner.c.pat_num)
    )


def _audit(
    engine: Engine,
    *,
    username: str,
    fmt: str,
    rows: int,
    practice: str | None,
    deidentified: bool,
    detail: str,
    failed: bool,
    shown: Select[Any] | None = None,
) -> None:
    """The export's audit entry, with the patients it wrote (``shown``, from
    :func:`exported_patients`) in the per-patient audit table."""
    try:
        record(
            engine,
            username=username,
            action="export",
            what=fmt,
            rows=rows,
            practice=practice,
            deidentified=deidentified,
            detail=detail,
            pat_nums_query=shown,
        )
    except SQLAlchemyError as exc:
        if failed:  # the export's own error matters more; say the audit is missing too
            log.error("the failed export could not be audited (%s)", type(exc).__name__)
            return
        raise ExportError(
            f"The export was written but its audit entry could not be ({type(exc).__name__}). "
            "Check the store, and record the export by hand if your policy requires it."
        ) from None
