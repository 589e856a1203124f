"""``odbridge demo``: the whole tool in one command, with no practice needed.

A simulated practice starts on a loopback port, odbridge syncs it into a demo store (its
own SQLite file, apart from any real one), a demo login is created and printed, and the
dashboard serves the result. While it runs, the simulated front desk keeps editing
patients and odbridge syncs them every minute, so the dashboard's freshness moves.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from odbridge.cli.common import fail, out, setup_logging

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from odbridge.config import PracticeProfile

log = logging.getLogger("odbridge.demo")

DEMO_PRACTICE = "demo"
DEMO_USER = "demo"
DEMO_KEYS = ("demo-developer-key", "demo-customer-key")


def demo_command(
    patients: Annotated[int, typer.Option(help="Patients in the demo practice.")] = 2000,
    port: Annotated[int, typer.Option(help="Dashboard port (make demo PORT=...).")] = 8000,
    simulator_port: Annotated[
        int, typer.Option(help="Simulator port (make demo SIM_PORT=...).")
    ] = 8780,
) -> None:
    """See odbridge work, no practice needed: simulator → sync → dashboard, one command."""

    setup_logging("WARNING")
    for number, what, option, make in (
        (port, "the dashboard's", "--port", "PORT"),
        (simulator_port, "the simulator's", "--simulator-port", "SIM_PORT"),
    ):
        if not port_is_free(number):
            raise fail(
                f"Port {number} ({what}) is in use on 127.0.0.1. Choose another: "
                f"odbridge demo {option} N (or make demo {make}=N)."
            )
    if port == simulator_port:
        raise fail("--port and --simulator-port must differ.")
    options = DemoOptions(patients=patients, dashboard_port=port, simulator_port=simulator_port)
    try:
        run_demo(options, out())
    except KeyboardInterrupt:
        out().print("Demo stopped.")
    except OSError as exc:
        raise fail(f"Cannot start the demo: {exc.strerror or exc}.") from None


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True if a server could listen on ``host:port`` now (as uvicorn binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class DemoOptions:
    """What the demo runs with."""

    patients: int = 2000
    seed: int = 42
    simulator_port: int = 8780
    dashboard_port: int = 8000
    rate_interval: float = 0.2
    changes_per_minute: float = 30
    sync_every_seconds: float = 60
    store_path: Path | None = None


def demo_store_path() -> Path:
    """The demo's own SQLite file, beside (never in) the user's real store."""
    import platformdirs

    return Path(platformdirs.user_data_dir("odbridge", appauthor=False)) / "demo.sqlite"


def run_demo(options: DemoOptions, console: Console) -> None:
    """Simulator → sync → dashboard, until interrupted."""
    from pydantic import SecretStr

    from odbridge.cli.progress import SyncProgressView
    from odbridge.config import Mode, PracticeProfile, Tier
    from odbridge.dashboard.app import create_app
    from odbridge.dashboard.server import DashboardServer
    from odbridge.simulator.server import SimulatorServer
    from odbridge.simulator.settings import SimulatorSettings
    from odbridge.store.db import create_store_engine
    from odbridge.store.users import add_user, list_users, set_password
    from odbridge.sync.runner import sync_practice

    settings = SimulatorSettings(
        port=options.simulator_port,
        patients=options.patients,
        seed=options.seed,
        developer_key=SecretStr(DEMO_KEYS[0]),
        customer_key=SecretStr(DEMO_KEYS[1]),
        tier="full",
        rate_interval=options.rate_interval,
        changes_per_minute=options.changes_per_minute,
    )
    console.print(f"[bold]1/3[/bold] Starting a simulated practice of {options.patients} patients…")
    simulator = SimulatorServer(settings).start()
    console.print(f"      Open Dental API simulator at {simulator.base_url}")
    profile = PracticeProfile(
        name=DEMO_PRACTICE,
        developer_key=SecretStr(DEMO_KEYS[0]),
        customer_key=SecretStr(DEMO_KEYS[1]),
        base_url=simulator.base_url,
        mode=Mode.REMOTE,
        tier=Tier.FULL,
        rate_interval=options.rate_interval,
    )
    store_path = options.store_path or demo_store_path()
    # Each demo starts a new simulated practice, so it starts a new store too (the demo's
    # own file; a real store is never touched).
    for stale in (
        store_path,
        *(store_path.with_name(store_path.name + s) for s in ("-wal", "-shm")),
    ):
        stale.unlink(missing_ok=True)
    engine = create_store_engine(f"sqlite:///{store_path}")
    stop = threading.Event()
    try:
        console.print(
            f"[bold]2/3[/bold] Syncing it into {store_path} "
            f"(paced at 1 request / {options.rate_interval:g} s)…"
        )
        with SyncProgressView(console) as view:
            summary = sync_practice(engine, profile, on_progress=view)
        console.print(
            f"      {summary.mode} sync {summary.outcome}: {summary.progress.rows} patients, "
            f"{summary.requests} requests, {summary.throttled} throttled, {summary.seconds:.1f} s"
        )
        password = secrets.token_urlsafe(12)
        if any(user.username == DEMO_USER for user in list_users(engine)):
            set_password(engine, DEMO_USER, password)
        else:
            add_user(engine, DEMO_USER, password, role="admin")
        syncer = threading.Thread(
            target=_keep_syncing,
            args=(engine, profile, stop, options.sync_every_seconds),
            name="demo-sync",
            daemon=True,
        )
        syncer.start()
        app = create_app(engine, sync_every=timedelta(seconds=options.sync_every_seconds))
        with DashboardServer(app, port=options.dashboard_port) as dashboard:
            url = f"{dashboard.url}/"  # listening: the login can be used at once
            console.print(f"[bold]3/3[/bold] Dashboard at [link={url}]{url}[/link]")
            console.print(
                f"      log in as [bold]{DEMO_USER}[/bold] with password [bold]{password}[/bold]"
            )
            console.print(
                "      (synthetic patients only; appointments, procedures and recalls load in "
                "the background and the visit figures appear when they are in; Ctrl-C stops "
                "everything)"
            )
            while not stop.wait(1.0):
                pass
    finally:
        stop.set()
        simulator.stop()
        engine.dispose()


def _keep_syncing(
    engine: Engine, profile: PracticeProfile, stop: threading.Event, every: float
) -> None:
    """The visit history first (the dashboard is already up with the patients; its visit
    figures fill in when this pass ends), then incremental syncs of both while it runs."""
    from odbridge.sync.runner import sync_practice_and_visits
    from odbridge.sync.visits import VisitOptions, sync_practice_visits

    try:
        sync_practice_visits(engine, profile, stop=stop)
    except Exception as exc:  # the demo goes on; the run log has the details
        log.warning("background visits sync failed: %s", exc)
    while not stop.wait(every):
        try:  # patients then visits, under one hold of the practice's sync lock
            sync_practice_and_visits(engine, profile, visits=VisitOptions(), stop=stop)
        except Exception as exc:  # the demo goes on; the run log has the details
            log.warning("background sync failed: %s", exc)
