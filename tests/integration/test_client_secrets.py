"""Keys (and patient fields) appear nowhere in logs, output or error text, over real HTTP."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from odbridge.api.client import Client
from odbridge.api.diagnose import diagnose
from odbridge.api.errors import OpenDentalError
from odbridge.api.retry import RetryPolicy
from odbridge.config import PracticeProfile
from odbridge.simulator.server import SimulatorServer
from tests.helpers import CUST_KEY, DEV_KEY

pytestmark = pytest.mark.integration

WRONG_CUST = "wrong-cust-key-SECRET-5e1d"


def exercise(sim: SimulatorServer) -> tuple[list[str], str]:
    """Good calls, failing calls and faults; the text of every error met, a name searched."""
    texts: list[str] = []
    retry = RetryPolicy(max_attempts=6, initial=0.01, max_wait=0.02, jitter=0)
    settings: dict[str, Any] = {"base_url": sim.base_url, "rate_interval": 0, "retry": retry}
    with Client(DEV_KEY, CUST_KEY, **settings) as client:
        patients = list(client.patients.list())
        searched = next(p for p in patients if p.lname and len(p.lname) >= 6)
        assert searched.lname is not None
        client.patients.search(lname=searched.lname)
        client.patients.get(searched.pat_num)
        logging.getLogger("test").info("client %r, auth %r", client, client._http.auth)
        sim.set_faults({"error500": 0.1, "reset": 0.1, "malformed": 0.1, "seed": 1})
        list(client.patients.list(changed_since="2000-01-01"))
        sim.set_faults({"error500": 1.0})
        try:
            client.patients.list()
        except OpenDentalError as exc:
            texts.append(f"{exc} {exc!r}")
        sim.set_faults({})
    for scheme in ("odfhir", "basic"):
        with Client(DEV_KEY, WRONG_CUST, auth_scheme=scheme, **settings) as client:
            try:
                client.patients.list()
            except OpenDentalError as exc:
                texts.append(f"{exc} {exc!r}")
    profile = PracticeProfile.model_validate(
        {"developer_key": DEV_KEY, "customer_key": WRONG_CUST, "base_url": sim.base_url}
    )
    texts += [f"{r.detail} {r.fix}" for r in diagnose(profile)]
    return texts, searched.lname


def test_no_key_or_patient_field_in_logs_output_or_errors(
    simulator: SimulatorServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    texts, searched_name = exercise(simulator)
    out, err = capsys.readouterr()
    everything = "\n".join([caplog.text, out, err, *texts])
    assert len(texts) == 3 + 6  # three errors really happened, and diagnose ran
    assert "HTTP Request" in caplog.text  # httpx's own lines were captured too
    for key in (DEV_KEY, CUST_KEY, WRONG_CUST):
        assert key not in everything
    assert searched_name not in everything  # a query value: PHI
    for patient in simulator.all_patients():
        for field in ("Email", "SSN", "WirelessPhone"):
            value = patient[field]
            if len(value) >= 6:
                assert value not in everything, field
