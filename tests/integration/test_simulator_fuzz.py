"""Schema-driven fuzzing of the simulator's patient endpoints (schemathesis, over real HTTP).

The simulator describes itself at ``GET /_simulator/openapi.json``. Every operation is fed
valid (positive) and invalid (negative) requests, with the ODFHIR header and Content-Type
set; with faults off no answer may be a 5xx, and every answer must have a documented status,
content type, headers and body shape. Afterwards the client must still read every patient,
including those the fuzzer created with arbitrary text.

25 examples per operation and mode (more in the randomised run of scripts/fuzz.sh).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import APIOperation, BaseSchema, GenerationMode
from schemathesis import checks as schemathesis_checks
from schemathesis.core.result import Ok

from odbridge.api.client import Client
from odbridge.simulator.openapi import openapi_document
from odbridge.simulator.server import SimulatorServer
from tests.helpers import CUST_KEY, DEV_KEY, HEADERS, SimulatorFactory, examples

pytestmark = pytest.mark.integration

Operation = APIOperation[Any, Any, Any, Any]

EXAMPLES = examples(25)

CHECKS = [
    schemathesis_checks.not_a_server_error,
    schemathesis_checks.status_code_conformance,
    schemathesis_checks.content_type_conformance,
    schemathesis_checks.response_headers_conformance,
    schemathesis_checks.response_schema_conformance,
]

OPERATIONS = {
    "GET /patients/Simple",
    "GET /patients",
    "POST /patients",
    "GET /patients/{PatNum}",
    "PUT /patients/{PatNum}",
    "DELETE /patients/{PatNum}",
}


def operations(schema: BaseSchema) -> list[Operation]:
    """Every operation of the document (a part the loader cannot read fails the test)."""
    found = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        found.append(result.ok())
    return found


def fuzz_operation(
    sim: SimulatorServer,
    operation: Operation,
    mode: GenerationMode,
    tried: Counter[tuple[str, str]],
    statuses: Counter[int],
) -> None:
    """Send ``EXAMPLES`` generated requests to one operation and check every answer."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[
            HealthCheck.filter_too_much,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case[Operation]) -> None:
        tried[(operation.label, mode.value)] += 1
        response = case.call(base_url=sim.base_url, headers=HEADERS, timeout=30)
        statuses[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=HEADERS)

    fuzz()


def test_the_openapi_document_is_served_and_lists_every_patient_operation(
    simulator: SimulatorServer,
) -> None:
    schema = schemathesis.openapi.from_url(f"{simulator.root_url}/_simulator/openapi.json")
    labels = {operation.label for operation in operations(schema)}
    assert labels == OPERATIONS
    document = openapi_document()
    patient = document["components"]["schemas"]["Patient"]
    assert len(patient["required"]) == 48
    assert list(patient["properties"])[:3] == ["PatNum", "LName", "FName"]
    simple = document["components"]["schemas"]["PatientSimple"]
    assert next(iter(simple["properties"])) == "serverDateTime"


def test_fuzzing_every_operation_finds_no_5xx_and_no_undocumented_answer(
    simulator_factory: SimulatorFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    sim = simulator_factory(patients=60, seed=11)
    schema = schemathesis.openapi.from_url(f"{sim.root_url}/_simulator/openapi.json")
    # Keep the ODFHIR header on negative cases too: they should probe the parameters and
    # bodies, not be turned away at the door with 401.
    schema.config.generation.update(with_security_parameters=False)
    tried: Counter[tuple[str, str]] = Counter()
    statuses: Counter[int] = Counter()
    for operation in operations(schema):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz_operation(sim, operation, mode, tried, statuses)

    total = sum(tried.values())
    with capsys.disabled():
        print(
            f"\nschemathesis: {total} examples over {len(tried)} operation/mode pairs "
            f"({EXAMPLES} each); statuses {dict(sorted(statuses.items()))}"
        )
    assert {label for label, _ in tried} == OPERATIONS
    assert all(count >= 1 for count in tried.values())
    assert not [status for status in statuses if status >= 500]
    assert statuses[200]  # the fuzzer got past the door: rows read,
    assert statuses[201]  # patients created,
    assert statuses[400]  # and bad input refused
    assert sim.stats()["faults"] == {}

    # The client still reads every patient, the fuzzer's odd names and texts included.
    with Client(
        DEV_KEY, CUST_KEY, base_url=sim.base_url, rate_interval=0, trust_env=False
    ) as client:
        read = [patient.pat_num for patient in client.patients.list()]
    source = [record["PatNum"] for record in sim.live_patients()]
    assert read == source
    assert len(source) > 60  # the fuzzer created patients


def test_what_fuzzing_found_stays_fixed(simulator: SimulatorServer) -> None:
    """Each case was a fuzzing finding: the simulator stored what no API would send."""
    url = f"{simulator.base_url}/patients"
    created = httpx.post(url, json={"LName": "A", "FName": "B"}, headers=HEADERS)
    assert created.status_code == 201
    assert created.json()["DateFirstVisit"] == "0001-01-01"  # was "1-01-01" (strftime)
    updated = httpx.put(f"{url}/5", json={"Birthdate": "2020-1-5"}, headers=HEADERS)
    assert updated.json()["Birthdate"] == "2020-01-05"  # stored as the API writes dates
    for bad in ({"SuperFamily": "x"}, {"FeeSched": 2**70}):
        refused = httpx.put(f"{url}/5", json=bad, headers=HEADERS)
        assert refused.status_code == 400, bad
    # EstBalance is read-only: an absurd balance is ignored, not stored.
    balance = httpx.put(
        f"{url}/5", json={"EstBalance": 1e300, "Email": "x@example.com"}, headers=HEADERS
    )
    assert balance.status_code == 200
    assert balance.json()["EstBalance"] == updated.json()["EstBalance"]
    with Client(
        DEV_KEY, CUST_KEY, base_url=simulator.base_url, rate_interval=0, trust_env=False
    ) as client:
        assert len(list(client.patients.list())) == len(simulator.live_patients())
