"""Fuzz the dashboard's search and filter parameters over real HTTP: never a 500.

Hypothesis draws arbitrary text (control characters, quotes, SQL and HTML fragments, huge
numbers, unicode) for every query parameter the patients, quality, overview and audit pages
read, and for the patient detail path; the server must answer with a page, a redirect or a
404, never an error (the queries themselves run on both databases in
test_dashboard_queries.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from odbridge.dashboard.app import create_app
from odbridge.dashboard.server import DashboardServer
from odbridge.store.db import create_store_engine
from tests.browser.seed import ADMIN, ADMIN_PASSWORD, SECRET, csrf_from, seed_store
from tests.helpers import examples

pytestmark = pytest.mark.integration

EXAMPLES = 120
NASTY = st.sampled_from(
    [
        "",
        "'",
        '"',
        "' OR 1=1 --",
        "%",
        "_",
        "\\",
        "<script>alert(1)</script>",
        "9" * 40,
        "-1",
        "0",
        "1e309",
        "NaN",
        "\x00",
        "Ω≈ç√",
        "desc",
        "all",
        "phones",
        "main",
    ]
)
VALUE = st.one_of(NASTY, st.text(max_size=60), st.integers().map(str))
PATIENTS_PARAMS = ("q", "status", "clinic", "provider", "missing", "sort", "dir", "page", "per")
QUALITY_PARAMS = ("scope", "check", "page")


@pytest.fixture(scope="module")
def admin_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder: Path = tmp_path_factory.mktemp("dashboard-fuzz")
    engine: Engine = create_store_engine(f"sqlite:///{folder / 'store.sqlite'}")
    seed_store(engine, main=300, north=50)
    with (
        DashboardServer(create_app(engine, secret_key=SECRET, warm=False)) as server,
        httpx.Client(base_url=server.url, follow_redirects=False, timeout=30) as http,
    ):
        token = csrf_from(http.get("/login").text)
        form = {"username": ADMIN, "password": ADMIN_PASSWORD, "csrf_token": token, "next": ""}
        assert http.post("/login", data=form).status_code == 303
        yield http
    engine.dispose()


def _params(names: tuple[str, ...]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.sampled_from((*names, "practice")), VALUE, max_size=len(names))


def _ok(response: httpx.Response) -> None:
    assert response.status_code in (200, 303, 307, 400, 404), response.status_code
    assert "Traceback" not in response.text


@settings(max_examples=examples(EXAMPLES), suppress_health_check=list(HealthCheck))
@given(params=_params(PATIENTS_PARAMS))
def test_patients_search_and_filters_never_fail(
    admin_client: httpx.Client, params: dict[str, str]
) -> None:
    _ok(admin_client.get("/patients", params=params))


@settings(
    max_examples=examples(EXAMPLES) // 2, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(params=_params(QUALITY_PARAMS), page=st.sampled_from(("/quality", "/", "/audit")))
def test_other_pages_parameters_never_fail(
    admin_client: httpx.Client, params: dict[str, str], page: str
) -> None:
    _ok(admin_client.get(page, params=params))


@settings(
    max_examples=examples(EXAMPLES) // 2, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(
    pat_num=st.one_of(VALUE, st.integers(min_value=-(2**70), max_value=2**70).map(str)),
    practice=VALUE,
)
def test_patient_detail_path_never_fails(
    admin_client: httpx.Client, pat_num: str, practice: str
) -> None:
    _ok(admin_client.get(f"/patients/{quote(pat_num, safe='')}", params={"practice": practice}))
