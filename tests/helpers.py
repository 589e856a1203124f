"""Constants and types the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import itemgetter
from typing import Any, TypeVar

import httpx
from sqlalchemy import JSON, Connection, Engine, Table, inspect, select, text

from odbridge.api.client import Client
from odbridge.api.retry import RetryPolicy
from odbridge.simulator.handle import SimulatorHandle
from odbridge.simulator.process import SimulatorProcess
from odbridge.simulator.server import SimulatorServer
from odbridge.store.schema import PATIENT_FIELD_NAMES, patients, sync_runs
from odbridge.sync.engine import ResourceSync
from odbridge.sync.lock import advisory_key
from odbridge.sync.rowform import StoreRow

DEV_KEY = "test-dev-key-9f2c"
CUST_KEY = "test-cust-key-41ab"
ODFHIR = f"ODFHIR {DEV_KEY}/{CUST_KEY}"
HEADERS = {"Authorization": ODFHIR, "Content-Type": "application/json"}

T = TypeVar("T")

SimulatorFactory = Callable[..., SimulatorServer]
"""``simulator_factory(**settings)``: start a simulator with the test keys."""
SimulatorProcessFactory = Callable[..., SimulatorProcess]
"""``simulator_process_factory(**settings)``: the same, in a process of its own."""


PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

FUZZ_SCALE = int(os.environ.get("ODBRIDGE_FUZZ_SCALE", "1"))
"""How many times more examples the randomised fuzz run (scripts/fuzz.sh) draws than CI."""


def examples(count: int) -> int:
    """``count`` Hypothesis examples in CI; ``FUZZ_SCALE`` times more in the fuzz run."""
    return count * FUZZ_SCALE


class SettableClock:
    """A clock a test moves by hand: ``clock()`` is ``clock.now``; ``advance`` moves it.

    For the simulator's server time (a datetime) and its throttle (seconds)."""

    def __init__(self, now: datetime | float) -> None:
        self.now = now

    def __call__(self) -> Any:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward ``seconds``."""
        if isinstance(self.now, datetime):
            self.now = self.now + timedelta(seconds=seconds)
        else:
            self.now = self.now + seconds


FAST_RETRY = RetryPolicy(max_attempts=2, initial=0.01, max_wait=0.02, jitter=0)
"""Retries that do not slow a test down (one retry, 10 ms apart)."""


def client_for(sim: SimulatorHandle, **overrides: Any) -> Client:
    """A client of ``sim`` with the test keys, set as the simulator serves (mode, tier,
    interval, page size), retrying fast and blind to this machine's settings;
    ``overrides`` are other Client arguments."""
    values: dict[str, Any] = {
        "base_url": sim.base_url,
        "mode": sim.settings.mode,
        "tier": sim.settings.tier,
        "rate_interval": sim.settings.interval,
        "page_size": sim.settings.page_cap,
        "retry": FAST_RETRY,
        "trust_env": False,
    }
    values.update(overrides)
    return Client(DEV_KEY, CUST_KEY, **values)


@contextmanager
def synced_once(
    sim: SimulatorHandle, store: Engine, practice: str = "main"
) -> Iterator[ResourceSync]:
    """A sync of ``sim`` into ``store`` that has made its first (full) run; the client stays
    open inside the block, for the test's next runs."""
    with client_for(sim) as client:
        sync = ResourceSync(store, client, practice)
        sync.run()
        yield sync


STARTUP_TIMEOUT = 90.0
"""Seconds a process a test started may take to answer. Generous: on a busy 2-core machine
starting Python and its libraries can take many seconds. A deadline, not a wait."""


def first_answer(
    request: Callable[[], T],
    what: str,
    process: subprocess.Popen[Any] | None = None,
    timeout: float = STARTUP_TIMEOUT,
) -> T:
    """Repeat ``request`` until the server it calls accepts the connection (no
    ``httpx.TransportError``); its result. Fails at once if ``process`` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return request()
        except httpx.TransportError:
            if process is not None and process.poll() is not None:
                raise AssertionError(f"{what} exited ({process.returncode})") from None
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} did not answer within {timeout:g} s") from None
            time.sleep(0.05)


def wait_for(
    condition: Callable[[], T | None], what: str, timeout: float = 60.0, every: float = 0.02
) -> T:
    """Poll ``condition`` until it returns something truthy (returned), or fail after
    ``timeout`` seconds saying ``what`` never happened. Exceptions count as "not yet";
    ``every`` is the pause between tries."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = condition()
        except Exception:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(every)


# The store-equals-source oracle, written from Open Dental's conventions and NOT through
# odbridge's models or sync code (they are what is being tested): "" is no text, 0 is no
# foreign key, 0001-01-01 is no date, money is exact decimal, Premed is "true"/"false".
_DATES = frozenset({"Birthdate", "DateFirstVisit", "AdmitDate", "SecDateEntry"})
_KEYS = frozenset(
    {"Guarantor", "PriProv", "SecProv", "FeeSched", "EmployerNum", "ClinicNum", "SuperFamily"}
)
_MONEY = frozenset({"EstBalance", "BalTotal"})


