"""`odbridge mcp` driven by the official MCP SDK's client, over stdio (a real subprocess) and
streamable HTTP (real loopback HTTP, login required), on a store filled by a real sync from
the simulator. The simulator must see no request while the assistant asks its questions."""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult
from sqlalchemy import Engine
from typer.testing import CliRunner

from odbridge.api.client import Client
from odbridge.cli import app
from odbridge.mcp.http import McpHttpServer, create_http_app, identify_http
from odbridge.mcp.run import open_env
from odbridge.mcp.server import create_server
from odbridge.simulator.server import SimulatorServer
from odbridge.store.audit import AuditEntry, entries, viewers_of
from odbridge.store.db import create_store_engine
from odbridge.store.users import add_user, set_disabled
from odbridge.sync.engine import ResourceSync
from tests.helpers import CUST_KEY, DEV_KEY, SimulatorFactory, first_answer

pytestmark = pytest.mark.integration

ODBRIDGE = str(Path(sys.executable).with_name("odbridge"))
PASSWORD = "correct horse battery"
TOOLS = {"search_patients", "get_patient", "overview", "data_quality", "worklist", "sync_status"}
TOOLS |= {"visit_figures", "audit_log"}


@dataclass
class Synced:
    """A store filled by a real sync from a simulator that is still running."""

    sim: SimulatorServer
    url: str
    engine: Engine
    patient: dict[str, Any]

    def requests(self) -> int:
        return int(self.sim.stats()["requests"])


def sync_into(simulator_factory: SimulatorFactory, url: str) -> Synced:
    sim = simulator_factory(patients=60)
    engine = create_store_engine(url)
    client = Client(
        DEV_KEY,
        CUST_KEY,
        base_url=sim.base_url,
        mode="remote",
        tier="full",
        rate_interval=sim.settings.interval,
        env={},
    )
    with client:
        assert ResourceSync(engine, client, "main").run().outcome == "ok"
    add_user(engine, "alice", PASSWORD, role="viewer")
    patient = next(
        p
        for p in sim.all_patients()
        if p["PatStatus"] == "Patient"
        and p["Email"]
        and p["Birthdate"]
        and len([ch for ch in p["WirelessPhone"] if ch.isdigit()]) == 10
    )
    return Synced(sim, url, engine, patient)


@pytest.fixture
def synced(simulator_factory: SimulatorFactory, store_url: str) -> Iterator[Synced]:
    """Synced into SQLite and into PostgreSQL."""
    result = sync_into(simulator_factory, store_url)
    yield result
    result.engine.dispose()


@pytest.fixture
def synced_sqlite(simulator_factory: SimulatorFactory, tmp_path: Path) -> Iterator[Synced]:
    """Synced into SQLite only (for what does not depend on the database)."""
    result = sync_into(simulator_factory, f"sqlite:///{tmp_path / 'store.sqlite'}")
    yield result
    result.engine.dispose()


def mcp_entries(engine: Engine) -> list[AuditEntry]:
    """The MCP tools' audit entries, oldest first."""
    return [e for e in reversed(entries(engine)) if e.what.startswith("mcp:")]


def structured(result: CallToolResult) -> dict[str, Any]:
    assert not result.isError, result.content
    assert result.structuredContent is not None
    return result.structuredContent


async def ask_the_usual(session: ClientSession, patient: dict[str, Any]) -> dict[str, Any]:
    """What an assistant does first: list the tools, find a patient, read the overview."""
    await session.initialize()
    tools = await session.list_tools()
    names = {tool.name for tool in tools.tools}
    found = structured(await session.call_tool("search_patients", {"query": patient["LName"]}))
    by_phone = structured(
        await session.call_tool("search_patients", {"query": patient["WirelessPhone"]})
    )
    by_email = structured(await session.call_tool("search_patients", {"query": patient["Email"]}))
    by_birthdate = structured(
        await session.call_tool("search_patients", {"birthdate": patient["Birthdate"]})
    )
    by_number = structured(
        await session.call_tool("search_patients", {"query": str(patient["PatNum"])})
    )
    detail = structured(await session.call_tool("get_patient", {"pat_num": patient["PatNum"]}))
    overview = structured(await session.call_tool("overview", {}))
    definitions = await session.list_resources()
    return {
        "tools": tools.tools,
        "names": names,
        "found": found,
        "searches": [by_phone, by_email, by_birthdate, by_number],
        "detail": detail,
        "overview": overview,
        "resources": {str(r.uri) for r in definitions.resources},
    }


