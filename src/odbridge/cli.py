"""The ``odbridge`` command line: wires the library's parts together; holds no logic of its own."""

from __future__ import annotations

import contextlib
import csv
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import SecretStr, ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from odbridge import __version__
from odbridge.export.command import export_command, views_command
from odbridge.simulator.faults import FaultSettings, FaultSpecError, parse_fault_spec
from odbridge.simulator.settings import Mode, SimulatorSettings, ThrottleMode, Tier

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from odbridge.config import PracticeProfile
    from odbridge.sync.engine import RunSummary

app = typer.Typer(
    name="odbridge",
    help="Read patient data out of Open Dental into a local database, a dashboard and exports.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals can hold keys and patient data
    add_completion=False,
)
console = Console(stderr=True)

DEFAULT_SIM_PORT = 8780


def _setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    logging.captureWarnings(True)  # unknown enum values reach the log


def fail(message: str) -> typer.Exit:
    """Print one clear sentence and exit with code 2 (bad input or configuration)."""
    console.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(code=2)


def version_callback(value: bool) -> None:
    if value:
        typer.echo(f"odbridge {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True)
    ] = False,
) -> None:
    """odbridge: Open Dental patient data, synced, browsable and exportable."""


@app.command()
def simulate(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = DEFAULT_SIM_PORT,
    patients: Annotated[int, typer.Option(help="Patients in the synthetic practice.")] = 1000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same practice.")] = 1,
    developer_key: Annotated[
        str, typer.Option(envvar="ODBRIDGE_SIM_DEVELOPER_KEY", help="Developer key to accept.")
    ] = "devkey-sim",
    customer_key: Annotated[
        str, typer.Option(envvar="ODBRIDGE_SIM_CUSTOMER_KEY", help="Customer key to accept.")
    ] = "custkey-sim",
    disabled_key: Annotated[
        list[str] | None, typer.Option(help="A customer key that is disabled (repeatable).")
    ] = None,
    tier: Annotated[str, typer.Option(help="read-all | full | enterprise.")] = "read-all",
    mode: Annotated[
        str | None, typer.Option(help="remote | local | service (local/service: unthrottled).")
    ] = None,
    rate_interval: Annotated[
        float | None, typer.Option(help="Seconds between requests per key (default: tier's).")
    ] = None,
    page_limit: Annotated[
        int | None, typer.Option(help="Most rows per request (100 remote, 1000 local).")
    ] = None,
    throttle: Annotated[
        str, typer.Option(help="reject (429 + Retry-After) | delay (hold until the slot).")
    ] = "reject",
    faults: Annotated[
        str, typer.Option(help="e.g. 'econnector=0.05,error500=0.05,reset=0.02,seed=7'.")
    ] = "",
    accept_basic: Annotated[
        bool, typer.Option(help="Also accept HTTP Basic (not a documented scheme).")
    ] = False,
    changes_per_minute: Annotated[
        float, typer.Option(help="Random patient updates per minute (moving data).")
    ] = 0,
) -> None:
    """Run a local stand-in for the Open Dental API with a synthetic practice."""
    from odbridge.simulator.server import serve_forever

    _setup_logging()
    try:
        fault_settings = parse_fault_spec(faults) if faults else FaultSettings()
        settings = SimulatorSettings(
            host=host,
            port=port,
            patients=patients,
            seed=seed,
            developer_key=SecretStr(developer_key),
            customer_key=SecretStr(customer_key),
            disabled_customer_keys=[SecretStr(k) for k in disabled_key or []],
            tier=_choice(tier, Tier, "--tier"),
            mode=_choice(mode, Mode, "--mode") if mode else None,
            rate_interval=rate_interval,
            page_limit=page_limit,
            throttle=_choice(throttle, ThrottleMode, "--throttle"),
            accept_basic=accept_basic,
            faults=fault_settings,
            changes_per_minute=changes_per_minute,
        )
    except FaultSpecError as exc:
        raise fail(f"--faults: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        raise fail(
            f"--{'-'.join(map(str, first['loc'])).replace('_', '-')}: {first['msg']}"
        ) from None
    _print_listening(settings)
    serve_forever(settings)


def _choice(value: str, options: object, flag: str) -> str:
    allowed: tuple[str, ...] = getattr(options, "__args__", ())
    if value not in allowed:
        raise fail(f"{flag} must be one of {', '.join(allowed)}, not '{value}'")
    return value


