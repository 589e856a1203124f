"""``odbridge simulate`` as a user runs it: a real process on a loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from odbridge.cli import app
from odbridge.cli.simulate import paste_settings
from tests.helpers import SimulatorFactory, first_answer

pytestmark = pytest.mark.integration

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_simulate_serves_until_stopped_and_logs_without_keys() -> None:
    port = free_port()
    process = subprocess.Popen(
        [ODBRIDGE, "simulate", "--port", str(port), "--patients", "150", "--tier", "full"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "ODBRIDGE_SIM_DEVELOPER_KEY": "d-123", "COLUMNS": "200"},
    )
    try:
        health = f"http://127.0.0.1:{port}/_simulator/health"
        first_answer(lambda: httpx.get(health).raise_for_status(), "the simulator", process)
        response = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/patients/Simple",
            headers={
                "Authorization": "ODFHIR d-123/custkey-sim",
                "Content-Type": "application/json",
            },
        )
        assert response.status_code == 200
        assert len(response.json()) == 100
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert f"http://127.0.0.1:{port}/api/v1" in output
    assert "GET /api/v1/patients/Simple 200" in output
    assert "d-123" not in output  # a key the user chose is never printed
    paste = next(line for line in output.splitlines() if "export ODBRIDGE_BASE_URL" in line)
    assert paste.split() == [
        "export",
        f"ODBRIDGE_BASE_URL=http://127.0.0.1:{port}/api/v1",
        'ODBRIDGE_DEVELOPER_KEY="${ODBRIDGE_SIM_DEVELOPER_KEY}"',
        "ODBRIDGE_CUSTOMER_KEY=custkey-sim",  # the simulator's built-in, public key
        "ODBRIDGE_TIER=full",
        "ODBRIDGE_MODE=remote",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tier", "gold"], "--tier must be one of"),
        (["--faults", "bogus=1"], "unknown fault"),
        (["--patients", "-5"], "--patients"),
        (["--od-version", "latest"], "--od-version"),
        (["--practices", "0"], "--practices"),
    ],
)
def test_bad_options_fail_with_one_sentence_and_exit_code_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["simulate", *args], env={"COLUMNS": "200"})
    assert result.exit_code == 2
    assert message in result.stderr
    assert not isinstance(result.exception, Exception), result.exception  # no traceback


def test_simulate_serves_a_group_of_practices_as_an_older_open_dental() -> None:
    port = free_port()
    command = [ODBRIDGE, "simulate", "--port", str(port), "--patients", "40"]
    command += ["--practices", "2", "--customer-key", "grp", "--od-version", "21.3"]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        health = f"http://127.0.0.1:{port}/_simulator/health"
        first_answer(lambda: httpx.get(health).raise_for_status(), "the simulator", process)
        root = f"http://127.0.0.1:{port}"
        httpx.post(f"{root}/_simulator/events/delete?practice=2", json={"PatNum": 3})

        def simple(key: str) -> httpx.Response:
            return httpx.get(
                f"{root}/api/v1/patients/Simple",
                headers={
                    "Authorization": f"ODFHIR devkey-sim/{key}",
                    "Content-Type": "application/json",
                },
            )

        first, second, plain = simple("grp-1"), simple("grp-2"), simple("grp")
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert (first.status_code, second.status_code, plain.status_code) == (200, 200, 401)
    assert first.json() != second.json()  # each practice has its own data
    assert next(r for r in second.json() if r["PatNum"] == 3)["PatStatus"] == "Deleted"  # 21.3
    assert "practices    : 2" in output
    assert "21.3" in output


def test_the_lines_to_paste_configure_the_cli_for_the_simulator(
    simulator_factory: SimulatorFactory, tmp_path: Path
) -> None:
    sim = simulator_factory(developer_key="devkey-sim", customer_key="custkey-sim")
    line = paste_settings(sim.settings, sim.base_url)
    assert line.startswith("export ")
    env = dict(item.split("=", 1) for item in line.removeprefix("export ").split())
    env["ODBRIDGE_DB"] = f"sqlite:///{tmp_path / 'audit.sqlite'}"
    result = CliRunner().invoke(app, ["patients", "get", "1", "--format", "json"], env=env)
    assert result.exit_code == 0, result.stderr
    assert '"PatNum": 1' in result.stdout
