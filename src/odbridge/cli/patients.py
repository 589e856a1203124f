"""``odbridge patients``: read patients straight from the API (each view is audit-logged)."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from odbridge.cli.common import (
    BaseUrlOption,
    ModeOption,
    PracticeOption,
    console,
    fail,
    load_profile,
    open_store,
    out,
    setup_logging,
    warn,
)
from odbridge.cli.progress import rows_progress

if TYPE_CHECKING:
    from sqlalchemy import Engine

app = typer.Typer(help="Read patients straight from the API.", no_args_is_help=True)

FORMATS = ("table", "json", "csv")
TABLE_COLUMNS = ("PatNum", "LName", "FName", "PatStatus", "Birthdate", "City", "WirelessPhone")


def _audit_view(
    engine: Engine, what: str, practice: str, *, rows: int | None, pat_nums: Sequence[int] = ()
) -> int:
    """Reading patients from the command line is a view of patient data: audit it *before*
    anything is shown, and stop (exit 1) if the entry cannot be written."""
    from sqlalchemy.exc import SQLAlchemyError

    from odbridge.store import audit

    try:
        return audit.record(
            engine,
            username=audit.local_user(),
            action="view",
            what=what,
            rows=rows,
            practice=practice,
            detail=None if rows is not None else "started",
            pat_nums=[(practice, n) for n in pat_nums],
        )
    except SQLAlchemyError as exc:
        raise fail(
            f"Cannot write the audit log ({type(exc).__name__}), so no patient data is shown. "
            "Check that the store is writable (odbridge status)."
        ) from None


def _audit_finish(
    engine: Engine, entry_id: int, count: int, practice: str, pat_nums: list[int], done: bool
) -> None:
    """The listing's real count and PatNums, once it ends (or stops)."""
    from sqlalchemy.exc import SQLAlchemyError

    from odbridge.store import audit

    try:
        audit.finish(
            engine,
            entry_id,
            rows=count,
            detail="complete" if done else "stopped early",
            pat_nums=[(practice, n) for n in pat_nums],
        )
    except SQLAlchemyError as exc:
        raise fail(f"Cannot complete the audit log entry ({type(exc).__name__}).") from None


@app.command("get")
def patients_get(
    pat_num: Annotated[int, typer.Argument(help="The patient's PatNum.")],
    practice: PracticeOption = None,
    base_url: BaseUrlOption = None,
    mode: ModeOption = None,
    output: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """One patient's full record."""
    from odbridge.api.client import Client

    setup_logging("WARNING")
    if output not in ("table", "json"):
        raise fail("--format must be table or json")
    profile = load_profile(practice, keys=True, base_url=base_url, mode=mode)
    engine = open_store(None)  # the audit log must be writable before patient data is shown
    with Client(profile=profile) as client:
        patient = client.patients.get(pat_num)
    _audit_view(engine, "cli patients get", profile.name, rows=1, pat_nums=[pat_num])
    record = patient.to_api_dict()
    if output == "json":
        typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    table = Table(show_header=False)
    for key, value in record.items():
        table.add_row(escape(key), escape(str(value)))
    out().print(table)


@app.command("list")
def patients_list(
    practice: PracticeOption = None,
    base_url: BaseUrlOption = None,
    mode: ModeOption = None,
    lname: Annotated[str | None, typer.Option(help="Last name contains (any case).")] = None,
    fname: Annotated[str | None, typer.Option(help="First name contains (any case).")] = None,
    status: Annotated[str | None, typer.Option(help="PatStatus, e.g. Patient.")] = None,
    clinic: Annotated[int | None, typer.Option(help="ClinicNum.")] = None,
    changed_since: Annotated[
        str | None, typer.Option(help="Only patients changed since 'yyyy-MM-dd HH:mm:ss'.")
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Every page, not just one.")] = False,
    limit: Annotated[int | None, typer.Option(help="Rows per page.")] = None,
    offset: Annotated[int, typer.Option(help="Rows to skip.")] = 0,
    output: Annotated[str, typer.Option("--format", help="table | json | csv")] = "table",
    allow_formulas: Annotated[
        bool,
        typer.Option(
            "--allow-formulas",
            help="CSV: write cells starting with = + - @ as typed (default: neutralised with '"
            " so that a spreadsheet never runs them).",
        ),
    ] = False,
) -> None:
    """Patients from GET /patients/Simple: one page, or every page with --all (streamed)."""
    from odbridge.api.client import Client
    from odbridge.vocab import PatStatus

    setup_logging("WARNING")
    if output not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}")
    try:
        pat_status = PatStatus(status) if status is not None else None
    except ValueError:
        raise fail(f"--status must be one of {', '.join(PatStatus)}") from None
    profile = load_profile(practice, keys=True, base_url=base_url, mode=mode)
    engine = open_store(None)  # the audit log must be writable before patient data is shown
    entry = _audit_view(engine, "cli patients list", profile.name, rows=None)
    writer = _PatientWriter(output, guard_formulas=not allow_formulas)
    shown: list[int] = []
    rejected = 0
    done = False
    try:
        progress: AbstractContextManager[Callable[[], None]] = (
            rows_progress(console) if all_pages else nullcontext(lambda: None)
        )
        with Client(profile=profile) as client, progress as advance:
            first = client.patients.list(
                changed_since=changed_since,
                pat_status=pat_status,
                lname=lname,
                fname=fname,
                clinic_num=clinic,
                offset=offset,
                limit=limit,
            )
            for page in first.pages() if all_pages else [first]:
                for patient in page.items:
                    writer.write(patient.to_api_dict())
                    shown.append(patient.pat_num)
                    advance()
                for row in page.rejected:
                    rejected += 1
                    warn(f"row {row.position} (PatNum {row.key}) left out: {row.problem}")
        done = True
    finally:
        writer.close()
        _audit_finish(engine, entry, len(shown), profile.name, shown, done)
    left_out = f" ({rejected} left out: not in the documented format)" if rejected else ""
    console.print(f"{len(shown)} patient(s).{left_out}")


class _PatientWriter:
    """Writes rows to stdout as they come: CSV and JSON stream; a table prints at the end."""

    def __init__(self, output: str, *, guard_formulas: bool = True) -> None:
        from odbridge.export.tabular import neutralise_formula

        self.output = output
        self._neutralise = neutralise_formula if guard_formulas else None
        self.count = 0
        self._csv: csv.DictWriter[str] | None = None
        self._table: Table | None = None

    def write(self, record: dict[str, object]) -> None:
        if self.output == "csv":
            if self._csv is None:
                self._csv = csv.DictWriter(
                    sys.stdout, fieldnames=list(record), extrasaction="ignore"
                )
                self._csv.writeheader()
            neutralise = self._neutralise
            if neutralise is not None:  # names and emails can be typed by patients themselves
                record = {k: neutralise(v) if isinstance(v, str) else v for k, v in record.items()}
            self._csv.writerow(record)
        elif self.output == "json":
            sys.stdout.write(
                ("[\n" if self.count == 0 else ",\n") + json.dumps(record, ensure_ascii=False)
            )
        else:
            if self._table is None:
                self._table = Table(*TABLE_COLUMNS)
            self._table.add_row(*(escape(str(record.get(c, ""))) for c in TABLE_COLUMNS))
        self.count += 1

    def close(self) -> None:
        if self.output == "json":
            sys.stdout.write("[]\n" if self.count == 0 else "\n]\n")
        elif self._table is not None:
            out().print(self._table)
        sys.stdout.flush()