def check_the_usual(answers: dict[str, Any], synced: Synced, username: str) -> None:
    patient = synced.patient
    assert answers["names"] == TOOLS
    assert all(tool.annotations and tool.annotations.readOnlyHint for tool in answers["tools"])
    assert all(tool.description for tool in answers["tools"])
    found = answers["found"]
    assert patient["PatNum"] in [row["pat_num"] for row in found["patients"]]
    for result in answers["searches"]:
        assert patient["PatNum"] in [row["pat_num"] for row in result["patients"]]
    detail = answers["detail"]
    assert detail["patient"]["pat_num"] == patient["PatNum"]
    assert detail["patient"]["email"] == patient["Email"]
    assert "ssn" not in detail["patient"]
    figures = answers["overview"]["figures"]
    assert figures["total_patients"]["value"] == 60
    assert figures["active_patients"]["value"] == sum(
        1 for p in synced.sim.all_patients() if p["PatStatus"] == "Patient"
    )
    assert figures["active_patients"]["uri"] in answers["resources"]
    assert figures["active_patients"]["definition"]

    audit = mcp_entries(synced.engine)
    assert [e.what for e in audit] == [
        *["mcp:search_patients"] * 5,
        "mcp:get_patient",
        "mcp:overview",
    ]
    assert {e.username for e in audit} == {username}
    assert {e.action for e in audit} == {"view"}
    viewed = [e.what for e in viewers_of(synced.engine, "main", patient["PatNum"])]
    assert sorted(w for w in viewed if w.startswith("mcp:")) == [
        "mcp:get_patient",
        *["mcp:search_patients"] * 5,
    ]  # the patients shown are in the per-patient audit table, not in the text
    assert not any(k in (e.detail or "") for e in audit for k in ("pat_num=", "pat_nums="))
    kinds = [e.detail or "" for e in audit]
    assert "search(name)" in kinds[0]
    assert "search(number)" in kinds[1]
    assert "search(email)" in kinds[2]
    assert "birthdate" in kinds[3]
    for text in (
        patient["LName"],
        patient["Email"],
        patient["WirelessPhone"],
        patient["Birthdate"],
    ):
        assert all(text not in detail for detail in kinds), "a search text reached the audit log"


def stdio_params(synced: Synced, tmp_path: Path, *extra: str) -> StdioServerParameters:
    env = {
        **os.environ,
        "ODBRIDGE_CONFIG": str(tmp_path / "absent.toml"),
        "ODBRIDGE_DEID_KEY_FILE": str(tmp_path / "deid.key"),
    }
    return StdioServerParameters(
        command=ODBRIDGE, args=["mcp", "--db", synced.url, *extra], env=env
    )


def run_stdio(
    params: StdioServerParameters, work: Callable[[ClientSession], Awaitable[Any]]
) -> Any:
    async def main() -> Any:
        with open(os.devnull, "w") as errors:
            async with (
                stdio_client(params, errlog=errors) as (read, write),
                ClientSession(read, write) as session,
            ):
                return await work(session)

    return anyio.run(main)


def test_stdio_lists_searches_reads_the_overview_audited_without_asking_open_dental(
    synced: Synced, tmp_path: Path
) -> None:
    before = synced.requests()
    params = stdio_params(synced, tmp_path, "--user", "alice")
    answers = run_stdio(params, lambda session: ask_the_usual(session, synced.patient))
    assert synced.requests() == before
    check_the_usual(answers, synced, "alice")


def test_stdio_refuses_an_unknown_user_and_stops_a_disabled_one(
    synced_sqlite: Synced, tmp_path: Path
) -> None:
    synced = synced_sqlite
    params = stdio_params(synced, tmp_path, "--user", "mallory")
    unknown = subprocess.run(
        [params.command, *params.args],
        env=params.env,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2
    assert "no enabled user named 'mallory'" in " ".join(unknown.stderr.split())
    assert unknown.stdout == ""  # stdout is the protocol's: nothing else may go there

    async def disabled_midway(session: ClientSession) -> CallToolResult:
        await session.initialize()
        structured(await session.call_tool("sync_status", {}))
        set_disabled(synced.engine, "alice")
        return await session.call_tool("overview", {})

    refused = run_stdio(stdio_params(synced, tmp_path, "--user", "alice"), disabled_midway)
    assert refused.isError
    assert "no enabled user" in str(refused.content[0])
    assert [e.what for e in mcp_entries(synced.engine)] == ["mcp:sync_status"]


# -- HTTP ----------------------------------------------------------------------------------
@contextlib.contextmanager
def mcp_over_http(synced: Synced) -> Iterator[str]:
    """``odbridge mcp --http``'s app on a loopback port; its base URL."""
    env = open_env(synced.url)
    server = create_server(env, identify_http(env.writer, deidentified=False))
    app = create_http_app(server, env.writer, secrets.token_bytes(32))
    with McpHttpServer(app) as running:
        yield running.url
    env.close()


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    },
}
MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def login(url: str, username: str = "alice", password: str = PASSWORD) -> httpx.Response:
    return httpx.post(f"{url}/login", json={"username": username, "password": password})


