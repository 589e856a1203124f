"""Every page is also JSON at its path + ``.json``: the same login, the same audit entry."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from odbridge.dashboard.app import create_app
from odbridge.dashboard.pages import PAGES
from odbridge.dashboard.server import DashboardServer
from odbridge.store.db import create_store_engine
from odbridge.store.schema import audit_log, patients, quarantine
from tests.browser.seed import (
    ADMIN,
    ADMIN_PASSWORD,
    SECRET,
    VIEWER,
    VIEWER_PASSWORD,
    csrf_from,
    seed_store,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, str]]:
    folder: Path = tmp_path_factory.mktemp("dashboard-json")
    store = create_store_engine(f"sqlite:///{folder / 'store.sqlite'}")
    seed_store(store, main=60, north=20)
    with DashboardServer(create_app(store, secret_key=SECRET, warm=False)) as server:
        yield store, server.url
    store.dispose()


@contextlib.contextmanager
def logged_in(url: str, username: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, follow_redirects=False, timeout=30) as http:
        token = csrf_from(http.get("/login").text)
        form = {"username": username, "password": password, "csrf_token": token}
        assert http.post("/login", data=form).status_code == 303
        yield http


def last_audit(engine: Engine) -> dict[str, object]:
    with engine.connect() as connection:
        query = select(audit_log).order_by(audit_log.c.id.desc()).limit(1)
        return dict(connection.execute(query).mappings().one())


def test_every_page_has_a_json_twin_behind_the_same_login(served: tuple[Engine, str]) -> None:
    _, url = served
    paths = [p.json_path.replace("{pat_num}", "5").replace("{name}", "recall") for p in PAGES]
    with httpx.Client(base_url=url, timeout=30) as anonymous:
        for path in paths:
            response = anonymous.get(path)
            assert response.status_code == 401, path
            assert response.json()["error"]
    with logged_in(url, ADMIN, ADMIN_PASSWORD) as http:
        for path in paths:
            response = http.get(path, params={"practice": "main"})
            assert response.status_code == 200, path
            assert response.headers["content-type"] == "application/json"
            assert isinstance(response.json(), dict)


def test_the_json_patients_list_is_the_pages_rows_and_is_audited(
    served: tuple[Engine, str],
) -> None:
    engine, url = served
    with logged_in(url, VIEWER, VIEWER_PASSWORD) as http:
        data = http.get("/patients.json", params={"practice": "main", "per": 25}).json()
        with engine.connect() as connection:
            stored = connection.execute(
                select(func.count())
                .select_from(patients)
                .where(patients.c.practice == "main", patients.c.missing_since.is_(None))
            ).scalar_one()
        assert data["total"] == stored
        assert len(data["rows"]) == 25
        assert {row["practice"] for row in data["rows"]} == {"main"}
        entry = last_audit(engine)
        assert (entry["username"], entry["what"], entry["rows"]) == (VIEWER, "patients", 25)

        detail = http.get("/patients/5.json", params={"practice": "main"}).json()
        assert detail["patient"]["pat_num"] == 5
        ssn = detail["patient"]["ssn"]
        assert ssn == "" or ssn.startswith("***-**-")  # never the full number
        assert last_audit(engine)["detail"] == "pat_num=5"


def test_json_errors_are_json(served: tuple[Engine, str]) -> None:
    _, url = served
    with logged_in(url, VIEWER, VIEWER_PASSWORD) as http:
        missing = http.get("/patients/999999.json", params={"practice": "main"})
        assert missing.status_code == 404
        assert missing.json()["status"] == 404
        bad = http.get("/patients.json", params={"page": "²"})
        assert bad.status_code == 400
        assert "page" in bad.json()["error"]
        assert http.get("/audit.json").status_code == 403


def test_quarantined_rows_are_counted_on_the_overview(tmp_path: Path) -> None:
    store = create_store_engine(f"sqlite:///{tmp_path / 'store.sqlite'}")
    seed_store(store, main=10, north=5)
    seen = datetime(2026, 11, 1, 8, 0)
    with store.begin() as connection:
        connection.execute(
            quarantine.insert(),
            [
                {
                    "practice": "main",
                    "resource": "patients",
                    "key": key,
                    "field": "Birthdate",
                    "problem": "not a date",
                    "first_seen_at": seen,
                    "last_seen_at": seen,
                    "attempts": 1,
                }
                for key in (901, 902)
            ],
        )
    try:
        with (
            DashboardServer(create_app(store, secret_key=SECRET, warm=False)) as server,
            logged_in(server.url, ADMIN, ADMIN_PASSWORD) as http,
        ):
            data = http.get("/index.json", params={"practice": "main"}).json()
            page = http.get("/", params={"practice": "main"}).text
        assert [f["quarantined"] for f in data["freshness"]] == [2]
        assert "2 quarantined" in page
    finally:
        store.dispose()