def _print_listening(settings: SimulatorSettings) -> None:
    base = f"http://{settings.host}:{settings.port}/api/v1"
    pace = (
        f"1 request / {settings.interval:g} s per customer key ({settings.throttle} when early)"
        if settings.interval
        else "not throttled"
    )
    console.print(
        f"[bold]Open Dental simulator[/bold] ({settings.mode} mode, tier {settings.tier})"
    )
    console.print(f"  API base URL : {base}")
    console.print(f"  patients     : {settings.patients} (seed {settings.seed})")
    console.print(f"  page cap     : {settings.page_cap} rows; {pace}")
    console.print(f"  stats        : http://{settings.host}:{settings.port}/_simulator/stats")
    console.print("  auth         : Authorization: ODFHIR <developer key>/<customer key>")
    if settings.host not in ("127.0.0.1", "localhost", "::1"):
        console.print("[yellow]warning:[/yellow] listening beyond this machine (no TLS).")


def _store(db: str | None) -> Engine:
    from odbridge.store.db import StoreError, create_store_engine

    try:
        return create_store_engine(db)
    except StoreError as exc:
        raise fail(str(exc)) from None


def _profiles(practice: str | None, all_practices: bool) -> list[PracticeProfile]:
    from odbridge.config import ConfigError, load_settings, resolve_profile

    try:
        if all_practices:
            names = sorted(load_settings().practices)
            if not names:
                raise ConfigError(
                    "--all needs practices in the config file.",
                    "Add [practices.NAME] tables to it (see `odbridge config show`).",
                )
            return [resolve_profile(name) for name in names]
        profile = resolve_profile(practice)
        profile.require_keys()
        return [profile]
    except ConfigError as exc:
        raise fail(str(exc)) from None


class _StopOnSignal:
    """First SIGINT/SIGTERM: finish the current page, then stop. A second: stop now."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __enter__(self) -> threading.Event:
        self._old = {
            sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        return self.event

    def _handle(self, signum: int, frame: object) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()
        console.print("[yellow]Stopping after the current page (press Ctrl-C again to abort).[/]")

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


@app.command()
def sync(
    practice: Annotated[
        str | None, typer.Option("--practice", "-p", help="Practice name in the config.")
    ] = None,
    all_practices: Annotated[
        bool, typer.Option("--all", help="Every practice in the config, concurrently.")
    ] = False,
    db: Annotated[
        str | None, typer.Option(help="Store URL (default: a SQLite file; ODBRIDGE_DB).")
    ] = None,
    full: Annotated[bool, typer.Option("--full", help="Read every patient again.")] = False,
    reconcile: Annotated[
        bool, typer.Option("--reconcile", help="Full pass that marks rows no longer returned.")
    ] = False,
    every: Annotated[
        str | None, typer.Option(help="Run on a schedule until stopped, e.g. 15m.")
    ] = None,
    overlap: Annotated[
        str, typer.Option(help="How far back each incremental run looks again.")
    ] = "1h",
    reconcile_every: Annotated[
        int, typer.Option(help="Reconcile automatically every N incremental runs.")
    ] = 24,
) -> None:
    """Bring the practice's patients into the local store, then keep them current."""
    from odbridge.sync.engine import RunMode
    from odbridge.sync.progress import SyncProgressView
    from odbridge.sync.runner import parse_duration, run_every, sync_practices

    _setup_logging("WARNING" if console.is_terminal else "INFO")
    if practice and all_practices:
        raise fail("Use --practice NAME or --all, not both.")
    if full and reconcile:
        raise fail("Use --full or --reconcile, not both.")
    try:
        schedule = parse_duration(every) if every else None
        overlap_window = parse_duration(overlap)
    except ValueError as exc:
        raise fail(str(exc)) from None
    profiles = _profiles(practice, all_practices)
    engine = _store(db)
    mode: RunMode = "full" if full else "reconcile" if reconcile else "auto"
    failed = False

    def once() -> None:
        nonlocal failed
        with SyncProgressView(console) as view:
            summaries = sync_practices(
                engine,
                profiles,
                mode=mode,
                stop=stop,
                on_progress=view,
                overlap=overlap_window,
                reconcile_every=reconcile_every,
            )
        _print_summaries(summaries)
        failed = any(s.outcome == "failed" for s in summaries)

    with _StopOnSignal() as stop:
        if schedule is None:
            once()
        else:
            console.print(f"Syncing every {every}; Ctrl-C stops after the current page.")
            run_every(schedule, once, stop)
    if failed:
        raise typer.Exit(code=1)


