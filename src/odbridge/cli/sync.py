"""``odbridge sync``: bring the practices' patients into the store, once or on a schedule."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.text import Text

from odbridge.cli.common import (
    DbOption,
    console,
    fail,
    load_profiles,
    open_store,
    record_grid,
    setup_logging,
)
from odbridge.cli.queue import HistoryYearsOption

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from odbridge.api.client import Client
    from odbridge.sync.engine import RunSummary


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


def sync_command(
    practice: Annotated[
        str | None, typer.Option("--practice", "-p", help="Practice name in the config.")
    ] = None,
    all_practices: Annotated[
        bool, typer.Option("--all", help="Every practice in the config, concurrently.")
    ] = False,
    db: DbOption = None,
    full: Annotated[bool, typer.Option("--full", help="Read every patient again.")] = False,
    reconcile: Annotated[
        bool, typer.Option("--reconcile", help="Full pass that marks rows no longer returned.")
    ] = False,
    every: Annotated[
        str | None, typer.Option(help="Run on a schedule until stopped, e.g. 15m.")
    ] = None,
    overlap: Annotated[
        str,
        typer.Option(help="How far back each incremental run looks again (at least 1h)."),
    ] = "1h",
    reconcile_every: Annotated[
        str,
        typer.Option(help="Reconcile (find deleted patients) when the last pass is this old."),
    ] = "24h",
    wait: Annotated[
        bool,
        typer.Option(
            "--wait",
            help="When another process is syncing the practice, wait for it instead of "
            "exiting with code 75.",
        ),
    ] = False,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="Queue the sync for `odbridge worker` (PostgreSQL store) instead of running it.",
        ),
    ] = False,
    visits: Annotated[
        bool,
        typer.Option(
            "--visits",
            help="Also appointments, procedures, recalls and the reference tables "
            "(after the patients).",
        ),
    ] = False,
    history_years: HistoryYearsOption = 3,
) -> None:
    """Bring the practice's patients into the local store, then keep them current.

    Only one sync of a practice runs at a time: a second one exits with code 75 naming the
    process that has it (or waits, with --wait).
    """
    from odbridge.cli.progress import SyncProgressView
    from odbridge.sync.cursor import check_overlap
    from odbridge.sync.engine import RunMode
    from odbridge.sync.lock import BUSY_EXIT_CODE, PracticeBusy
    from odbridge.sync.runner import parse_duration, run_every, sync_practices
    from odbridge.sync.visits import VisitOptions

    setup_logging("WARNING" if console.is_terminal else "INFO")
    if practice and all_practices:
        raise fail("Use --practice NAME or --all, not both.")
    if full and reconcile:
        raise fail("Use --full or --reconcile, not both.")
    try:
        schedule = parse_duration(every) if every else None
        overlap_window = check_overlap(parse_duration(overlap))
        reconcile_age = parse_duration(reconcile_every)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if queue:
        if every:
            raise fail(
                "To queue on a schedule, start the workers with it: "
                f"odbridge worker --every {every} (each tick is queued once)."
            )
        if full or reconcile or wait:
            raise fail("--queue takes only --practice or --all, --visits and --db.")
        from odbridge.cli.queue import defer_command
        from odbridge.config import load_settings, resolve_profile

        names = (
            sorted(load_settings().practices) if all_practices else [resolve_profile(practice).name]
        )
        if not names:
            raise fail("--all needs practices in the config file.")
        defer_command(db, names, visits=visits, history_years=history_years)
        return
    profiles = load_profiles(practice, all_practices)
    engine = open_store(db)
    mode = RunMode.FULL if full else RunMode.RECONCILE if reconcile else RunMode.AUTO
    failed = False
    busy: list[PracticeBusy] = []

    def once() -> None:
        nonlocal failed
        busy.clear()
        with SyncProgressView(console) as view:
            # with --visits each practice's patients then visits run under one hold of its
            # sync lock (sync_practice_and_visits), the practices concurrently
            summaries = sync_practices(
                engine,
                profiles,
                mode=mode,
                stop=stop,
                on_progress=view,
                overlap=overlap_window,
                reconcile_every=reconcile_age,
                wait=wait,
                on_busy=busy.append,
                visits=VisitOptions(history_years=history_years) if visits else None,
                before_visits=(
                    (lambda client: say_first_visits_cost(engine, client, history_years))
                    if visits
                    else None
                ),
            )
        patients = [s for s in summaries if s.progress.resource == "patients"]
        if patients:
            print_summaries(patients)
        for skipped in busy:
            console.print(str(skipped), style="yellow", markup=False, highlight=False)
        print_visits([s for s in summaries if s.progress.resource != "patients"])
        failed = any(s.outcome == "failed" for s in summaries)

    with _StopOnSignal() as stop:
        if schedule is None:
            once()
        else:
            console.print(f"Syncing every {every}; Ctrl-C stops after the current page.")
            run_every(schedule, once, stop)
    if failed:
        raise typer.Exit(code=1)
    if busy:
        raise typer.Exit(code=BUSY_EXIT_CODE)


def say_first_visits_cost(engine: Engine, client: Client, history_years: int) -> None:
    """Before a practice's first visits sync (its patients are in): what it will cost."""
    from odbridge.sync.visits import first_sync_estimate, is_first_sync, patient_count

    if not is_first_sync(engine, client.profile.name):
        return
    requests, seconds, rows = first_sync_estimate(
        patient_count(engine, client.profile.name),
        history_years=history_years,
        page_size=client.page_size,
        interval=client.rate_interval,
    )
    console.print(
        escape(
            f"{client.profile.name}: first visits sync, {history_years} years of "
            f"appointments: about {rows['appointments']:,} appointments and "
            f"{rows['procedure_logs']:,} procedures, {requests:,} requests, "
            f"{_duration(seconds)} at this tier ({client.rate_interval:g} s per request). "
            "Patients are already in; the dashboard works while history fills in; "
            "Ctrl-C stops cleanly and the next sync resumes."
        )
    )


