"""``odbridge worker`` and ``odbridge queue migrate``: syncs as jobs of a PostgreSQL queue."""

from __future__ import annotations

from typing import Annotated

import typer

from odbridge.cli.common import DbOption, console, setup_logging

app = typer.Typer(help="The sync queue (PostgreSQL stores): its schema.", no_args_is_help=True)


def _url(db: str | None) -> str:
    from odbridge.store.db import resolve_url

    return resolve_url(db)


@app.command("migrate")
def migrate_command(db: DbOption = None) -> None:
    """Create the queue's tables (Procrastinate's schema) in the PostgreSQL store."""
    from odbridge.queue.app import ensure_queue_schema

    created = ensure_queue_schema(_url(db))
    console.print("Queue schema created." if created else "Queue schema already there.")


def worker_command(
    db: DbOption = None,
    concurrency: Annotated[
        int, typer.Option(min=1, help="Practices this worker syncs at the same time.")
    ] = 1,
    until_empty: Annotated[
        bool, typer.Option("--until-empty", help="Stop when no job is left (else: run on).")
    ] = False,
    stalled_after: Annotated[
        float,
        typer.Option(
            min=0,
            help="Seconds without a worker's heartbeat before its running jobs are retried.",
        ),
    ] = 30.0,
) -> None:
    """Run sync jobs from the queue (`odbridge sync --queue` adds them) until stopped.

    Start one on each machine with the same --db; each job syncs one practice with that
    machine's config and keys. SIGINT/SIGTERM: finish the current jobs, then stop.
    """
    from odbridge.queue.app import run_worker

    setup_logging("INFO")
    run_worker(
        _url(db), concurrency=concurrency, until_empty=until_empty, stalled_after=stalled_after
    )


def defer_command(db: str | None, names: list[str]) -> None:
    """``sync --queue``: one job per practice; a practice already waiting is reported."""
    from odbridge.queue.app import defer_syncs

    for done in defer_syncs(_url(db), names):
        if done.job_id is None:
            console.print(f"{done.practice}: already queued", markup=False, highlight=False)
        else:
            console.print(
                f"{done.practice}: queued (job {done.job_id})", markup=False, highlight=False
            )