def _print_summaries(summaries: list[RunSummary]) -> None:
    table = Table(title="Sync", title_justify="left")
    for column in ("practice", "mode", "outcome", "pages", "rows", "new", "changed", "missing"):
        table.add_column(column, justify="right" if column in ("pages", "rows") else "left")
    for column in ("requests", "throttled", "retries", "seconds"):
        table.add_column(column, justify="right")
    for s in summaries:
        colour = {"ok": "green", "failed": "red"}.get(s.outcome, "yellow")
        p = s.progress
        table.add_row(
            s.practice,
            s.mode,
            f"[{colour}]{s.outcome}[/]",
            *(str(n) for n in (p.pages, p.rows, p.inserted, p.updated, p.missing)),
            *(str(n) for n in (s.requests, s.throttled, s.retries)),
            f"{s.seconds:.1f}",
        )
    console.print(table)
    for s in summaries:
        if s.error:
            console.print(f"[red]{escape(s.practice)}:[/red] {escape(s.error)}")
        elif s.outcome == "interrupted":
            console.print(f"{s.practice}: stopped cleanly; the next sync resumes from here.")


@app.command()
def status(
    db: Annotated[
        str | None, typer.Option(help="Store URL (default: a SQLite file; ODBRIDGE_DB).")
    ] = None,
) -> None:
    """Each practice's last sync, its freshness and row counts."""
    from odbridge.sync.status import practice_statuses

    statuses = practice_statuses(_store(db))
    if not statuses:
        Console().print("The store is empty: run `odbridge sync` first.")
        return
    table = Table(title="Store status", title_justify="left")
    for column in ("practice", "patients", "missing", "last run", "outcome", "finished"):
        table.add_column(column)
    table.add_column("fresh as of (last ok)")
    table.add_column("cursor (server time)")
    now = datetime.now(UTC).replace(tzinfo=None)
    for st in statuses:
        outcome = st.last_outcome or "-"
        colour = {"ok": "green", "failed": "red", "running": "cyan"}.get(outcome, "yellow")
        age = f"{_age(now - st.last_ok)} ago" if st.last_ok else "never"
        table.add_row(
            st.practice,
            str(st.patients),
            str(st.missing),
            (st.last_mode or "-") + (" (unfinished full)" if st.full_in_progress else ""),
            f"[{colour}]{outcome}[/]",
            f"{st.last_finished:%Y-%m-%d %H:%M} UTC" if st.last_finished else "-",
            age,
            st.cursor or "-",
        )
    Console().print(table)
    for st in statuses:
        if st.last_error:
            console.print(f"[red]{escape(st.practice)}:[/red] {escape(st.last_error)}")


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


app.command("export")(export_command)
app.command("views")(views_command)


# -- connection check and patient reads (the API) -----------------------------------------
PracticeOption = Annotated[
    str | None, typer.Option("--practice", "-p", help="Practice name in the config.")
]
BaseUrlOption = Annotated[
    str | None, typer.Option(help="API base URL (overrides the mode's; ODBRIDGE_BASE_URL).")
]
ModeOption = Annotated[
    str | None, typer.Option(help="remote | local | service | auto (ODBRIDGE_MODE).")
]


def _profile(
    practice: str | None, base_url: str | None, mode: str | None, *, keys: bool = False
) -> PracticeProfile:
    """The practice's settings; with ``keys``, both keys must be set (else exit 2)."""
    from odbridge.config import ConfigError, resolve_profile

    try:
        profile = resolve_profile(practice, base_url=base_url, mode=mode)
        if keys:
            profile.require_keys()
    except ConfigError as exc:
        raise fail(str(exc)) from None
    return profile


@app.command()
def check(
    practice: PracticeOption = None,
    base_url: BaseUrlOption = None,
    mode: ModeOption = None,
) -> None:
    """Diagnose the connection the way a support technician would; exit 0 only if all pass."""
    from odbridge.api.diagnose import diagnose

    _setup_logging("WARNING")
    profile = _profile(practice, base_url, mode, keys=True)
    results = diagnose(profile)
    table = Table(title=f"odbridge check · practice '{profile.name}'", title_justify="left")
    table.add_column("")
    table.add_column("check")
    table.add_column("result")
    table.add_column("what to do")
    for result in results:
        mark = "[green]✓[/]" if result.ok else ("[dim]–[/]" if result.skipped else "[red]✗[/]")
        table.add_row(mark, result.title, escape(result.detail), escape(result.fix))
    Console().print(table)
    if not all(r.ok for r in results):
        raise typer.Exit(code=1)


patients_app = typer.Typer(help="Read patients straight from the API.", no_args_is_help=True)
app.add_typer(patients_app, name="patients")

FORMATS = ("table", "json", "csv")
TABLE_COLUMNS = ("PatNum", "LName", "FName", "PatStatus", "Birthdate", "City", "WirelessPhone")


