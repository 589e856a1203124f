"""Progress on standard error: a Rich bar on a terminal, plain log lines otherwise."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

if TYPE_CHECKING:
    from odbridge.sync.engine import Progress as SyncProgress

log = logging.getLogger("odbridge.sync")

LOG_EVERY_PAGES = 10


class SyncProgressView:
    """Receives :class:`odbridge.sync.engine.Progress` after every page, from any thread."""

    def __init__(self, console: Console, *, interactive: bool | None = None) -> None:
        self.interactive = console.is_terminal if interactive is None else interactive
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[practice]}[/bold] {task.fields[mode]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows · {task.fields[pages]} pages · {task.fields[changes]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[eta]}"),
            console=console,
            transient=False,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __enter__(self) -> SyncProgressView:
        if self.interactive:
            self._bar.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.interactive:
            self._bar.stop()

    def __call__(self, progress: SyncProgress) -> None:
        changes = f"{progress.inserted} new, {progress.updated} changed"
        if not self.interactive:
            if progress.done or progress.pages % LOG_EVERY_PAGES == 0:
                log.info(
                    "%s %s: %d pages, %d rows (%s)%s",
                    progress.practice,
                    progress.mode,
                    progress.pages,
                    progress.rows,
                    changes,
                    " done" if progress.done else "",
                )
            return
        # the total is known from the last sync (else the bar pulses); the time left comes
        # from the rate limit: pages still to read x the interval between requests
        expected = progress.expected_rows
        total = expected if expected and expected >= progress.rows else None
        eta = progress.eta_seconds
        eta_text = f"~{eta:.0f} s left at the rate limit" if eta and not progress.done else ""
        with self._lock:
            task = self._tasks.get(progress.practice)
            if task is None:
                task = self._bar.add_task(
                    "sync",
                    total=total,
                    practice=progress.practice,
                    mode=progress.mode,
                    pages=0,
                    changes="",
                    eta="",
                )
                self._tasks[progress.practice] = task
        self._bar.update(
            task,
            completed=progress.rows,
            total=progress.rows if progress.done else total,
            pages=progress.pages,
            changes=changes,
            eta=eta_text,
        )


@contextlib.contextmanager
def rows_progress(out: Console) -> Iterator[Callable[[], None]]:
    """A Rich progress counter of rows on ``out`` (only on a terminal); yields ``advance``."""
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
