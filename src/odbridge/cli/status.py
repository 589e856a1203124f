"""``odbridge status``: each practice's last sync, its freshness and row counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.text import Text

from odbridge.cli.common import DbOption, console, open_store, out, record_grid

if TYPE_CHECKING:
    from odbridge.queue.status import WorkerStatus


FAILED_SHOWN = 10
"""The failed practices named by ``status`` (a group may have hundreds)."""


def status_command(db: DbOption = None) -> None:
    """Each practice's last sync, its freshness and row counts."""
    from odbridge.queue.status import queue_counts, queue_workers
    from odbridge.store.runlog import practice_statuses

    store = open_store(db)
    statuses = practice_statuses(store)
    counts = queue_counts(store)
    if counts is not None:
        out().print(
            f"Sync queue: {counts.waiting} waiting, {counts.running} running, "
            f"{counts.failed} failed ({counts.succeeded} done)"
        )
        if counts.failed_practices:
            shown = ", ".join(counts.failed_practices[:FAILED_SHOWN])
            more = len(counts.failed_practices) - FAILED_SHOWN
            out().print(
                f"Failed (their last job, after its retries; the workers' log says why): "
                f"{shown}{f' and {more} more' if more > 0 else ''}",
                markup=False,
                highlight=False,
            )
        print_workers(queue_workers(store))
    if not statuses:
        if counts is not None and counts.waiting + counts.running:
            out().print("Nothing synced yet: start `odbridge worker` with the same --db.")
        else:
            out().print("The store is empty: run `odbridge sync` first.")
        return
    out().print(Text("Store status", style="bold"))
    grid = record_grid()
    now = datetime.now(UTC).replace(tzinfo=None)
    for st in statuses:
        outcome = st.last_outcome or "-"
        colour = {"ok": "green", "failed": "red", "running": "cyan"}.get(outcome, "yellow")
        unfinished = " (unfinished full)" if st.full_in_progress else ""
        finished = f", finished {st.last_finished:%Y-%m-%d %H:%M} UTC" if st.last_finished else ""
        age = f"{_age(now - st.last_ok)} ago" if st.last_ok else "never"
        grid.add_row(Text(st.practice), f"{st.patients} patients ({st.missing} missing)")
        grid.add_row(
            "",
            Text.assemble(
                f"last run: {st.last_mode or '-'}{unfinished}, ", (outcome, colour), finished
            ),
        )
        grid.add_row("", f"fresh as of the last ok run: {age}")
        grid.add_row("", f"cursor (server time): {st.cursor or '-'}")
    out().print(grid)
    for st in statuses:
        if st.last_error:
            console.print(f"[red]{escape(st.practice)}:[/red] {escape(st.last_error)}")
        if st.last_reconcile:
            console.print(
                escape(
                    f"{st.practice}: last reconcile {st.last_reconcile:%Y-%m-%d %H:%M} UTC "
                    f"found {st.reconcile_confirmed} no longer listed but still in Open Dental "
                    f"(e.g. Deleted) and {st.reconcile_missing} gone."
                )
            )
        if st.quarantined:
            console.print(
                f"[yellow]{escape(st.practice)}:[/yellow] {st.quarantined} rows held in "
                "quarantine (failed checks; retried every sync)."
            )


SILENT_AFTER = 30.0
"""As ``odbridge worker --stalled-after``'s default: a worker this long without a heartbeat
is taken for dead, and its jobs go back to the queue."""


def print_workers(workers: list[WorkerStatus]) -> None:
    """One line per registered worker: heartbeat age and the practices it is syncing."""
    if not workers:
        out().print("Workers: none running (start `odbridge worker` with the same --db)")
        return
    alive = [w for w in workers if w.seconds_since_heartbeat <= SILENT_AFTER]
    out().print(f"Workers: {len(alive)} alive, {len(workers) - len(alive)} silent")
    for w in workers:
        heartbeat = _age(timedelta(seconds=w.seconds_since_heartbeat))
        if w.seconds_since_heartbeat > SILENT_AFTER:
            note = "silent: stopped without saying so; its jobs go back to the queue"
        else:
            note = "running " + ", ".join(w.running) if w.running else "idle"
        out().print(
            f"  worker {w.worker_id}: heartbeat {heartbeat} ago, {note}",
            markup=False,
            highlight=False,
        )


def _age(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