def _column(api_name: str) -> str:
    """``PatNum`` -> ``pat_num``, ``priProvAbbr`` -> ``pri_prov_abbr``, ``SSN`` -> ``ssn``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", api_name).lower()


def expected_row(record: dict[str, Any]) -> dict[str, Any]:
    """The store row an API patient record must become (every field, by its store name)."""
    row: dict[str, Any] = {}
    for name, value in record.items():
        if name == "serverDateTime":
            continue
        if name in _DATES:
            value = None if value in ("", "0001-01-01") else date.fromisoformat(value)
        elif name == "DateTStamp":
            value = datetime.strptime(value, "%Y-%m-%d %H:%M:%S")
        elif name in _MONEY:
            value = Decimal(str(value))
        elif name in _KEYS:
            value = value or None
        elif name == "Premed":
            value = {"true": True, "false": False}[value]
        elif isinstance(value, str):
            value = value or None
        row[_column(name)] = value
    return row


def source_rows(sim: SimulatorHandle) -> dict[int, dict[str, Any]]:
    """The simulator's patients as the store must hold them, by PatNum."""
    rows = {}
    for record in sim.all_patients():
        row = expected_row(record)
        assert set(row) == set(PATIENT_FIELD_NAMES), set(row) ^ set(PATIENT_FIELD_NAMES)
        rows[row["pat_num"]] = row
    return rows


def store_rows(
    engine: Engine, practice: str, *, include_missing: bool = False
) -> dict[int, dict[str, Any]]:
    """The store's patients of ``practice`` (those not marked missing), by PatNum."""
    query = select(patients).where(patients.c.practice == practice)
    if not include_missing:
        query = query.where(patients.c.missing_since.is_(None))
    with engine.connect() as connection:
        found = connection.execute(query).mappings().all()
    return {row["pat_num"]: {name: row[name] for name in PATIENT_FIELD_NAMES} for row in found}


def bulk_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` fast (what an ``insert(table)`` of them stores, without its per-row
    cost): ``COPY`` on PostgreSQL; on SQLite the driver's executemany, each value converted
    by its column's own SQLAlchemy bind conversion (cached: most values repeat)."""
    if not rows:
        return
    names = list(dict.fromkeys(name for row in rows for name in row))
    dialect = connection.dialect
    if dialect.name == "postgresql":
        from psycopg.types.json import Json

        json_columns = {name for name in names if isinstance(table.c[name].type, JSON)}
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        columns = ", ".join(names)
        with cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [
                        Json(row.get(name)) if name in json_columns else row.get(name)
                        for name in names
                    ]
                )
        return
    converters: list[tuple[int, Callable[[Any], Any], dict[Any, Any], bool]] = []
    for index, name in enumerate(names):
        kind = table.c[name].type
        bind = kind.dialect_impl(dialect).bind_processor(dialect)
        if bind is not None:
            converters.append((index, bind, {}, isinstance(kind, JSON)))
    getter = itemgetter(*names) if len(names) > 1 else lambda row: (row[names[0]],)
    values: list[tuple[Any, ...]] = []
    for row in rows:
        try:
            out = list(getter(row))
        except KeyError:
            out = [row.get(name) for name in names]
        for index, process, seen, is_json in converters:
            value = out[index]
            if is_json:
                out[index] = process(value)
            elif value is not None:
                converted = seen.get(value, seen)
                if converted is seen:
                    converted = seen[value] = process(value)
                out[index] = converted
        values.append(tuple(out))
    marks = ", ".join("?" for _ in names)
    # names from our own schema; the values are bound
    sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608
    connection.exec_driver_sql(sql, values)


def fill_store(engine: Engine, practice: str, count: int, seed: int = 1) -> int:
    """Load a seeded synthetic practice straight into the store (no HTTP), as a sync would
    leave it. For dashboard, export and benchmark tests that need many rows fast."""
    from datetime import UTC, datetime

    from odbridge.api.models import Patient
    from odbridge.simulator.generate import generate_practice
    from odbridge.sync.resources import PATIENTS
    from odbridge.sync.writer import RowWriter

    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    practice_data = generate_practice(count, seed)
    writer = RowWriter(engine, practice, PATIENTS)
    batch: list[StoreRow] = []
    with engine.begin() as connection:
        for record in practice_data.records():
            batch.append(PATIENTS.form.from_model(Patient.from_api(record)))
            if len(batch) == 2000:
                writer.upsert(connection, batch, now, seen_pass=None)
                batch = []
        writer.upsert(connection, batch, now, seen_pass=None)
    return count


def lock_holders(store: Engine, practice: str) -> set[int]:
    """The PostgreSQL backends holding the practice's sync lock now (pg_locks)."""
    with store.connect() as connection:
        key = advisory_key(
            str(connection.execute(text("SELECT current_schema()")).scalar()), practice
        )
        return set(
            connection.execute(
                text(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND objsubid = 1 AND classid::bigint = :high AND objid::bigint = :low"
                ),
                {"high": key >> 32, "low": key & 0xFFFFFFFF},
            ).scalars()
        )


def resources_run(store: Engine) -> list[str]:
    """The resources of the sync runs recorded so far, in the order they started."""
    with store.connect() as connection:
        return list(
            connection.execute(select(sync_runs.c.resource).order_by(sync_runs.c.id)).scalars()
        )


def index_names(store: Engine) -> dict[str, set[str]]:
    """Every table's index names, as the database has them."""
    found = inspect(store)
    return {
        table: {str(i["name"]) for i in found.get_indexes(table)}
        for table in found.get_table_names()
    }
