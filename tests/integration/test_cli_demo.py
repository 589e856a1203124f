"""`odbridge demo`, the README's first command: simulator → sync → dashboard, then Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from odbridge.cli import app
from tests.browser.seed import csrf_from
from tests.helpers import wait_for
from tests.integration.test_cli_simulate import free_port

pytestmark = pytest.mark.integration

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))


def test_demo_syncs_a_practice_and_serves_a_working_dashboard(tmp_path: Path) -> None:
    port, sim_port = free_port(), free_port()
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "data"), "COLUMNS": "200"}
    process = subprocess.Popen(
        [
            ODBRIDGE,
            "demo",
            "--patients",
            "400",
            "--port",
            str(port),
            "--simulator-port",
            str(sim_port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        while not any("password" in line for line in lines):
            assert time.monotonic() < deadline, "".join(lines)
            line = process.stdout.readline()
            assert line, "".join(lines)  # the demo ended early
            lines.append(line)
        output = "".join(lines)
        synced = re.search(r"full sync ok: (\d+) patients", output)
        assert synced is not None, output
        # the simulated front desk is already at work: it may delete a patient or two
        assert 390 <= int(synced.group(1)) <= 400
        password = re.search(r"password (\S+)", output)
        assert password is not None
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            token = csrf_from(http.get("/login").text)  # it listens before the login shows
            login = {"username": "demo", "password": password.group(1), "csrf_token": token}
            assert http.post("/login", data={**login, "next": ""}).status_code == 303
            overview = http.get("/")
            assert overview.status_code == 200
            assert "Active patients" in overview.text

            # the visit history loads in the background; its figures then appear
            def visit_figures() -> dict[str, Any] | None:
                figures: dict[str, Any] = http.get("/overview.json").json()
                return figures if figures["active_patients"]["value"] else None

            # polled every 0.5 s: the page changes when the sync commits
            figures = wait_for(visit_figures, "visit figures on the overview", 180, every=0.5)
            assert figures["production"]["value"] not in (None, 0, "0", "0.00")
        assert (tmp_path / "data" / "odbridge" / "demo.sqlite").exists()
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)
    assert "Traceback" not in "".join(lines)


def test_a_port_in_use_is_named_with_the_option_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["demo", "--port", str(port)])
    message = " ".join(result.stderr.split())
    assert result.exit_code == 2
    assert f"Port {port} (the dashboard's) is in use" in message
    assert "--port N" in message
    assert "make demo PORT=N" in message
    assert "1/3" not in result.stdout  # nothing was started
