"""``odbridge export`` and ``odbridge views``.

They parse options, call :func:`odbridge.export.export` / :func:`create_views`, and print one
line of outcome to standard error (standard output may be carrying the export).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from odbridge.cli.common import DbOption, console, fail, open_store, require_extra
from odbridge.export.errors import ExportError

if TYPE_CHECKING:
    from sqlalchemy import Engine

_FORMAT_LIBRARIES = {"parquet": "pyarrow", "xlsx": "xlsxwriter"}


def _parse_since(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        if len(value.strip()) == 10:
            return date.fromisoformat(value.strip())
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise fail(
            f"--changed-since must be a date (YYYY-MM-DD) or a UTC date-time, not '{value}'."
        ) from None


def export_command(
    out: Annotated[
        str | None,
        typer.Option(
            "--out", "-o", help="File to write, or - for standard output (csv, jsonl, fhir)."
        ),
    ] = None,
    format_: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="csv | jsonl | parquet | xlsx | fhir (default: from the file name).",
        ),
    ] = None,
    practice: Annotated[
        str | None, typer.Option("--practice", "-p", help="One practice (default: all).")
    ] = None,
    status: Annotated[
        list[str] | None,
        typer.Option(
            "--status",
            help="PatStatus to include, e.g. Patient (repeatable or comma list; default all).",
        ),
    ] = None,
    changed_since: Annotated[
        str | None,
        typer.Option(
            help="Only rows that changed in the store on or after this day (YYYY-MM-DD, UTC)."
        ),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(help="Comma list of columns (tabular formats); see --list-columns."),
    ] = None,
    deidentify: Annotated[
        bool, typer.Option("--deidentify", help="HIPAA Safe Harbor de-identification.")
    ] = False,
    fhir_bundle: Annotated[
        bool,
        typer.Option("--fhir-bundle", help="FHIR: one collection Bundle instead of NDJSON."),
    ] = False,
    include_missing: Annotated[
        bool,
        typer.Option(
            "--include-missing", help="Also rows the source no longer returns (marked missing)."
        ),
    ] = False,
    include_ssn: Annotated[
        bool,
        typer.Option(
            "--include-ssn", help="Export full SSNs too (left out unless asked for; not FHIR)."
        ),
    ] = False,
    allow_formulas: Annotated[
        bool,
        typer.Option(
            "--allow-formulas",
            help="CSV: write cells starting with = + - @ as typed (default: neutralised with '"
            " so that a spreadsheet never runs them).",
        ),
    ] = False,
    key_file: Annotated[
        Path | None,
        typer.Option(
            "--deid-key-file",
            envvar="ODBRIDGE_DEID_KEY_FILE",
            help="Key of the pseudonymous ids (default: in the user data directory).",
        ),
    ] = None,
    table: Annotated[
        str,
        typer.Option(
            "--table",
            help="patients, or a visit table: appointments, procedure_logs, recalls, "
            "providers, clinics, definitions, operatories, appointment_types, recall_types, "
            "deleted_appointments. FHIR: patients or appointments.",
        ),
    ] = "patients",
    utc_offset: Annotated[
        float,
        typer.Option(help="FHIR appointments: the practice's UTC offset in hours (e.g. -5)."),
    ] = 0.0,
    as_user: Annotated[
        str | None,
        typer.Option(
            "--as-user",
            help="Export for this dashboard user: only the practices they may see; the audit "
            "entry names them.",
        ),
    ] = None,
    db: DbOption = None,
    list_columns: Annotated[
        bool, typer.Option("--list-columns", help="Print the exportable columns and stop.")
    ] = False,
) -> None:
    """Export patients from the store for reporting tools (CSV, JSONL, Parquet, XLSX, FHIR)."""
    from odbridge.export.columns import DEFAULT_COLUMNS, EXPORTABLE_COLUMNS, OPT_IN_COLUMNS
    from odbridge.export.run import export, format_for

    if list_columns:
        for name in EXPORTABLE_COLUMNS:
            note = "" if name in DEFAULT_COLUMNS else "  (not in the default)"
            if name in OPT_IN_COLUMNS:
                note = "  (only with --include-ssn)"
            typer.echo(f"{name}{note}")
        return
    if out is None:
        raise fail("Give the file to write with --out (or --out - for standard output).")
    since = _parse_since(changed_since)
    fmt = format_ or format_for(out)
    if fmt in _FORMAT_LIBRARIES:
        require_extra("export", _FORMAT_LIBRARIES[fmt], needs=f"The {fmt} format")
    if table != "patients":
        _export_visits(
            db,
            table,
            fmt,
            out,
            practice,
            deidentify,
            fhir_bundle,
            include_missing,
            key_file,
            utc_offset,
            as_user,
        )
        return
    engine = open_store(db)
    try:
        allowed, username = _on_behalf_of(engine, as_user)
        result = export(
            engine,
            format=fmt,
            out=out,
            practice=practice,
            statuses=status,
            changed_since=since,
            columns=columns,
            deidentify=deidentify,
            fhir_bundle=fhir_bundle,
            include_missing=include_missing,
            include_ssn=include_ssn,
            guard_formulas=not allow_formulas,
            key_file=key_file,
            allowed_practices=allowed,
            username=username,
        )
    finally:
        engine.dispose()
    where = "standard output" if result.path is None else str(result.path)
    mode = ", de-identified" if result.deidentified else ""
    console.print(escape(f"Exported {result.rows:,} patients to {where} ({result.format}{mode})."))
    if result.ssn_included:
        console.print("[yellow]Full SSNs included:[/yellow] protect the file like the store.")
    elif result.ssn_left_out:
        console.print("SSNs left out (add --include-ssn to export them).")
    if result.rows == 0:
        console.print("[yellow]No patient matched:[/yellow] check --practice and the filters.")


def _on_behalf_of(engine: Engine, as_user: str | None) -> tuple[frozenset[str] | None, str | None]:
    """For ``--as-user``: the practices that dashboard user may see (None: all) and the audit
    entry's user (``os:<login> as <user>``). UserError (exit 2) for no such enabled user."""
    if as_user is None:
        return None, None
    from odbridge.store.audit import local_user
    from odbridge.store.users import normalize_username, user_practices_of

    allowed = user_practices_of(engine, as_user)
    return allowed, f"{local_user()} as {normalize_username(as_user)}"[:100]


