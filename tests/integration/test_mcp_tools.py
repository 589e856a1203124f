"""The MCP tools' answers through the SDK's client session (in memory, the transports are
covered by test_mcp.py): the de-identified view, bounded pages, read-only store access."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession
from mcp.shared.memory import create_connected_server_and_client_session
from mcp.types import CallToolResult
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import DBAPIError

from odbridge.dashboard.queries.visit_kpis import compute_kpis, visit_summary
from odbridge.dashboard.queries.visit_lists import patient_visits, worklist_entries
from odbridge.export.deidentify import Pseudonymizer, load_or_create_key
from odbridge.mcp.access import Caller, user_named
from odbridge.mcp.common import ToolEnv
from odbridge.mcp.run import identify_user, open_env
from odbridge.mcp.server import create_server
from odbridge.store.audit import entries, viewers_of
from odbridge.store.db import create_read_only_engine
from odbridge.store.schema import audit_log, patients
from odbridge.store.users import add_user
from tests.helpers import fill_store
from tests.visits_data import fill_visits

pytestmark = pytest.mark.integration

IDENTIFYING = {"lname", "fname", "preferred", "email", "wireless_phone", "hm_phone", "wk_phone"}
IDENTIFYING |= {"city", "address", "pat_num", "guarantor", "birthdate", "zip", "ssn"}


@pytest.fixture
def filled(store: Engine, store_url: str) -> str:
    fill_store(store, "main", 120, seed=3)
    add_user(store, "bob", "correct horse battery", role="viewer")
    return store_url


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "deid.key"


def session_with(
    env: ToolEnv, work: Callable[[ClientSession], Awaitable[Any]], username: str = "bob"
) -> Any:
    server = create_server(env, identify_user(env, username))

    async def main() -> Any:
        async with create_connected_server_and_client_session(server) as session:
            return await work(session)

    return anyio.run(main)


@pytest.fixture
def deid_env(filled: str, key_file: Path) -> Iterator[ToolEnv]:
    env = open_env(filled, deidentified=True, key_file=key_file)
    yield env
    env.close()


def data(result: CallToolResult) -> dict[str, Any]:
    assert not result.isError, result.content
    assert result.structuredContent is not None
    return result.structuredContent


def test_deidentified_tools_answer_with_pseudonyms_years_and_zip3_only(
    deid_env: ToolEnv, key_file: Path
) -> None:
    async def work(session: ClientSession) -> dict[str, Any]:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        listed = data(await session.call_tool("search_patients", {"status": "Patient"}))
        first = listed["patients"][0]["patient_id"]
        return {
            "tools": tools,
            "listed": listed,
            "one": data(await session.call_tool("get_patient", {"patient_id": first})),
            "by_name": await session.call_tool("search_patients", {"query": "Smith"}),
            "overview": data(await session.call_tool("overview", {})),
            "birthdays": await session.call_tool("worklist", {"name": "birthdays_this_week"}),
        }

    answers = session_with(deid_env, work)
    assert "patient_id" in answers["tools"]["get_patient"].inputSchema["properties"]
    assert "pat_num" not in answers["tools"]["get_patient"].inputSchema["properties"]
    listed = answers["listed"]
    assert listed["deidentified"] is True
    assert (listed["returned"], listed["truncated"], listed["next_page"]) == (25, True, 2)
    with deid_env.reader.connect() as connection:
        stored = {
            (row.practice, row.pat_num): row
            for row in connection.execute(select(patients).where(patients.c.practice == "main"))
        }
    pseudonym = Pseudonymizer(load_or_create_key(key_file))  # the exports' pseudonyms
    by_pseudonym = {pseudonym(p, n): row for (p, n), row in stored.items()}
    for row in listed["patients"]:
        assert not IDENTIFYING & set(row)
        assert re.fullmatch(r"[0-9a-f]{32}", row["patient_id"])
        source = by_pseudonym[row["patient_id"]]
        assert row["pat_status"] == "Patient" == source.pat_status
        assert row["family_id"] == pseudonym("main", source.guarantor)
        assert row.get("birth_year") in (None, source.birthdate.year if source.birthdate else None)

    one = answers["one"]
    assert one["patient"]["patient_id"] == listed["patients"][0]["patient_id"]
    assert not IDENTIFYING & set(one["patient"])
    source = by_pseudonym[one["patient"]["patient_id"]]
    assert one["patient"].get("zip3") == (source.zip[:3] if source.zip else None)
    for member in one["family"]:
        assert not IDENTIFYING & set(member)
        assert member["family_id"] == one["patient"]["family_id"]

    assert answers["by_name"].isError
    assert "de-identified" in str(answers["by_name"].content[0])
    assert answers["birthdays"].isError
    figures = answers["overview"]["figures"]
    assert not {"top_cities", "top_zips"} & set(figures)
    assert figures["total_patients"]["value"] == 120

    audit = [e for e in entries(deid_env.writer) if e.what.startswith("mcp:")]
    assert {e.what for e in audit} == {"mcp:search_patients", "mcp:get_patient", "mcp:overview"}
    assert all(e.deidentified is True and e.username == "bob" for e in audit)


def test_pages_are_bounded_and_say_when_truncated(filled: str) -> None:
    env = open_env(filled)

    async def work(session: ClientSession) -> list[Any]:
        return [
            data(await session.call_tool("search_patients", {"per_page": 100})),
            data(await session.call_tool("search_patients", {"per_page": 100, "page": 2})),
            await session.call_tool("search_patients", {"per_page": 1000}),
            await session.call_tool("data_quality", {"check": "phones", "per_page": 101}),
            data(await session.call_tool("data_quality", {"check": "no_phone", "per_page": 1})),
            await session.call_tool("overview", {"practice": "elsewhere"}),
        ]

    first, second, too_many, too_many_rows, one_row, unknown = session_with(env, work)
    assert (first["returned"], first["total"], first["truncated"]) == (100, 120, True)
    assert first["next_page"] == 2
    assert (second["returned"], second["next_page"]) == (20, None)
    seen = [r["pat_num"] for r in first["patients"] + second["patients"]]
    assert len(set(seen)) == len(seen) == 120
    assert all("ssn" not in row for row in first["patients"])
    assert too_many.isError  # refused by the typed parameters
    assert too_many_rows.isError
    assert one_row["returned"] <= 1
    assert one_row["truncated"] == (one_row["total"] > 1)
    assert unknown.isError
    assert "no practice 'elsewhere'" in str(unknown.content[0])
    env.close()


def test_the_tools_read_through_a_connection_that_cannot_write(filled: str) -> None:
    reader = create_read_only_engine(filled)
    with reader.connect() as connection:
        assert connection.execute(select(patients.c.pat_num).limit(1)).scalar() is not None
    with pytest.raises(DBAPIError), reader.begin() as connection:
        connection.execute(insert(audit_log).values(username="x", action="view", what="x"))
    reader.dispose()


# -- visits ------------------------------------------------------------------------------------
@pytest.fixture
def with_visits(store: Engine, store_url: str) -> str:
    fill_visits(store, "smile", 120, now=datetime.now(), seed=5)
    add_user(store, "bob", "correct horse battery", role="viewer")
    return store_url


def test_visit_figures_worklists_and_a_patients_visits(with_visits: str) -> None:
    env = open_env(with_visits)
    now = datetime.now()
    kpis = compute_kpis(env.reader, "smile", now=now)
    overdue = worklist_entries(
        env.reader, "recall", "smile", now=now, summary=visit_summary(env.reader, "smile", now)
    )
    assert overdue, "the seeded practice has overdue recalls"
    patient = overdue[0][0][1]
    expected = patient_visits(env.reader, "smile", patient, now=now)

    async def work(session: ClientSession) -> list[Any]:
        return [
            data(await session.call_tool("visit_figures", {})),
            data(await session.call_tool("worklist", {"name": "recall", "per_page": 10})),
            data(await session.call_tool("get_patient", {"pat_num": patient})),
            await session.list_resources(),
        ]

    figures, recall, detail, resources = session_with(env, work)
    practice_figures = figures["figures"]
    assert figures["practice"] == "smile"
    assert practice_figures["recall_overdue"]["value"] == kpis.recall_overdue
    assert practice_figures["active_patients"]["value"] == kpis.active_patients
    assert all(practice_figures[f.key]["definition"] for f in kpis.figures)

    assert recall["total"] == len(overdue)
    assert recall["returned"] == min(10, len(overdue))
    assert recall["truncated"] == (len(overdue) > 10)
    assert [r["pat_num"] for r in recall["patients"]] == [k[1] for k, _ in overdue[:10]]
    assert {"lname", "wireless_phone", "prefer_recall_method", "date_due"} <= set(
        recall["patients"][0]
    )

    visits = detail["visits"]
    assert visits["recalls"]
    assert len(visits["recalls"]) == len(expected.recalls)
    assert visits["last_visit"] == (
        expected.last_visit.isoformat(timespec="seconds") if expected.last_visit else None
    )
    assert visits["appointments_returned"] == min(20, len(expected.history))
    assert "odbridge://definitions/worklist.recall" in {str(r.uri) for r in resources.resources}

    audit = [e for e in reversed(entries(env.writer)) if e.what.startswith("mcp:")]
    assert [e.what for e in audit] == ["mcp:visit_figures", "mcp:worklist", "mcp:get_patient"]
    shown = [e.what for e in viewers_of(env.writer, "smile", patient) if e.what.startswith("mcp:")]
    assert sorted(shown) == ["mcp:get_patient", "mcp:worklist"]
    assert not any(k in (e.detail or "") for e in audit for k in ("pat_num=", "pat_nums="))
    env.close()


# -- who may see what ------------------------------------------------------------------------
def test_a_user_limited_to_practices_sees_only_theirs(store: Engine, store_url: str) -> None:
    fill_store(store, "north", 30, seed=1)
    fill_store(store, "south", 40, seed=2)
    add_user(store, "carol", "correct horse battery", role="viewer")
    env = open_env(store_url)
    carol = replace(user_named(env.writer, "carol"), practices=frozenset({"north"}))
    server = create_server(env, lambda _request: Caller(carol))
    with env.reader.connect() as connection:
        south_patient = connection.execute(
            select(patients.c.pat_num)
            .where(patients.c.practice == "south", patients.c.pat_num > 30)  # not in north
            .limit(1)
        ).scalar_one()

    async def main() -> list[Any]:
        async with create_connected_server_and_client_session(server) as session:
            return [
                data(await session.call_tool("search_patients", {"per_page": 100})),
                data(await session.call_tool("overview", {})),
                await session.call_tool("overview", {"practice": "south"}),
                await session.call_tool("get_patient", {"pat_num": south_patient}),
                data(await session.call_tool("sync_status", {})),
            ]

    listed, overview, refused, other, status = anyio.run(main)
    assert {row["practice"] for row in listed["patients"]} == {"north"}
    assert listed["total"] == 30
    assert overview["figures"]["total_patients"]["value"] == 30
    assert refused.isError
    assert "no practice 'south'" in str(refused.content[0])
    assert other.isError
    assert [row["practice"] for row in status["practices"]] in ([], ["north"])
    env.close()


def test_the_audit_log_is_for_administrators(filled: str, store: Engine) -> None:
    add_user(store, "ann", "correct horse battery", role="admin")
    env = open_env(filled)

    async def as_viewer(session: ClientSession) -> list[CallToolResult]:
        return [
            await session.call_tool("search_patients", {"query": "zz"}),
            await session.call_tool("audit_log", {}),
        ]

    _, refused = session_with(env, as_viewer, "bob")
    assert refused.isError
    assert "administrators" in str(refused.content[0])

    async def as_admin(session: ClientSession) -> CallToolResult:
        return await session.call_tool("audit_log", {"per_page": 5})

    log = data(session_with(env, as_admin, "ann"))
    newest = log["entries"][0]
    assert (newest["username"], newest["what"]) == ("bob", "mcp:search_patients")
    assert "zz" not in (newest["detail"] or "")
    assert log["returned"] <= 5
    assert entries(env.writer)[0].what == "mcp:audit_log"  # reading it is audited too
    env.close()
