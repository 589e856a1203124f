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

if TYPE_CHECKING:
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
        if every or full or reconcile or wait:
            raise fail("--queue takes only --practice or --all (and --db).")
        from odbridge.cli.queue import defer_command
        from odbridge.config import load_settings, resolve_profile

        names = (
            sorted(load_settings().practices) if all_practices else [resolve_profile(practice).name]
        )
        if not names:
            raise fail("--all needs practices in the config file.")
        defer_command(db, names)
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
            )
        if summaries:
            print_summaries(summaries)
        for skipped in busy:
            console.print(str(skipped), style="yellow", markup=False, highlight=False)
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