def _export_visits(
    db: str | None,
    table: str,
    fmt: str,
    out: str,
    practice: str | None,
    deidentify: bool,
    fhir_bundle: bool,
    include_missing: bool,
    key_file: Path | None,
    utc_offset: float,
    as_user: str | None,
) -> None:
    """``--table`` other than patients: a visit table, or FHIR Appointment resources."""
    from datetime import timedelta

    from odbridge.export.visits import export_appointments_fhir, export_table

    engine = open_store(db)
    try:
        allowed, username = _on_behalf_of(engine, as_user)
        if fmt == "fhir":
            if table != "appointments":
                raise ExportError("FHIR exports are of patients or appointments.")
            result = export_appointments_fhir(
                engine,
                out=out,
                offset=timedelta(hours=utc_offset),
                practice=practice,
                allowed_practices=allowed,
                username=username,
                deidentify=deidentify,
                bundle=fhir_bundle,
                key_file=key_file,
            )
        else:
            result = export_table(
                engine,
                table,
                format=fmt,
                out=out,
                practice=practice,
                allowed_practices=allowed,
                username=username,
                deidentify=deidentify,
                include_missing=include_missing,
                key_file=key_file,
            )
    finally:
        engine.dispose()
    where = "standard output" if result.path is None else str(result.path)
    mode = ", de-identified" if result.deidentified else ""
    console.print(escape(f"Exported {result.rows:,} {table} rows to {where} ({fmt}{mode})."))


def views_command(
    db: DbOption = None,
) -> None:
    """Create (or refresh) the reporting views in the store: v_patients and friends."""
    from odbridge.store.views import VIEWS, create_views

    engine = open_store(db)
    try:
        create_views(engine)
    finally:
        engine.dispose()
    for view in VIEWS:
        console.print(escape(f"  {view.name:<20} {view.description}"))
    console.print(f"{len(VIEWS)} views ready.")
