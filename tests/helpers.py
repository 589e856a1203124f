"""Constants and types the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, select

from odbridge.simulator.server import SimulatorServer
from odbridge.store.schema import PATIENT_FIELD_NAMES, patients

DEV_KEY = "test-dev-key-9f2c"
CUST_KEY = "test-cust-key-41ab"
ODFHIR = f"ODFHIR {DEV_KEY}/{CUST_KEY}"
HEADERS = {"Authorization": ODFHIR, "Content-Type": "application/json"}

T = TypeVar("T")

SimulatorFactory = Callable[..., SimulatorServer]
"""``simulator_factory(**settings)``: start a simulator with the test keys."""


PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

FUZZ_SCALE = int(os.environ.get("ODBRIDGE_FUZZ_SCALE", "1"))
"""How many times more examples the randomised fuzz run (scripts/fuzz.sh) draws than CI."""


def examples(count: int) -> int:
    """``count`` Hypothesis examples in CI; ``FUZZ_SCALE`` times more in the fuzz run."""
    return count * FUZZ_SCALE


def wait_for(condition: Callable[[], T | None], what: str, timeout: float = 30.0) -> T:
    """Poll ``condition`` until it returns something truthy (returned), or fail after
    ``timeout`` seconds saying ``what`` never happened. Exceptions count as "not yet"."""
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
        time.sleep(0.02)


def source_rows(sim: SimulatorServer) -> dict[int, dict[str, Any]]:
    """The simulator's patients as store rows (the columns odbridge writes), by PatNum."""
    from odbridge.api.models import Patient
    from odbridge.sync.resources import patient_row

    rows = {}
    for record in sim.all_patients():
        row = patient_row(Patient.from_api(record))
        rows[row["pat_num"]] = {name: row[name] for name in PATIENT_FIELD_NAMES}
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


def fill_store(engine: Engine, practice: str, count: int, seed: int = 1) -> int:
    """Load a seeded synthetic practice straight into the store (no HTTP), as a sync would
    leave it. For dashboard, export and benchmark tests that need many rows fast."""
    from datetime import UTC, datetime

    from sqlalchemy import insert

    from odbridge.api.models import Patient
    from odbridge.simulator.generate import generate_practice
    from odbridge.sync.resources import patient_row

    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    practice_data = generate_practice(count, seed)
    batch: list[dict[str, Any]] = []
    with engine.begin() as connection:
        for record in practice_data.records():
            row = patient_row(Patient.from_api(record))
            row.update(practice=practice, first_seen_at=now, last_synced_at=now)
            batch.append(row)
            if len(batch) == 2000:
                connection.execute(insert(patients), batch)
                batch = []
        if batch:
            connection.execute(insert(patients), batch)
    return count