def run_http(url: str, token: str, work: Callable[[ClientSession], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(30, read=60)) as http,
            streamable_http_client(f"{url}/mcp", http_client=http) as (read, write, _),
            ClientSession(read, write) as session,
        ):
            return await work(session)

    return anyio.run(main)


def test_http_needs_a_login_then_answers_audited_without_asking_open_dental(
    synced: Synced,
) -> None:
    with mcp_over_http(synced) as url:
        http_session(synced, url)


def http_session(synced: Synced, http_server: str) -> None:
    before = synced.requests()
    anonymous = httpx.post(f"{http_server}/mcp", json=INITIALIZE, headers=MCP_HEADERS)
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    forged = httpx.post(
        f"{http_server}/mcp",
        json=INITIALIZE,
        headers={**MCP_HEADERS, "Authorization": "Bearer not-a-token"},
    )
    assert forged.status_code == 401
    assert login(http_server, password="wrong password!").status_code == 401

    response = login(http_server)
    assert response.status_code == 200
    token = response.json()["token"]
    answers = run_http(http_server, token, lambda s: ask_the_usual(s, synced.patient))
    assert synced.requests() == before
    check_the_usual(answers, synced, "alice")
    logins = [(e.username, e.action, e.what) for e in entries(synced.engine) if e.what == "mcp"]
    assert ("alice", "login", "mcp") in logins
    assert ("alice", "login_failed", "mcp") in logins


def test_http_refuses_foreign_hosts_and_origins_and_ended_tokens(synced_sqlite: Synced) -> None:
    with mcp_over_http(synced_sqlite) as url:
        refusals(synced_sqlite, url)


def refusals(synced: Synced, http_server: str) -> None:
    token = login(http_server).json()["token"]
    authorized = {**MCP_HEADERS, "Authorization": f"Bearer {token}"}
    rebound = httpx.post(
        f"{http_server}/mcp", json=INITIALIZE, headers={**authorized, "Host": "evil.example:80"}
    )
    assert rebound.status_code == 400
    cross_site = httpx.post(
        f"{http_server}/mcp",
        json=INITIALIZE,
        headers={**authorized, "Origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    login_from_elsewhere = httpx.post(
        f"{http_server}/login",
        json={"username": "alice", "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    assert login_from_elsewhere.status_code == 403
    assert httpx.post(f"{http_server}/mcp", json=INITIALIZE, headers=authorized).status_code == 200

    assert httpx.post(f"{http_server}/logout", headers=authorized).status_code == 204
    assert httpx.post(f"{http_server}/mcp", json=INITIALIZE, headers=authorized).status_code == 401

    token = login(http_server).json()["token"]
    set_disabled(synced.engine, "alice")
    ended = httpx.post(
        f"{http_server}/mcp",
        json=INITIALIZE,
        headers={**MCP_HEADERS, "Authorization": f"Bearer {token}"},
    )
    assert ended.status_code == 401


def test_the_command_serves_http_on_loopback_only(synced_sqlite: Synced, tmp_path: Path) -> None:
    params = stdio_params(synced_sqlite, tmp_path)
    command = [params.command, *params.args]
    for wrong in (["--http", "--host", "0.0.0.0"], ["--http", "--user", "alice"], []):  # noqa: S104
        refused = CliRunner().invoke(app, [*params.args, *wrong])
        assert refused.exit_code == 2, wrong
        assert refused.stderr.startswith("error:")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [*command, "--http", "--port", str(port)],
        env=params.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        response = first_answer(lambda: login(url), "the MCP server", server)
        assert response.status_code == 200
        token = response.json()["token"]

        async def overview(session: ClientSession) -> dict[str, Any]:
            await session.initialize()
            return structured(await session.call_tool("overview", {}))

        assert run_http(url, token, overview)["figures"]["total_patients"]["value"] == 60
    finally:
        server.terminate()
        server.wait(timeout=30)
