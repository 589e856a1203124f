"""Shared fixtures: simulators on loopback ports, isolation from the user's settings, the
Hypothesis profiles, and a rule that a skipped test fails the run."""

from __future__ import annotations

import fcntl
import logging
import os
import time
import uuid
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import Verbosity, settings
from sqlalchemy import Engine, create_engine, text

from odbridge.simulator.generate import generate_practice
from odbridge.simulator.process import SimulatorProcess
from odbridge.simulator.server import SimulatorServer
from odbridge.simulator.settings import SimulatorSettings
from tests.helpers import (
    CUST_KEY,
    DEV_KEY,
    PG_URL,
    SimulatorFactory,
    SimulatorProcessFactory,
)

# Hypothesis: the test command is deterministic (the same examples every run, nothing carried
# over from an earlier run in .hypothesis/); scripts/fuzz.sh runs the same properties with
# fresh random examples, ten times as many, and prints what it found.
settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile(
    "fuzz",
    derandomize=False,
    database=None,
    deadline=None,
    print_blob=True,
    verbosity=Verbosity.normal,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A skipped test is a failure of the setup, not a pass."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = len(reporter.stats.get("skipped", []))
    if skipped and exitstatus == 0:
        reporter.write_line(f"{skipped} test(s) skipped: failing the run (nothing may be skipped)")
        session.exitstatus = 1


@contextmanager
def test_slot(item: pytest.Item) -> Iterator[None]:
    """Under pytest-xdist (scripts/test.sh runs two workers), a test marked ``exclusive`` runs
    while no other worker runs a test: the others wait before their next test, and it waits
    for the ones running to end. Every other test runs beside any but an exclusive one.

    A readers-writer lock on files in the run's shared temporary folder: every test holds
    the lock shared, an exclusive one holds it alone; the turnstile, taken first, keeps new
    tests from starting while an exclusive one waits for the running ones. Around the whole
    test (setup and teardown too): a module fixture set up in the first test's setup counts.
    """
    basetemp = item.config.option.basetemp
    if "PYTEST_XDIST_WORKER" not in os.environ or not basetemp:
        yield  # one process: nothing runs beside the test
        return
    folder = Path(basetemp).parent  # each worker's is <the run's folder>/gwN
    alone = item.get_closest_marker("exclusive") is not None
    with (
        open(folder / "exclusive.turnstile", "a") as turnstile,
        open(folder / "exclusive.lock", "a") as lock,
    ):
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        fcntl.flock(lock, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        if not alone:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:  # (closing the files would release them too)
            fcntl.flock(lock, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(turnstile, fcntl.LOCK_UN)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    with test_slot(item):
        return (yield)


TEST_SIMULATOR: dict[str, Any] = {
    "patients": 200,
    "seed": 7,
    "developer_key": DEV_KEY,
    "customer_key": CUST_KEY,
    "tier": "full",
    "rate_interval": 0.0,
}
"""The simulator settings a test starts from (it overrides what it needs)."""


@pytest.fixture
def simulator_factory() -> Iterator[SimulatorFactory]:
    """Start simulators with the test keys; each stops at the end of the test.

    Keyword arguments are SimulatorSettings fields; the default is an unthrottled practice.
    ``clock`` sets the server's local time, ``throttle_clock`` the throttle's (both settable
    by the test: see tests.helpers.SettableClock). The simulator is a thread of the test's
    process: for a throttle whose timing a test counts on, use ``simulator_process_factory``.
    """
    started: list[SimulatorServer] = []

    def start(
        *,
        clock: Callable[[], datetime] | None = None,
        throttle_clock: Callable[[], float] = time.monotonic,
        **overrides: Any,
    ) -> SimulatorServer:
        settings = SimulatorSettings.model_validate({**TEST_SIMULATOR, **overrides})
        practice = None
        if clock is not None:  # the server's local time, moved by the test
            practice = generate_practice(settings.patients, settings.seed, clock=clock)
        server = SimulatorServer(settings, practice, throttle_clock=throttle_clock).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def simulator_process_factory() -> Iterator[SimulatorProcessFactory]:
    """Start simulators in processes of their own (same settings and keys as
    ``simulator_factory``); each stops at the end of the test. For throttled simulators
    whose 429 counts a test asserts: in the test's process, the test's own load (and the
    interpreter lock) would make the throttle's clock read late on a busy machine."""
    started: list[SimulatorProcess] = []

    def start(**overrides: Any) -> SimulatorProcess:
        settings = SimulatorSettings.model_validate({**TEST_SIMULATOR, **overrides})
        process = SimulatorProcess(settings)
        started.append(process)
        return process.start()

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def simulator(simulator_factory: SimulatorFactory) -> SimulatorServer:
    """An unthrottled simulator of 200 patients."""
    return simulator_factory()


@pytest.fixture(
    params=[pytest.param("sqlite"), pytest.param("postgres", marks=pytest.mark.postgres)]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store: a SQLite file, or a schema of its own on the PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    """An engine on a fresh store, schema created."""
    from odbridge.store.db import create_store_engine

    engine = create_store_engine(store_url)
    yield engine
    engine.dispose()


LOGGERS_THE_CLI_SETS = ("httpx", "httpcore", "odbridge", "uvicorn", "uvicorn.error")


@pytest.fixture(autouse=True)
def isolated_env(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Every test, and every process it starts, is blind to this machine's odbridge settings:
    no ODBRIDGE_* variables, no config file, no keyring, an empty data directory (store,
    keys), and fresh pacers. A test sets what it needs on top."""
    import keyring
    from keyring.backends import null

    from odbridge.api.pacing import reset_pacers

    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith("ODBRIDGE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ODBRIDGE_CONFIG", str(home / "absent.toml"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    previous = keyring.get_keyring()
    keyring.set_keyring(null.Keyring())  # type: ignore[no-untyped-call]
    reset_pacers()
    # the CLI run in-process (CliRunner) configures logging for its process: undo it, or a
    # later test sees httpx quietened and the root logger's handlers changed
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    levels = {name: logging.getLogger(name).level for name in LOGGERS_THE_CLI_SETS}
    yield
    keyring.set_keyring(previous)
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
    logging.captureWarnings(False)
