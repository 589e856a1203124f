"""``odbridge worker`` and ``odbridge queue migrate``: syncs as jobs of a PostgreSQL queue."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from odbridge.cli.common import DbOption, console, fail, setup_logging

HistoryYearsOption = Annotated[
    int,
    typer.Option(
        min=1, max=50, help="A first visits sync reads appointments this many years back."
    ),
]

app = typer.Typer(help="The sync queue (PostgreSQL stores): its schema.", no_args_is_help=True)


def _url(db: str | None) -> str:
    from odbridge.store.db import resolve_url

    return resolve_url(db)


@app.command("migrate")
def migrate_command(
    db: DbOption = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="Stop at this Procrastinate version's schema (e.g. 3.4), for workers "
            "not upgraded yet.",
        ),
    ] = None,
) -> None:
    """Create the queue's tables (Procrastinate's schema) in the PostgreSQL store, or apply
    the migrations of a newer Procrastinate to them. Stop the workers first; start them
    again after (with the new odbridge)."""
    from odbridge.queue.migrations import migrate_queue_schema, parse_version

    try:
        up_to = parse_version(to) if to else None
    except ValueError as exc:
        raise fail(str(exc)) from None
    report = migrate_queue_schema(_url(db), up_to=up_to)
    console.print(report.describe(), markup=False, highlight=False)


def worker_command(
    db: DbOption = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Practices this worker syncs at the same time.")
    ] = 1,
    until_empty: Annotated[
        bool,
        typer.Option(
            "--until-empty",
            help="Stop when no job is ready to run (else: run on). A job waiting out a "
            "retry's delay stays queued for the next worker.",
        ),
    ] = False,
    stalled_after: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds without a worker's heartbeat before its running jobs are retried "
            "(checked at start and every minute; the minute's check waits 20 s at least).",
        ),
    ] = 30.0,
    every: Annotated[
        str | None,
        typer.Option(
            help="Also queue every practice of the config on this schedule: 15m, 1h, 1d "
            "(on the clock) or a cron line '0 2 * * *'. Give every worker the same one: "
            "each tick is queued once however many workers run.",
        ),
    ] = None,
    visits: Annotated[
        bool, typer.Option("--visits", help="Scheduled jobs also sync the visits.")
    ] = False,
    history_years: HistoryYearsOption = 3,
) -> None:
    """Run sync jobs from the queue (`odbridge sync --queue` or --every adds them) until
    stopped.

    Start one on each machine with the same --db; each job syncs one practice with that
    machine's config and keys. SIGINT/SIGTERM: each running sync stops after its current
    page and its job is queued again (it resumes there); then the worker exits.
    """
    from odbridge.queue.app import JobOptions, Schedule, run_worker
    from odbridge.queue.schedule import cron_for

    schedule = None
    if every is not None:
        try:
            schedule = Schedule(cron_for(every), JobOptions(visits, history_years))
        except ValueError as exc:
            raise fail(str(exc)) from None
    elif visits:
        raise fail("--visits on a worker applies to its schedule: add --every (e.g. 15m).")
    setup_logging("INFO")
    if schedule is not None:
        console.print(
            f"Queueing every practice on the schedule '{schedule.cron}' (cron, UTC).",
            markup=False,
            highlight=False,
        )
    run_worker(
        _url(db),
        concurrency=concurrency,
        until_empty=until_empty,
        stalled_after=stalled_after,
        schedule=schedule,
    )


def defer_command(
    db: str | None, names: list[str], *, visits: bool = False, history_years: int = 3
) -> None:
    """``sync --queue``: one job per practice; a practice already waiting is reported."""
    from odbridge.queue.app import JobOptions, defer_syncs

    # Procrastinate's own lines ("Deferred 1 job", the tasks it registers) repeat what is
    # printed below: noise in a cron or timer log; its warnings and errors stay
    logging.getLogger("procrastinate").setLevel(logging.WARNING)

    for done in defer_syncs(_url(db), names, JobOptions(visits, history_years)):
        if done.job_id is None:
            console.print(f"{done.practice}: already queued", markup=False, highlight=False)
        else:
            console.print(
                f"{done.practice}: queued (job {done.job_id})", markup=False, highlight=False
            )