def _audit_view(what: str, rows: int, practice: str) -> None:
    """Reading patients from the command line is a view of patient data: audit it."""
    from odbridge.store import audit
    from odbridge.store.db import StoreError, create_store_engine

    try:
        engine = create_store_engine(None)
        audit.record(
            engine,
            username=audit.local_user(),
            action="view",
            what=what,
            rows=rows,
            practice=practice,
        )
    except StoreError as exc:
        console.print(f"[yellow]warning:[/yellow] not audit-logged: {escape(str(exc))}")


@patients_app.command("get")
def patients_get(
    pat_num: Annotated[int, typer.Argument(help="The patient's PatNum.")],
    practice: PracticeOption = None,
    base_url: BaseUrlOption = None,
    mode: ModeOption = None,
    output: Annotated[str, typer.Option("--format", help="table | json")] = "table",
) -> None:
    """One patient's full record."""
    from odbridge.api.client import Client
    from odbridge.api.errors import OpenDentalError

    _setup_logging("WARNING")
    if output not in ("table", "json"):
        raise fail("--format must be table or json")
    profile = _profile(practice, base_url, mode, keys=True)
    _store(None)  # the audit log must be writable before patient data is shown
    try:
        with Client(profile=profile) as client:
            patient = client.patients.get(pat_num)
    except OpenDentalError as exc:
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(code=1) from None
    _audit_view("cli patients get", 1, profile.name)
    record = patient.to_api_dict()
    if output == "json":
        typer.echo(json.dumps(record, indent=2, ensure_ascii=False))
        return
    table = Table(show_header=False)
    for key, value in record.items():
        table.add_row(key, str(value))
    Console().print(table)


@patients_app.command("list")
def patients_list(
    practice: PracticeOption = None,
    base_url: BaseUrlOption = None,
    mode: ModeOption = None,
    lname: Annotated[str | None, typer.Option(help="Last name starts with.")] = None,
    fname: Annotated[str | None, typer.Option(help="First name starts with.")] = None,
    status: Annotated[str | None, typer.Option(help="PatStatus, e.g. Patient.")] = None,
    clinic: Annotated[int | None, typer.Option(help="ClinicNum.")] = None,
    changed_since: Annotated[
        str | None, typer.Option(help="Only patients changed since 'yyyy-MM-dd HH:mm:ss'.")
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Every page, not just one.")] = False,
    limit: Annotated[int | None, typer.Option(help="Rows per page.")] = None,
    offset: Annotated[int, typer.Option(help="Rows to skip.")] = 0,
    output: Annotated[str, typer.Option("--format", help="table | json | csv")] = "table",
) -> None:
    """Patients from GET /patients/Simple: one page, or every page with --all (streamed)."""
    from odbridge.api.client import Client
    from odbridge.api.errors import OpenDentalError

    _setup_logging("WARNING")
    if output not in FORMATS:
        raise fail(f"--format must be one of {', '.join(FORMATS)}")
    profile = _profile(practice, base_url, mode, keys=True)
    _store(None)  # the audit log must be writable before patient data is shown
    filters: dict[str, object] = {
        "LName": lname,
        "FName": fname,
        "PatStatus": status,
        "ClinicNum": clinic,
        "DateTStamp": changed_since,
    }
    filters = {k: v for k, v in filters.items() if v is not None}
    writer = _PatientWriter(output)
    count = 0
    try:
        with Client(profile=profile) as client:
            if limit:
                filters["Limit"] = limit
            if offset:
                filters["Offset"] = offset
            if all_pages:
                with _rows_progress(console) as advance:
                    for patient in client.patients.iter(**filters):  # type: ignore[arg-type]
                        writer.write(patient.to_api_dict())
                        count += 1
                        advance()
            else:
                for patient in client.patients.list(**filters):  # type: ignore[arg-type]
                    writer.write(patient.to_api_dict())
                    count += 1
    except OpenDentalError as exc:
        writer.close()
        console.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(code=1) from None
    writer.close()
    _audit_view("cli patients list", count, profile.name)
    console.print(f"{count} patient(s).")


class _PatientWriter:
    """Writes rows to stdout as they come: CSV and JSON stream; a table prints at the end."""

    def __init__(self, output: str) -> None:
        self.output = output
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
            self._csv.writerow(record)
        elif self.output == "json":
            sys.stdout.write(
                ("[\n" if self.count == 0 else ",\n") + json.dumps(record, ensure_ascii=False)
            )
        else:
            if self._table is None:
                self._table = Table(*TABLE_COLUMNS)
            self._table.add_row(*(str(record.get(c, "")) for c in TABLE_COLUMNS))
        self.count += 1

    def close(self) -> None:
        if self.output == "json":
            sys.stdout.write("[]\n" if self.count == 0 else "\n]\n")
        elif self._table is not None:
            Console().print(self._table)
        sys.stdout.flush()


@contextlib.contextmanager
def _rows_progress(out: Console) -> Iterator[Callable[[], None]]:
    """A Rich progress counter of rows on stderr (only on a terminal)."""
    if not out.is_terminal:
        yield lambda: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.completed} patients"),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    ) as bar:
        task = bar.add_task("patients", total=None)
        yield lambda: bar.advance(task)


