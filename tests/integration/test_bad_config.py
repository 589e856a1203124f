"""Every bad configuration fails fast: exit code 2, one clear sentence, never a traceback.

Each case runs the real ``odbridge`` command with a broken setting (a missing key, a config
file that is not TOML or that other users can read, an unknown practice, a wrong database
URL, a data directory that cannot be written...) and checks what the user sees: on stderr
one ``error:`` line (a sentence naming the problem and the fix), at most one ``Hint:`` line
after it, nothing on stdout, and no Python internals. None of these may reach the network:
the API base URL points at a tripwire, a port that counts the connections made to it, and it
must count none.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import CUST_KEY, DEV_KEY

# The first test's setup runs every case (the module fixture): 19 commands, each mostly
# interpreter start-up, which on a busy 2-core machine can outlast the default 120 s.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))


class Tripwire:
    """A loopback port that accepts and counts connections (and answers nothing)."""

    def __init__(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._socket.getsockname()[1]}/api/v1"
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._socket.close()


KEYS_TOML = f'[practices.main]\ndeveloper_key = "{DEV_KEY}"\ncustomer_key = "{CUST_KEY}"\n'
INTERNALS = ("Traceback", "pydantic", "sqlalche", 'File "')


@dataclass(frozen=True)
class Case:
    """A broken setup: what to write, which variables to set, which command to run."""

    args: tuple[str, ...]
    expected: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    config: str | None = None
    mode: int = 0o600
    unset: tuple[str, ...] = ()


CASES: dict[str, Case] = {
    "missing developer key": Case(
        ("sync",),
        ("No developer key for practice 'default'", "[practices.default]"),
        unset=("ODBRIDGE_DEVELOPER_KEY",),
    ),
    "missing customer key (patients list)": Case(
        ("patients", "list"),
        ("No customer key for practice 'default'", "ODBRIDGE_CUSTOMER_KEY"),
        unset=("ODBRIDGE_CUSTOMER_KEY",),
    ),
    "missing keys (check)": Case(
        ("check",),
        ("No developer key for practice 'default'", "keyring"),
        unset=("ODBRIDGE_DEVELOPER_KEY", "ODBRIDGE_CUSTOMER_KEY"),
    ),
    "malformed TOML": Case(("sync",), ("is not valid TOML", "line 1"), config="[practices.main\n"),
    "unknown setting": Case(
        ("sync",), ("practices.main.colour", "Extra inputs"), config=KEYS_TOML + 'colour = "b"\n'
    ),
    "invalid tier in the file": Case(
        ("sync",), ("practices.main.tier", "'read-all', 'full'"), config=KEYS_TOML + 'tier = "x"\n'
    ),
    "unknown practice (--practice)": Case(
        ("sync", "--practice", "nowhere"),
        ("No practice 'nowhere' in the config file", "Known practices: main"),
        config=KEYS_TOML,
    ),
    "unknown practice (ODBRIDGE_PRACTICE)": Case(
        ("sync",),
        ("No practice 'nowhere'", "ODBRIDGE_PRACTICE"),
        env={"ODBRIDGE_PRACTICE": "nowhere"},
        config=KEYS_TOML,
    ),
    "default_practice names no table": Case(
        ("config", "show"),
        ("No practice 'mian'", "default_practice"),
        config='default_practice = "mian"\n' + KEYS_TOML,
    ),
    "base URL without a scheme": Case(
        ("patients", "list"),
        ("base_url (from ODBRIDGE_BASE_URL)", "http:// or https://"),
        env={"ODBRIDGE_BASE_URL": "api.opendental.com/api/v1"},
    ),
    "config with keys readable by others": Case(
        ("sync",), ("holds API keys", "can read it", "chmod 600"), config=KEYS_TOML, mode=0o644
    ),
    "config with keys writable by the group": Case(
        ("check",), ("holds API keys", "can change it", "chmod 600"), config=KEYS_TOML, mode=0o620
    ),
    "config without keys writable by others (base_url hijack)": Case(
        ("sync",),
        ("decides where the API keys are sent", "can change it (mode 666)", "chmod 600"),
        config='[practices.main]\nbase_url = "https://attacker.example/api/v1"\n',
        mode=0o666,
    ),
    "--all without practices": Case(
        ("sync", "--all"), ("--all needs practices in the config file", "[practices.NAME]")
    ),
    "database URL that is not a URL": Case(
        ("sync", "--db", "not a url"), ("is not a database URL", "postgresql+psycopg://")
    ),
    "database driver not installed": Case(
        ("sync", "--db", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"),
        ("driver 'asyncpg' is not installed",),
    ),
    "database server not reachable": Case(
        ("sync", "--db", "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/none"),
        ("Cannot open postgresql+psycopg://postgres:***@127.0.0.1:1/none",),
    ),
    "data directory not writable (sync)": Case(
        ("sync",),
        ("Cannot create the database file", "--db"),
        env={"XDG_DATA_HOME": "<file>/x"},
        unset=("ODBRIDGE_DB",),
    ),
    "data directory not writable (patients list)": Case(
        ("patients", "list"),
        ("Cannot create the database file",),
        env={"XDG_DATA_HOME": "<file>/x"},
        unset=("ODBRIDGE_DB",),
    ),
}


def _environment(case: Case, tmp_path: Path, base_url: str) -> dict[str, str]:
    config = tmp_path / "config.toml"
    if case.config is not None:
        config.write_text(case.config, encoding="utf-8")
        config.chmod(case.mode)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ODBRIDGE_")}
    env = {
        **clean,
        "ODBRIDGE_DEVELOPER_KEY": DEV_KEY,
        "ODBRIDGE_CUSTOMER_KEY": CUST_KEY,
        "ODBRIDGE_BASE_URL": base_url,
        "ODBRIDGE_RATE_INTERVAL": "0",
        "ODBRIDGE_CONFIG": str(config),
        "ODBRIDGE_DB": f"sqlite:///{tmp_path / 'store.sqlite'}",
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "COLUMNS": "2000",  # one line per message: no wrapping to check around
        **case.env,
    }
    for name in case.unset:
        env.pop(name, None)
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n", encoding="utf-8")
    return {k: v.replace("<file>", str(a_file)) for k, v in env.items()}


@dataclass(frozen=True)
class Outcome:
    result: subprocess.CompletedProcess[str]
    connections: int
    """Connections the case made to the API's address (the tripwire counts them all)."""