def print_visits(summaries: list[RunSummary]) -> None:
    """The visit resources' runs: one table per practice, then any errors."""
    from rich.table import Table

    for practice in dict.fromkeys(s.practice for s in summaries):
        table = Table(title=f"Visits: {escape(practice)}", title_justify="left")
        for column in ("resource", "mode", "outcome", "pages", "rows", "new", "changed"):
            table.add_column(column)
        runs = [s for s in summaries if s.practice == practice]
        for s in runs:
            p = s.progress
            table.add_row(
                p.resource,
                str(s.mode),
                str(s.outcome),
                *(str(n) for n in (p.pages, p.rows, p.inserted, p.updated)),
            )
        console.print(table)
        for s in runs:
            if s.error:
                console.print(f"[red]{escape(s.progress.resource)}:[/red] {escape(s.error)}")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def print_summaries(summaries: list[RunSummary]) -> None:
    """One sync round: two lines per practice (fits 80 columns), then each one's notes."""
    console.print(Text("Sync", style="bold"))
    grid = record_grid()
    for s in summaries:
        colour = {"ok": "green", "failed": "red"}.get(s.outcome, "yellow")
        p = s.progress
        grid.add_row(
            Text(s.practice),
            Text.assemble(
                f"{s.mode} ",
                (str(s.outcome), colour),
                f" · {p.rows} rows in {p.pages} pages "
                f"({p.inserted} new, {p.updated} changed, {p.missing} missing)",
            ),
        )
        grid.add_row(
            "",
            f"{s.requests} requests, {s.throttled} throttled, {s.retries} retries · "
            f"{s.seconds:.1f} s",
        )
    console.print(grid)
    for s in summaries:
        if s.error:
            console.print(f"[red]{escape(s.practice)}:[/red] {escape(s.error)}")
        elif s.outcome == "interrupted":
            console.print(
                escape(f"{s.practice}: stopped cleanly; the next sync resumes from here.")
            )
        p = s.progress
        if p.confirmed or p.missing:
            console.print(
                escape(
                    f"{s.practice}: {p.confirmed + p.missing} no longer listed: {p.confirmed} "
                    "still in Open Dental (stored as they are now, e.g. Deleted), "
                    f"{p.missing} gone (marked missing)."
                )
            )
        if p.quarantined:
            console.print(
                f"[yellow]{escape(s.practice)}:[/yellow] {p.quarantined} rows failed checks and "
                "are held in quarantine (see `odbridge status`); the rest landed. They are "
                "tried again next sync."
            )