config_app = typer.Typer(help="The settings odbridge uses.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("show")
def config_show(
    practice: PracticeOption = None,
) -> None:
    """Show the settings in effect (keys masked) and where the config file is."""
    from odbridge.config import config_path

    profile = _profile(practice, None, None)
    table = Table(title=f"Settings · {config_path()}", title_justify="left", show_header=False)
    for key, value in profile.describe().items():
        table.add_row(key, value)
    Console().print(table)


# -- the dashboard -----------------------------------------------------------------------
@app.command()
def serve(
    db: Annotated[
        str | None, typer.Option(help="Store URL (default: a SQLite file; ODBRIDGE_DB).")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to bind (default: this machine only).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    ssl_certfile: Annotated[str | None, typer.Option(help="TLS certificate (PEM).")] = None,
    ssl_keyfile: Annotated[str | None, typer.Option(help="TLS private key (PEM).")] = None,
) -> None:
    """Serve the practice dashboard (login required) from the local store."""
    from odbridge.dashboard.server import load_secret_key
    from odbridge.dashboard.server import serve as serve_dashboard
    from odbridge.dashboard.users import list_users

    _setup_logging()
    if bool(ssl_certfile) != bool(ssl_keyfile):
        raise fail("Give both --ssl-certfile and --ssl-keyfile, or neither.")
    engine = _store(db)
    if not list_users(engine):
        raise fail("No dashboard users yet: create one with `odbridge user add NAME --role admin`.")
    console.print(f"Dashboard at http://{host}:{port}/ (Ctrl-C stops it)")
    serve_dashboard(
        engine,
        host=host,
        port=port,
        secret_key=load_secret_key(),  # kept in a 0600 file: sessions survive a restart
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
    )


user_app = typer.Typer(help="Dashboard logins.", no_args_is_help=True)
app.add_typer(user_app, name="user")


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="The login name.")],
    role: Annotated[str, typer.Option(help="admin (sees the audit log) | viewer.")] = "viewer",
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    db: Annotated[
        str | None, typer.Option(help="Store URL (default: a SQLite file; ODBRIDGE_DB).")
    ] = None,
) -> None:
    """Create a dashboard login; the password is asked for (hidden) or read from stdin."""
    from odbridge.dashboard.users import UserError, add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    engine = _store(db)
    try:
        user = add_user(engine, username, password, role=role)
    except UserError as exc:
        raise fail(str(exc)) from None
    console.print(f"User '{user.username}' ({user.role}) created.")


@user_app.command("list")
def user_list(
    db: Annotated[
        str | None, typer.Option(help="Store URL (default: a SQLite file; ODBRIDGE_DB).")
    ] = None,
) -> None:
    """The dashboard logins and their roles."""
    from odbridge.dashboard.users import list_users

    table = Table("user", "role", "created (UTC)", "disabled")
    for user in list_users(_store(db)):
        table.add_row(
            user.username,
            user.role,
            f"{user.created_at:%Y-%m-%d %H:%M}",
            "yes" if getattr(user, "disabled", False) else "",
        )
    Console().print(table)


@app.command()
def demo(
    patients: Annotated[int, typer.Option(help="Patients in the demo practice.")] = 2000,
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8000,
    simulator_port: Annotated[int, typer.Option(help="Simulator port.")] = 8780,
) -> None:
    """See odbridge work, no practice needed: simulator → sync → dashboard, one command."""
    from odbridge.demo import DemoOptions, run_demo
    from odbridge.store.db import StoreError

    _setup_logging("WARNING")
    options = DemoOptions(patients=patients, dashboard_port=port, simulator_port=simulator_port)
    try:
        run_demo(options, Console())
    except StoreError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:
        raise fail(f"Cannot start the demo: {exc.strerror or exc}. Is the port in use?") from None


if __name__ == "__main__":  # pragma: no cover
    app()