def _run(case: Case, tmp_path: Path, base_url: str) -> subprocess.CompletedProcess[str]:
    env = _environment(case, tmp_path, base_url)
    args = [arg.replace("<file>", str(tmp_path / "a-file")) for arg in case.args]
    return subprocess.run([ODBRIDGE, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    """Every case run once, a few at a time (each command is mostly interpreter start-up),
    each against its own tripwire."""
    wires = {name: Tripwire() for name in CASES}
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {
                name: pool.submit(_run, case, tmp_path_factory.mktemp("case"), wires[name].url)
                for name, case in CASES.items()
            }
            results = {name: future.result() for name, future in futures.items()}
    finally:
        for wire in wires.values():
            wire.close()
    return {name: Outcome(results[name], wires[name].connections) for name in CASES}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_configuration_fails_fast_with_one_sentence_and_exit_code_2(
    name: str, outcomes: dict[str, Outcome]
) -> None:
    case, outcome = CASES[name], outcomes[name]
    result = outcome.result
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    shown = "\n".join(lines)

    assert result.returncode == 2, shown or result.stdout
    assert result.stdout == ""
    assert lines, "nothing was said"
    assert lines[0].startswith("error: "), shown
    assert len(lines) == 1 or (len(lines) == 2 and lines[1].startswith("Hint: ")), shown
    for expected in case.expected:
        assert expected in shown
    for internal in INTERNALS:
        assert internal not in shown
    assert DEV_KEY not in shown
    assert CUST_KEY not in shown
    assert "hunter2" not in shown
    assert outcome.connections == 0, "it reached for the network instead of failing at once"
