"""The dashboard's defences over real HTTP: uvicorn on a loopback port, httpx as the client."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import Engine, func, select, text

from odbridge.dashboard.app import create_app
from odbridge.dashboard.server import DashboardServer
from odbridge.dashboard.throttle import LoginThrottle
from odbridge.store.db import create_store_engine
from odbridge.store.schema import audit_log, patients
from odbridge.store.users import add_user, set_disabled, set_password
from tests.browser.seed import (
    ADMIN,
    ADMIN_PASSWORD,
    EVIL_NAME,
    SECRET,
    VIEWER,
    VIEWER_PASSWORD,
    csrf_from,
    seed_store,
)
from tests.helpers import SettableClock

pytestmark = pytest.mark.integration

PAGES = (
    "/",
    "/?practice=main",
    "/patients",
    "/patients?practice=main&q=smith",
    "/patients/5?practice=main",
    "/quality",
    "/quality?practice=main&check=phones",
    "/audit",
    "/no-such-page",
)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    folder: Path = tmp_path_factory.mktemp("dashboard-security")
    store = create_store_engine(f"sqlite:///{folder / 'store.sqlite'}")
    seed_store(store, main=500, north=100)
    yield store
    store.dispose()


@pytest.fixture(scope="module")
def base_url(engine: Engine) -> Iterator[str]:
    with DashboardServer(create_app(engine, secret_key=SECRET)) as server:
        yield server.url


def client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, follow_redirects=False, timeout=30)


def log_in(http: httpx.Client, username: str, password: str, next_path: str = "") -> httpx.Response:
    token = csrf_from(http.get("/login").text)
    form = {"username": username, "password": password, "csrf_token": token, "next": next_path}
    return http.post("/login", data=form)


@pytest.fixture
def admin(base_url: str) -> Iterator[httpx.Client]:
    with client(base_url) as http:
        assert log_in(http, ADMIN, ADMIN_PASSWORD).status_code == 303
        yield http


@pytest.fixture
def viewer(base_url: str) -> Iterator[httpx.Client]:
    with client(base_url) as http:
        assert log_in(http, VIEWER, VIEWER_PASSWORD).status_code == 303
        yield http


def audit_rows(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as connection:
        query = select(audit_log).order_by(audit_log.c.id)
        return [dict(r) for r in connection.execute(query).mappings()]


def test_every_page_needs_a_login(base_url: str) -> None:
    with client(base_url) as http:
        for path in PAGES:
            response = http.get(path)
            assert response.status_code == 303, path
            expected = "/login" if path == "/" else f"/login?next={quote(path, safe='')}"
            assert response.headers["location"] == expected, path
        assert http.post("/logout").status_code == 303
        assert http.get("/static/dashboard.css").status_code == 200
        assert http.get("/static/vendor/plotly.min.js").status_code == 200
        assert http.get("/login").status_code == 200


def test_login_redirects_only_to_paths_of_this_site(base_url: str) -> None:
    for target, expected in [
        ("/patients?practice=main", "/patients?practice=main"),
        ("//evil.example/x", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/login", "/"),
    ]:
        with client(base_url) as http:
            response = log_in(http, VIEWER, VIEWER_PASSWORD, target)
            assert response.status_code == 303
            assert response.headers["location"] == expected, target


def test_forged_or_missing_csrf_tokens_get_403(base_url: str, admin: httpx.Client) -> None:
    with client(base_url) as http:
        http.get("/login")
        form = {"username": ADMIN, "password": ADMIN_PASSWORD}
        assert http.post("/login", data=form).status_code == 403
        forged = {**form, "csrf_token": "forged-token"}
        assert http.post("/login", data=forged).status_code == 403
    with client(base_url) as stranger:  # another browser's valid token is no good here
        stolen = csrf_from(stranger.get("/login").text)
    with client(base_url) as http:
        http.get("/login")
        assert http.post("/login", data={**form, "csrf_token": stolen}).status_code == 403
    assert admin.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert admin.get("/").status_code == 200  # still logged in
    page = admin.get("/patients")
    assert admin.post("/logout", data={"csrf_token": csrf_from(page.text)}).status_code == 303


def test_oversized_forms_are_refused(base_url: str) -> None:
    with client(base_url) as http:
        token = csrf_from(http.get("/login").text)
        form = {"username": "x" * 100_000, "password": "y", "csrf_token": token}
        assert http.post("/login", data=form).status_code == 413


def test_security_headers_on_every_kind_of_response(base_url: str, admin: httpx.Client) -> None:
    with client(base_url) as anonymous:
        login_page = anonymous.get("/login")
    responses = {
        "login": login_page,
        "overview": admin.get("/?practice=main"),
        "patients": admin.get("/patients?practice=main"),
        "patient": admin.get("/patients/5?practice=main"),
        "not found": admin.get("/patients/424242?practice=main"),
        "static": admin.get("/static/dashboard.css"),
    }
    for name, response in responses.items():
        headers = response.headers
        csp = headers["content-security-policy"]
        directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
        assert directives["default-src"] == "'self'", name
        assert directives["script-src"] == "'self'", name
        assert directives["style-src"] == "'self'", name
        assert directives["frame-ancestors"] == "'none'", name
        assert "unsafe" not in csp, name
        assert headers["x-content-type-options"] == "nosniff", name
        assert headers["x-frame-options"] == "DENY", name
        assert headers["referrer-policy"] == "no-referrer", name
        assert "camera=()" in headers["permissions-policy"], name
        assert "server" not in headers, name
    for name in ("login", "overview", "patients", "patient", "not found"):
        assert responses[name].headers["cache-control"] == "no-store", name
    assert responses["not found"].status_code == 404
    cookie = responses["patients"].headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert "Path=/" in cookie


def test_pages_carry_no_inline_script_or_style(admin: httpx.Client) -> None:
    for path in ("/?practice=main", "/patients?practice=main", "/quality", "/audit", "/login"):
        html = admin.get(path).text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'src="/static/' in tag or 'type="application/json"' in tag, (path, tag)
        assert not re.search(r"\son[a-z]+\s*=", html), path
        assert not re.search(r"\sstyle\s*=", html), path
        assert "<style" not in html, path


def test_sql_and_html_in_the_search_box_do_nothing(viewer: httpx.Client, engine: Engine) -> None:
    with engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(patients)).scalar_one()
    for payload in (
        "'; DROP TABLE patients; --",
        '" OR 1=1 --',
        "1; DELETE FROM users",
        "<script>alert('x')</script>",
        "<img src=x onerror=alert(1)>",
        "%' OR '1'='1",
    ):
        response = viewer.get("/patients", params={"practice": "main", "q": payload})
        assert response.status_code == 200, payload
        assert "<script>alert" not in response.text
        assert "<img src=x" not in response.text
        assert 'id="result-count"' in response.text
    shown = viewer.get("/patients", params={"practice": "main", "q": "<script"}).text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in shown  # the odd patient, escaped
    assert EVIL_NAME not in shown
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(patients)).scalar_one() == before
        assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() >= 2


def test_login_throttling_locks_after_five_failures(engine: Engine) -> None:
    add_user(engine, "trudy", "trudy-long-password", "viewer")
    # the throttle's clock stands still: how long the password checks take on a busy
    # machine must not shorten the lock the answer reports
    throttle = LoginThrottle(clock=SettableClock(1000.0))
    app = create_app(engine, secret_key=SECRET, warm=False, throttle=throttle)
    with DashboardServer(app) as server:
        with client(server.url) as http:
            for _ in range(5):
                assert log_in(http, "trudy", "wrong password").status_code == 401
            locked = log_in(http, "trudy", "trudy-long-password")
            assert locked.status_code == 429
            assert int(locked.headers["retry-after"]) == 31  # 30 s, rounded up
            assert "Too many failed attempts" in locked.text
        with client(server.url) as other:  # another user from the same address still can
            assert log_in(other, VIEWER, VIEWER_PASSWORD).status_code == 303
    entries = [r for r in audit_rows(engine) if r["username"] == "trudy"]
    assert [r["action"] for r in entries][-6:] == ["login_failed"] * 6
    assert entries[-1]["detail"] == "throttled: 1 attempt refused while locked"


def test_viewers_cannot_see_the_audit_log(viewer: httpx.Client, admin: httpx.Client) -> None:
    response = viewer.get("/audit")
    assert response.status_code == 403
    assert "Audit log" not in viewer.get("/").text
    assert admin.get("/audit").status_code == 200
    assert 'href="/audit"' in admin.get("/").text


def test_the_audit_log_records_views_with_rows_and_logins(
    base_url: str, engine: Engine, admin: httpx.Client
) -> None:
    start = len(audit_rows(engine))
    with client(base_url) as http:
        assert log_in(http, VIEWER, "wrong password").status_code == 401
        assert log_in(http, "nobody-here", "correct horse").status_code == 401
        assert log_in(http, VIEWER, VIEWER_PASSWORD).status_code == 303
        pages = [
            http.get("/patients", params={"practice": "main", "q": "SecretSurname", "per": "25"}),
            http.get("/patients", params={"practice": "main", "status": "Patient", "per": "25"}),
            http.get("/patients/5", params={"practice": "main"}),
            http.get("/quality", params={"practice": "main", "check": "no_phone"}),
            http.get("/", params={"practice": "main"}),
        ]
    shown = [
        len(re.findall(r"<tr[ >]", page.text.split("<tbody>", 1)[1]))
        if "<tbody>" in page.text
        else 0
        for page in pages
    ]
    entries = audit_rows(engine)[start:]
    kinds = [(e["username"], e["action"], e["what"]) for e in entries]
    assert kinds[:3] == [
        (VIEWER, "login_failed", "dashboard"),
        ("(unknown)", "login_failed", "dashboard"),
        (VIEWER, "login", "dashboard"),
    ]
    views = entries[3:]
    assert [e["what"] for e in views] == ["patients", "patients", "patient", "quality", "overview"]
    assert views[0]["rows"] == 0
    assert views[0]["detail"] == "search(name) sort=name page=1"
    assert views[1]["rows"] == 25 == shown[1]
    assert "status=Patient" in str(views[1]["detail"])
    assert views[2]["detail"] == "pat_num=5"
    family = set(re.findall(r'href="/patients/(\d+)', pages[2].text))  # guarantor linked twice
    assert views[2]["rows"] == 1 + len(family)  # the patient + the family
    assert views[3]["rows"] == shown[3] > 0
    assert views[3]["detail"] == "check=no_phone scope=active page=1"
    assert views[4]["rows"] == pages[4].text.count("turns ")  # the birthdays listed
    assert all(e["practice"] == "main" for e in views)
    everything = repr(audit_rows(engine))
    for secret in ("SecretSurname", VIEWER_PASSWORD, "wrong password", "correct horse"):
        assert secret not in everything


def test_sessions_end_when_idle_at_logout_and_on_password_change(engine: Engine) -> None:
    add_user(engine, "sam", "sam-long-password-1", "viewer")
    now = [time.time()]
    app = create_app(
        engine,
        secret_key=SECRET,
        idle_timeout=timedelta(minutes=30),
        warm=False,
        clock=lambda: now[0],
    )
    with DashboardServer(app) as server, client(server.url) as http:
        assert log_in(http, "sam", "sam-long-password-1").status_code == 303
        now[0] += 29 * 60
        assert http.get("/patients?practice=main").status_code == 200  # each visit renews it
        now[0] += 29 * 60
        assert http.get("/patients?practice=main").status_code == 200
        now[0] += 31 * 60
        assert http.get("/patients?practice=main").status_code == 303  # idle too long
    with DashboardServer(create_app(engine, secret_key=SECRET, warm=False)) as server:
        with client(server.url) as http:
            assert log_in(http, "sam", "sam-long-password-1").status_code == 303
            saved = dict(http.cookies)
            page = http.get("/patients?practice=main")
            assert (
                http.post("/logout", data={"csrf_token": csrf_from(page.text)}).status_code == 303
            )
        with client(server.url) as replay:  # the old cookie after logout
            replay.cookies.update(saved)
            assert replay.get("/").status_code == 303
        with client(server.url) as http:
            assert log_in(http, "sam", "sam-long-password-1").status_code == 303
            assert http.get("/").status_code == 200
            set_password(engine, "sam", "sam-long-password-2")
            assert http.get("/").status_code == 303
            assert log_in(http, "sam", "sam-long-password-2").status_code == 303
            set_disabled(engine, "sam")
            assert http.get("/").status_code == 303
